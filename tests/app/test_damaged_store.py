"""A damaged saved-runs database: the page says what is wrong and that nothing was written."""

from __future__ import annotations

import pytest

from tests.app.conftest import errors, make_app, no_crash


@pytest.mark.usefixtures("studio_env")
@pytest.mark.parametrize("page", ["app_pages/runs.py", "app.py"])
def test_damaged_database_is_named_not_a_generic_error(tmp_path, monkeypatch, page):
    data = tmp_path / "data"
    data.mkdir()
    garbage = b"this is not a database\n" * 300
    (data / "runs.sqlite3").write_bytes(garbage)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(data))
    at = make_app(page)
    if page == "app.py":
        at.query_params["run"] = "A" * 32  # opening a shared run reads the store
    at.run()
    no_crash(at)  # no "Something went wrong" box, no traceback
    msgs = [e for e in errors(at) if "damaged" in e]
    assert msgs, errors(at)
    assert "nothing was saved or changed" in msgs[0] and "runs.sqlite3" in msgs[0]
    assert (data / "runs.sqlite3").read_bytes() == garbage
