"""Sign-in settings fail closed, and signed-in owners are issuer + sub (issue 12 items 5, 6)."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest

from lib.auth_config import (
    AuthConfigError,
    auth_enabled,
    legacy_owner,
    owner_from_claims,
    user_label,
)

REPO = Path(__file__).resolve().parents[1]
SECRET = secrets.token_urlsafe(48)
GOOD = (
    "[auth]\n"
    'redirect_uri = "http://127.0.0.1:8501/oauth2callback"\n'
    f'cookie_secret = "{SECRET}"\n'
    'client_id = "studio"\n'
    'client_secret = "s3cret-value"\n'
    'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n'
)


def _write(tmp_path: Path, text: str | bytes, name: str = "secrets.toml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_no_secrets_or_no_auth_section_means_sign_in_off(tmp_path):
    assert auth_enabled([tmp_path / "missing.toml"]) is False
    assert auth_enabled([_write(tmp_path, '[other]\nkey = "v"\n')]) is False


def test_a_complete_auth_section_turns_sign_in_on(tmp_path):
    assert auth_enabled([tmp_path / "missing.toml", _write(tmp_path, GOOD)]) is True


def test_named_providers_are_checked_too(tmp_path):
    text = (
        "[auth]\n"
        'redirect_uri = "https://studio.example.net/oauth2callback"\n'
        f'cookie_secret = "{SECRET}"\n'
        "[auth.corp]\n"
        'client_id = "x"\nclient_secret = "y"\n'
        'server_metadata_url = "https://id.example.net/.well-known/openid-configuration"\n'
    )
    assert auth_enabled([_write(tmp_path, text)]) is True
    broken = text.replace('client_secret = "y"\n', "")
    with pytest.raises(AuthConfigError, match=r"\[auth.corp\] is missing client_secret"):
        auth_enabled([_write(tmp_path, broken)])


@pytest.mark.parametrize("text, why", [
    ("[auth\nredirect_uri = 1\n", "is not valid TOML"),
    (b"[auth]\ncookie_secret = \"\xff\xfe\"\n", "is not UTF-8"),
    ('auth = "on"\n', "not a [auth] section"),
])
def test_an_unreadable_secrets_file_stops_the_server(tmp_path, text, why):
    path = _write(tmp_path, text)
    with pytest.raises(AuthConfigError) as err:
        auth_enabled([path])
    msg = str(err.value)
    assert why in msg and str(path) in msg and "restart the server" in msg


@pytest.mark.parametrize("drop, why", [
    ("redirect_uri", "no redirect_uri"),
    ("cookie_secret", "no cookie_secret"),
    ("client_id", "missing client_id"),
    ("server_metadata_url", "missing server_metadata_url"),
])
def test_an_incomplete_auth_section_stops_the_server(tmp_path, drop, why):
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith(drop))
    with pytest.raises(AuthConfigError, match=why):
        auth_enabled([_write(tmp_path, text)])


def test_the_example_file_as_is_stops_the_server(tmp_path):
    path = tmp_path / "secrets.toml"
    shutil.copyfile(REPO / ".streamlit" / "secrets.toml.example", path)
    with pytest.raises(AuthConfigError, match="cookie_secret is still the placeholder"):
        auth_enabled([path])


def test_placeholder_provider_values_and_short_secrets_are_refused(tmp_path):
    with pytest.raises(AuthConfigError, match="client_id is still a placeholder"):
        auth_enabled([_write(tmp_path, GOOD.replace('"studio"', '"REPLACE-ME"'))])
    with pytest.raises(AuthConfigError, match="at least 32"):
        auth_enabled([_write(tmp_path, GOOD.replace(SECRET, "short"))])
    with pytest.raises(AuthConfigError, match="redirect_uri"):
        auth_enabled([_write(tmp_path, GOOD.replace("http://127.0.0.1:8501", "127.0.0.1"))])


def test_a_later_file_completes_an_earlier_one(tmp_path):
    first = _write(tmp_path, "\n".join(GOOD.splitlines()[:2]) + "\n", "a.toml")
    with pytest.raises(AuthConfigError):
        auth_enabled([first])
    second = _write(tmp_path, "[auth]\n" + "\n".join(GOOD.splitlines()[2:]) + "\n", "b.toml")
    assert auth_enabled([first, second]) is True


# ---- identities ----------------------------------------------------------------------------
ISS = "https://id.example.net"


def test_owner_is_issuer_and_case_sensitive_sub():
    a = owner_from_claims({"iss": ISS, "sub": "AbC-1", "email": "x@example.net"})
    assert a is not None and a.startswith("oidc:")
    assert owner_from_claims({"iss": ISS, "sub": "abc-1", "email": "x@example.net"}) != a
    assert owner_from_claims({"iss": ISS + "/other", "sub": "AbC-1"}) != a
    # The e-mail is not part of the key: changing it keeps the owner.
    assert owner_from_claims({"iss": ISS, "sub": "AbC-1", "email": "new@example.net"}) == a
    assert owner_from_claims({"iss": ISS, "sub": "AbC-1"}) == a


@pytest.mark.parametrize("claims", [{}, {"sub": "a"}, {"iss": ISS}, {"iss": ISS, "sub": ""},
                                    {"iss": ISS, "sub": 5}, {"email": "a@example.net"}])
def test_no_owner_without_issuer_and_sub(claims):
    assert owner_from_claims(claims) is None


def test_legacy_rows_are_handed_over_only_for_a_verified_email():
    base = {"iss": ISS, "sub": "s", "email": "Ada@Example.org"}
    assert legacy_owner({**base, "email_verified": True}) == "user:ada@example.org"
    assert legacy_owner({**base, "email_verified": "true"}) == "user:ada@example.org"
    for unverified in ({**base}, {**base, "email_verified": False},
                       {**base, "email_verified": "false"}, {**base, "email_verified": 1}):
        assert legacy_owner(unverified) is None
    assert legacy_owner({"sub": "s", "email_verified": True}) is None


def test_user_label_is_the_email_or_name():
    assert user_label({"email": "a@example.net", "name": "A"}) == "a@example.net"
    assert user_label({"name": "Ann"}) == "Ann"
    assert user_label({}) == "signed in"
