"""The SQLite store of saved runs."""

from __future__ import annotations

import json
import re
import sqlite3
import threading

import pytest

from lib.errors import InputError, LimitError, StudioError
from lib.runs import (
    RUN_ID_PATTERN,
    SCHEMA_VERSION,
    RunStore,
    RunSummary,
    default_store,
)

RECORD = {
    "model": "tiny",
    "prompt": "Say <script>x</script> \u202e\x00 😀",
    "scores": [0.5, -1.25, 3.0],
    "nested": {"a": [1, 2, {"b": None}]},
}


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs.sqlite3")


def test_save_and_get_roundtrip_exact(store):
    run_id = store.save(RECORD, owner="alice", title="  My\nrun  ", kind="debug")
    assert re.fullmatch(RUN_ID_PATTERN, run_id) and len(run_id) == 32
    run = store.get(run_id)
    assert run is not None
    assert run.record == RECORD  # every character kept, NUL and bidi included
    assert (run.id, run.kind, run.title, run.owner) == (run_id, "debug", "My run", "alice")
    assert run.created_at[:4].isdigit() and "T" in run.created_at


def test_lone_surrogate_kept_exactly(store):
    record = {"prompt": "bad \ud800 half"}
    run = store.get(store.save(record, owner="a", title="t"))
    assert run.record == record


def test_ids_are_random_and_unique(store):
    ids = {store.save({"i": i}, owner="a", title="t") for i in range(20)}
    assert len(ids) == 20


@pytest.mark.parametrize(
    "bad", ["", "short", "x" * 65, "a" * 21, "' OR 1=1 --aaaaaaaaaaaaaaa", "../../etc/passwd" * 2,
            None, 123, "a" * 10_000],
)
def test_malformed_ids_never_reach_sql(store, bad, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("SQL was touched")

    monkeypatch.setattr("lib.runs.sqlite3.connect", boom)  # the store opens every connection so
    assert store.get(bad) is None
    assert store.delete(bad, owner="a") is False
    assert store.rename(bad, owner="a", title="x") is False


def test_unknown_well_formed_id(store):
    assert store.get("A" * 32) is None


def test_list_for_owner_newest_first_and_private(store):
    a1 = store.save({"model": "tiny"}, owner="alice", title="first")
    b1 = store.save({"model": "embedded"}, owner="bob", title="bob's")
    a2 = store.save({"model": {"name": "Gemma 3 270M"}}, owner="alice", title="second",
                    kind="compare")
    runs = store.list_for_owner("alice")
    assert [r.id for r in runs] == [a2, a1]
    assert runs[0] == RunSummary(a2, "compare", "second", runs[0].created_at, "Gemma 3 270M")
    assert runs[1].model == "tiny"
    assert [r.id for r in store.list_for_owner("bob")] == [b1]
    assert store.list_for_owner("carol") == [] and store.list_for_owner("") == []


def test_rename_and_delete_only_by_owner(store):
    run_id = store.save(RECORD, owner="alice", title="old")
    assert store.rename(run_id, owner="bob", title="hacked") is False
    assert store.delete(run_id, owner="bob") is False
    assert store.get(run_id).title == "old"
    assert store.rename(run_id, owner="alice", title="new") is True
    assert store.get(run_id).title == "new"
    assert store.get(run_id).record == RECORD  # records never change
    assert store.delete(run_id, owner="alice") is True
    assert store.get(run_id) is None
    assert store.delete(run_id, owner="alice") is False


def test_run_size_limit(tmp_path):
    store = RunStore(tmp_path / "r.db", max_run_bytes=1000)
    store.save({"x": "a" * 900}, owner="a", title="fits")
    with pytest.raises(LimitError) as err:
        store.save({"x": "a" * 1000}, owner="a", title="too big")
    assert err.value.field == "run" and "1,000" in str(err.value)


def test_full_store_refuses_and_never_evicts(tmp_path):
    store = RunStore(tmp_path / "r.db", max_total_bytes=300)
    # Distinct records: an identical one would be the same run (see the dedupe tests).
    kept = [store.save({"x": "a" * 80, "i": i}, owner="a", title=str(i)) for i in range(3)]
    with pytest.raises(LimitError) as err:
        store.save({"x": "a" * 80, "i": 3}, owner="a", title="one more")
    assert "full" in str(err.value) and "Delete" in str(err.value)
    assert all(store.get(i) is not None for i in kept)
    assert store.usage()[0] == 3
    store.delete(kept[0], owner="a")
    store.save({"x": "a" * 80, "i": 4}, owner="a", title="after delete")


def test_bad_records_and_fields(store):
    with pytest.raises(InputError):
        store.save({"x": float("nan")}, owner="a", title="t")
    with pytest.raises(InputError):
        store.save({"x": object()}, owner="a", title="t")
    with pytest.raises(InputError) as err:
        store.save({}, owner="a", title="t" * 500)
    assert err.value.field == "title"
    with pytest.raises(InputError):
        store.save({}, owner="", title="t")
    with pytest.raises(InputError):
        store.save({}, owner="a", title="t", kind="x'; DROP TABLE runs;--")
    assert store.usage() == (0, 0)


def test_hostile_text_is_data_not_sql(store):
    evil = "'); DROP TABLE runs; --"
    run_id = store.save({"p": evil}, owner=evil, title=evil)
    assert store.get(run_id).title == evil
    assert [r.id for r in store.list_for_owner(evil)] == [run_id]


def test_wal_and_schema_version(store):
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 1
    finally:
        conn.close()
    # Re-opening an existing store migrates nothing and keeps data.
    run_id = store.save({"a": 1}, owner="a", title="t")
    again = RunStore(store.path)
    assert again.get(run_id).record == {"a": 1}
    assert again.schema_version() == SCHEMA_VERSION


def test_newer_schema_refused(tmp_path):
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StudioError, match="newer version"):
        RunStore(path)


def test_record_stored_as_json_text(store):
    run_id = store.save({"b": 1, "a": "é"}, owner="a", title="t")
    conn = sqlite3.connect(store.path)
    try:
        raw = conn.execute("SELECT record, size FROM runs WHERE id = ?", (run_id,)).fetchone()
    finally:
        conn.close()
    assert json.loads(raw[0]) == {"a": "é", "b": 1}
    assert raw[1] == len(raw[0].encode("utf-8"))


def test_concurrent_saves_from_threads(store):
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            for i in range(10):
                run_id = store.save({"n": n, "i": i}, owner=f"user{n}", title=f"{n}-{i}")
                with lock:
                    ids.append(run_id)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(ids)) == 40
    for n in range(4):
        runs = store.list_for_owner(f"user{n}")
        assert sorted(store.get(r.id).record["i"] for r in runs) == list(range(10))


def test_default_store_uses_studio_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    store = default_store()
    assert store.path == tmp_path / "data" / "runs.sqlite3"
    assert store.path.exists()


def test_data_dir_defaults(tmp_path, monkeypatch):
    from lib.paths import cache_dir, data_dir

    monkeypatch.delenv("STUDIO_DATA_DIR", raising=False)
    monkeypatch.delenv("STUDIO_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_dir() == tmp_path / ".cache" / "salience-studio"
    assert cache_dir() == tmp_path / ".cache" / "salience-studio" / "models"
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "models"))
    assert cache_dir() == tmp_path / "models"


# ---- upgrades: a database written by the first released schema still opens -------------------
FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"
V1_DB = FIXTURES / "runs-schema-v1.sqlite3"
V1_EXPECTED = FIXTURES / "runs-schema-v1.expected.json"


def _v1_copy(tmp_path):
    import shutil

    path = tmp_path / "runs.sqlite3"
    shutil.copyfile(V1_DB, path)  # never open the fixture in place: opening migrates it
    return path


def test_v1_fixture_is_really_schema_v1(tmp_path):
    conn = sqlite3.connect(_v1_copy(tmp_path))
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        cols = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
    finally:
        conn.close()
    assert cols == ["id", "kind", "title", "owner", "created_at", "model", "size", "record"]


@pytest.mark.parametrize("upto", range(1, SCHEMA_VERSION + 1))
def test_v1_database_reads_after_every_migration(tmp_path, monkeypatch, upto):
    """Open the v1 file with the migrations up to `upto` (each later release), read every run."""
    import lib.runs as runs_mod

    monkeypatch.setattr(runs_mod, "MIGRATIONS", runs_mod.MIGRATIONS[:upto])
    monkeypatch.setattr(runs_mod, "SCHEMA_VERSION", upto)
    expected = json.loads(V1_EXPECTED.read_text())
    store = RunStore(_v1_copy(tmp_path))
    assert store.schema_version() == upto
    for row in expected:
        run = store.get(row["id"])
        assert run is not None, row["id"]
        assert (run.kind, run.title, run.owner, run.created_at) == (
            row["kind"], row["title"], row["owner"], row["created_at"])
        assert run.record == row["record"]  # exact characters, NUL and bidi included
    by_owner: dict[str, list[str]] = {}
    for row in sorted(expected, key=lambda r: r["created_at"], reverse=True):
        by_owner.setdefault(row["owner"], []).append(row["id"])
    for owner, ids in by_owner.items():
        assert [r.id for r in store.list_for_owner(owner)] == ids
    assert store.usage() == (len(expected), sum(
        len(json.dumps(r["record"], ensure_ascii=False, sort_keys=True).encode()) for r in expected))
    # The fully upgraded file takes new saves, renames and deletes like a new one (this code's
    # save() needs the latest schema; the reads above must work after every step).
    if upto < SCHEMA_VERSION:
        return
    new_id = store.save({"after": "upgrade"}, owner="anon:fixtureA", title="new")
    assert store.list_for_owner("anon:fixtureA")[0].id == new_id
    assert store.rename(expected[0]["id"], owner=expected[0]["owner"], title="renamed")
    assert store.delete(expected[-1]["id"], owner=expected[-1]["owner"])
    assert store.get(expected[-1]["id"]) is None


def test_v1_records_still_restore_as_views(tmp_path):
    """The app's record format of the first release still rebuilds Debug and Compare views."""
    from lib.view import view_from_record

    store = RunStore(_v1_copy(tmp_path))
    debug = store.get("v1DebugRunFixture0000000000000001")
    view = view_from_record(debug.record, run_id=debug.id)
    assert view.seq.text == view.seq.input_text + view.seq.target
    assert len(view.seq.tokens) == len(debug.record["sequence"]["tokens"])
    assert view.seq.tokens[0].special  # <bos> (the tiny vocabulary spells it <s>)
    assert all(len(s) == len(view.seq.tokens) for s in view.scores.values()) and view.scores
    assert len(view.probs) == len(view.seq.tokens) - view.seq.prompt_length
    compare = store.get("v1CompareRunFixture00000000000002")
    views = [view_from_record(r, run_id=compare.id) for r in compare.record["views"]]
    assert [v.prompt for v in views] == [r["prompt"] for r in compare.record["views"]]


# ---- stated limits come from the server's environment ----------------------------------------
def test_default_store_limits_from_env(tmp_path, monkeypatch):
    from lib.runs import DEFAULT_MAX_RUN_BYTES, DEFAULT_MAX_TOTAL_BYTES

    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("STUDIO_MAX_RUN_BYTES", raising=False)
    monkeypatch.delenv("STUDIO_MAX_STORE_BYTES", raising=False)
    store = default_store()
    assert (store.max_run_bytes, store.max_total_bytes) == (
        DEFAULT_MAX_RUN_BYTES, DEFAULT_MAX_TOTAL_BYTES)
    monkeypatch.setenv("STUDIO_MAX_RUN_BYTES", "100")
    monkeypatch.setenv("STUDIO_MAX_STORE_BYTES", "1_000")
    store = default_store()
    assert (store.max_run_bytes, store.max_total_bytes) == (100, 1000)
    with pytest.raises(LimitError):
        store.save({"x": "a" * 100}, owner="a", title="t")


@pytest.mark.parametrize("bad", ["lots", "-5", "0", "1e9"])
def test_default_store_bad_limit_names_the_setting(tmp_path, monkeypatch, bad):
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STUDIO_MAX_STORE_BYTES", bad)
    with pytest.raises(StudioError, match="STUDIO_MAX_STORE_BYTES"):
        default_store()


def test_full_store_message_and_refusal_is_atomic(tmp_path):
    """A save that would pass the total is refused whole: nothing half-written, usage unchanged."""
    store = RunStore(tmp_path / "r.db", max_total_bytes=250)
    store.save({"x": "a" * 100}, owner="a", title="1")
    before = store.usage()
    with pytest.raises(LimitError) as err:
        store.save({"x": "b" * 200}, owner="a", title="2")
    msg = str(err.value)
    assert "full" in msg and "250" in msg and "Delete some of your saved runs" in msg
    assert store.usage() == before
    assert [r.title for r in store.list_for_owner("a")] == ["1"]


def test_reopening_current_store_takes_no_write_lock(store):
    """Pages open the store on every run; an idle reader must not block behind a writer."""
    writer = sqlite3.connect(store.path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # someone is mid-save
        again = RunStore(store.path)  # would wait BUSY_TIMEOUT_S and fail if it locked
        assert again.list_for_owner("nobody") == []
        writer.execute("ROLLBACK")
    finally:
        writer.close()


def test_new_store_is_private_to_the_server_user(tmp_path):
    import os
    import stat

    store = RunStore(tmp_path / "fresh" / "runs.sqlite3")
    store.save(RECORD, owner="alice", title="t")
    assert stat.S_IMODE(os.stat(tmp_path / "fresh").st_mode) == 0o700
    for name in ("runs.sqlite3", "runs.sqlite3-wal", "runs.sqlite3-shm"):
        path = tmp_path / "fresh" / name
        if path.exists():
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, name


def test_existing_world_readable_database_is_narrowed(tmp_path):
    import os
    import stat

    path = tmp_path / "runs.sqlite3"
    RunStore(path).save(RECORD, owner="alice", title="t")
    os.chmod(path, 0o644)
    RunStore(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("garbage", [b"this is not a database\n" * 200, b"SQLite format 3\x00" + b"\xff" * 4000])
def test_damaged_database_says_so_and_writes_nothing(tmp_path, garbage):
    from lib.runs import DamagedStoreError

    path = tmp_path / "runs.sqlite3"
    path.write_bytes(garbage)
    with pytest.raises(DamagedStoreError) as err:
        RunStore(path).save(RECORD, owner="alice", title="t")
    msg = str(err.value)
    assert "damaged" in msg and "nothing was saved or changed" in msg and "runs.sqlite3" in msg
    assert isinstance(err.value, StudioError)
    assert path.read_bytes() == garbage


def test_damaged_pages_after_opening_are_reported_too(tmp_path):
    from lib.runs import DamagedStoreError

    path = tmp_path / "runs.sqlite3"
    store = RunStore(path)
    for n in range(30):
        store.save({"n": n, "pad": "x" * 3000}, owner="alice", title=f"t{n}")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    for off in range(4096 * 2, len(data), 4096):  # smash every page's header after the first two
        data[off:off + 16] = b"\xee" * 16
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedStoreError, match="nothing was saved or changed"):
        store.list_for_owner("alice")


# ---- one browser cannot fill the store (issue 12 item 4) --------------------------------------
class FakeClock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_same_owner_same_record_gets_the_same_id_back(store):
    first = store.save(RECORD, owner="alice", title="one")
    again = store.save(dict(RECORD), owner="alice", title="two")
    assert again == first and store.usage()[0] == 1
    assert store.save(RECORD, owner="alice", title="x", kind="compare") != first
    assert store.save({**RECORD, "extra": 1}, owner="alice", title="x") != first


def test_audit_date_alone_does_not_make_a_new_run(store):
    a = {**RECORD, "audit": {"app_version": "1", "date": "2026-01-01T00:00:00+00:00"}}
    b = {**RECORD, "audit": {"app_version": "1", "date": "2026-01-01T00:00:09+00:00"}}
    assert store.save(a, owner="alice", title="t") == store.save(b, owner="alice", title="t")
    c = {**RECORD, "audit": {"app_version": "2", "date": "2026-01-01T00:00:09+00:00"}}
    assert store.save(c, owner="alice", title="t") != store.save(a, owner="alice", title="t")


def test_identical_records_of_different_owners_get_unrelated_ids(tmp_path):
    store = RunStore(tmp_path / "r.db")
    a = store.save(RECORD, owner="alice", title="t")
    b = store.save(RECORD, owner="bob", title="t")
    other = RunStore(tmp_path / "other.db").save(RECORD, owner="alice", title="t")
    assert len({a, b, other}) == 3  # random ids: content (or owner) never gives an id away
    assert store.get(b).owner == "bob"


def test_rate_limit_per_owner_is_kept_in_the_store(tmp_path):
    clock = FakeClock()
    path = tmp_path / "r.db"
    store = RunStore(path, saves_per_minute=3, clock=clock)
    for i in range(3):
        store.save({"i": i}, owner="alice", title="t")
    assert store.save({"i": 0}, owner="alice", title="t")  # a re-share is not a new save
    with pytest.raises(LimitError) as err:
        store.save({"i": 3}, owner="alice", title="t")
    assert err.value.field == "run" and "3 saves a minute" in str(err.value)
    assert "Wait a minute" in str(err.value)
    store.save({"i": 3}, owner="bob", title="t")  # other owners are not held back
    # A second process (a fresh RunStore on the same file) sees the same count.
    with pytest.raises(LimitError, match="saves a minute"):
        RunStore(path, saves_per_minute=3, clock=clock).save({"i": 4}, owner="alice", title="t")
    clock.t += 61
    store.save({"i": 4}, owner="alice", title="t")


def test_owner_run_count_quota(tmp_path):
    store = RunStore(tmp_path / "r.db", max_owner_runs=2)
    kept = [store.save({"i": i}, owner="alice", title="t") for i in range(2)]
    with pytest.raises(LimitError) as err:
        store.save({"i": 2}, owner="alice", title="t")
    assert "2 saved runs" in str(err.value) and "limit is 2 runs each" in str(err.value)
    store.save({"i": 2}, owner="bob", title="t")
    store.delete(kept[0], owner="alice")
    store.save({"i": 2}, owner="alice", title="t")


def test_owner_bytes_quota(tmp_path):
    store = RunStore(tmp_path / "r.db", max_owner_bytes=250)
    store.save({"x": "a" * 100}, owner="alice", title="t")
    store.save({"x": "b" * 100}, owner="alice", title="t")
    with pytest.raises(LimitError) as err:
        store.save({"x": "c" * 100}, owner="alice", title="t")
    assert "limit is 250 bytes each" in str(err.value) and "Delete" in str(err.value)
    store.save({"x": "c" * 100}, owner="bob", title="t")


def test_v1_runs_are_found_again_after_the_migration(tmp_path):
    expected = json.loads(V1_EXPECTED.read_text())
    store = RunStore(_v1_copy(tmp_path))
    assert store.schema_version() == SCHEMA_VERSION
    row = expected[0]
    assert store.save(row["record"], owner=row["owner"], title="again",
                      kind=row["kind"]) == row["id"]
    assert store.usage()[0] == len(expected)


def test_owner_limits_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STUDIO_MAX_OWNER_RUNS", "7")
    monkeypatch.setenv("STUDIO_MAX_OWNER_BYTES", "1_000")
    monkeypatch.setenv("STUDIO_SAVES_PER_MINUTE", "5")
    store = default_store()
    assert (store.max_owner_runs, store.max_owner_bytes, store.saves_per_minute) == (7, 1000, 5)
    monkeypatch.setenv("STUDIO_SAVES_PER_MINUTE", "0")
    with pytest.raises(StudioError, match="STUDIO_SAVES_PER_MINUTE"):
        default_store()


def test_reassign_owner_moves_only_that_owners_runs(store):
    mine = [store.save({"i": i}, owner="user:ada@example.org", title="t") for i in range(2)]
    theirs = store.save({"i": 9}, owner="user:bob@example.org", title="t")
    assert store.reassign_owner("user:ada@example.org", "oidc:" + "a" * 40) == 2
    assert all(store.get(r).owner == "oidc:" + "a" * 40 for r in mine)
    assert store.get(theirs).owner == "user:bob@example.org"
    assert store.reassign_owner("user:ada@example.org", "oidc:" + "a" * 40) == 0
    with pytest.raises(InputError):
        store.reassign_owner("", "oidc:x")
