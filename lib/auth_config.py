"""Sign-in settings and signed-in identities, checked without Streamlit (so they are testable).

Fails closed: a secrets file that exists but cannot be read, an `[auth]` section that is
incomplete, or values still holding the placeholders of `.streamlit/secrets.toml.example` raise
`AuthConfigError`; the app then stops every page with the message (lib/ui/signin.py) instead
of quietly serving everyone without sign-in.

Owners of signed-in users are keyed by the provider's issuer and `sub` claim (stable and
unique per provider, case-sensitive), never by the e-mail (which a provider may not have
verified, and which can be reassigned); the e-mail is only a label. Runs saved by earlier
releases under "user:<e-mail>" are handed over to the new key when the user signs in with an
e-mail the provider marks verified (`legacy_owner`); see docs in `RunStore.reassign_owner`.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from lib.errors import StudioError

PLACEHOLDER_MARKERS = ("REPLACE-WITH", "REPLACE-ME")
MIN_COOKIE_SECRET_CHARS = 32
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
_FIX = ("Fix it (see .streamlit/secrets.toml.example and docs/security.md) and restart the "
        "server; until then no page is served.")


class AuthConfigError(StudioError):
    """The server's sign-in settings are unusable: no page may be served."""


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        why = f"is not valid TOML ({exc})"
    except UnicodeDecodeError:
        why = "is not UTF-8 text"
    except OSError as exc:
        why = f"cannot be read ({exc.strerror or type(exc).__name__})"
    raise AuthConfigError(
        f"The secrets file {path} {why}, so the server cannot tell whether sign-in is "
        f"required. {_FIX}"
    )


def load_auth_section(files: Sequence[str | Path]) -> tuple[dict | None, str]:
    """The merged `[auth]` section of the existing secrets files (later files win, as in
    Streamlit) and a description of where it came from; (None, "") when there is none."""
    merged: dict | None = None
    sources: list[str] = []
    for name in files:
        path = Path(name)
        if not path.exists():
            continue
        data = _read(path)
        if "auth" not in data:
            continue
        section = data["auth"]
        if not isinstance(section, dict):
            raise AuthConfigError(
                f"The secrets file {path} has an 'auth' entry that is not a [auth] section. "
                f"{_FIX}"
            )
        merged = {**(merged or {}), **section}
        sources.append(str(path))
    return merged, ", ".join(sources)


def _placeholder(value: object) -> bool:
    return isinstance(value, str) and any(m in value for m in PLACEHOLDER_MARKERS)


def check_auth_section(auth: Mapping[str, object], where: str = "secrets.toml") -> None:
    """Raise AuthConfigError naming the first unusable setting of an `[auth]` section."""

    def fail(problem: str) -> AuthConfigError:
        return AuthConfigError(f"Sign-in is switched on in {where} but {problem}. {_FIX}")

    redirect = auth.get("redirect_uri")
    if not isinstance(redirect, str) or not redirect.strip():
        raise fail("[auth] has no redirect_uri (the app's address + /oauth2callback)")
    if not redirect.startswith(("http://", "https://")) or _placeholder(redirect):
        raise fail(f"[auth] redirect_uri {redirect[:80]!r} is not the app's http(s) address")
    secret = auth.get("cookie_secret")
    if not isinstance(secret, str) or not secret:
        raise fail("[auth] has no cookie_secret (a long random secret)")
    if _placeholder(secret):
        raise fail("[auth] cookie_secret is still the placeholder from secrets.toml.example; "
                   "set a random one, e.g. python -c \"import secrets; "
                   "print(secrets.token_urlsafe(48))\"")
    if len(secret) < MIN_COOKIE_SECRET_CHARS:
        raise fail(f"[auth] cookie_secret is {len(secret)} characters long; use at least "
                   f"{MIN_COOKIE_SECRET_CHARS} random characters")
    providers = {k: v for k, v in auth.items() if isinstance(v, dict)}
    if not providers:
        providers = {"default": dict(auth)}
    for name, section in providers.items():
        label = "[auth]" if name == "default" else f"[auth.{name}]"
        missing = [k for k in PROVIDER_KEYS if not isinstance(section.get(k), str)
                   or not str(section.get(k)).strip()]
        if missing:
            raise fail(f"{label} is missing {', '.join(missing)}")
        for key in PROVIDER_KEYS:
            if _placeholder(section[key]):
                raise fail(f"{label} {key} is still a placeholder from secrets.toml.example")


def auth_enabled(files: Sequence[str | Path]) -> bool:
    """False when no secrets file has `[auth]`; True when it is complete; else AuthConfigError."""
    auth, where = load_auth_section(files)
    if auth is None:
        return False
    check_auth_section(auth, where)
    return True


# ---- identities ----------------------------------------------------------------------------
def owner_from_claims(claims: Mapping[str, object]) -> str | None:
    """'oidc:<hash of issuer and sub>' for a signed-in user; None without both claims.

    `sub` is kept exactly (it is case-sensitive); the hash keeps the key short and the same
    length whatever the issuer's URL.
    """
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(iss, str) or not iss or not isinstance(sub, str) or not sub:
        return None
    return "oidc:" + hashlib.sha256(f"{iss}\n{sub}".encode()).hexdigest()[:40]


def legacy_owner(claims: Mapping[str, object]) -> str | None:
    """The key earlier releases used for this user ('user:' + lower-cased e-mail), only when the
    provider says the e-mail is verified; otherwise None (those runs are not handed over)."""
    email = claims.get("email")
    verified = claims.get("email_verified")
    if verified is not True and not (isinstance(verified, str) and verified.lower() == "true"):
        return None
    if not isinstance(email, str) or "@" not in email:
        return None
    return "user:" + email.lower()


def user_label(claims: Mapping[str, object]) -> str:
    """What to show as 'Signed in as ...': the e-mail, else the name (a label, not a key)."""
    for key in ("email", "name", "preferred_username"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:80]
    return "signed in"
