"""Small Streamlit helpers shared by the pages: waiting on model work, labels, stop text."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from lib.errors import StudioError
from lib.text_safety import safe_plain
from lib.ui.guard import is_control_flow
from lib.worker import ModelService

# lib.generation.MAX_NEW_TOKENS (a test keeps them equal); not imported here because that module
# pulls in JAX, and pages must render fast while the model loads.
MAX_NEW_TOKENS = 512


def methods() -> dict[str, tuple[str, bool]]:
    """Method id -> (label, signed), from the engine's registry (a light import, no JAX)."""
    from lib.salience.methods import METHODS

    return {k: (v.label, bool(v.signed)) for k, v in METHODS.items()}


def granularities() -> tuple[str, ...]:
    """Granularity ids, from the segmenter's registry."""
    from lib.segments import GRANULARITY_REGISTRY

    return tuple(GRANULARITY_REGISTRY)


def granularity_labels() -> dict[str, str]:
    from lib.segments import GRANULARITY_REGISTRY

    return {g.id: g.label for g in GRANULARITY_REGISTRY.values()}


def needs_pattern(granularity: str) -> bool:
    """Whether this granularity takes a pattern from the reviewer (the custom regex)."""
    from lib.segments import GRANULARITY_REGISTRY

    g = GRANULARITY_REGISTRY.get(granularity)
    return g is not None and g.needs_pattern


def decode_stop(text: str) -> tuple[str, ...]:
    r"""The stop field shows escapes literally: `\n\n` means a blank line; `|` separates several."""
    out = []
    for part in text.split("|"):
        s = (part.replace("\\\\", "\0").replace("\\n", "\n").replace("\\t", "\t")
             .replace("\0", "\\"))
        if s:
            out.append(s)
    return tuple(out)


def encode_stop(stop: tuple[str, ...]) -> str:
    return "|".join(s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
                    for s in stop)


class JobProgress:
    """What a running model job reports (fraction, message); read by the waiting page.

    Pass `progress.update` as the engine's `progress` callback; it runs on the worker thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: tuple[float, str] | None = None

    def update(self, fraction: float, message: str) -> None:
        with self._lock:
            self._value = (max(0.0, min(1.0, float(fraction))), str(message))

    def get(self) -> tuple[float, str] | None:
        with self._lock:
            return self._value


def session_key(name: str) -> str:
    """`name` plus this browser tab's session id: the `replaces=` key for ModelService.submit /
    request_salience, so a newer job of this tab replaces its older one, but never another
    tab's (owners are per browser, shared by its tabs)."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        session = ctx.session_id if ctx is not None else "no-session"
    except Exception:  # noqa: BLE001 - outside a script run (tests): one shared key
        session = "no-session"
    return f"{name}:{session}"


@contextmanager
def cancel_if_abandoned(svc: ModelService, futures: Iterable[Future]) -> Iterator[None]:
    """Around a wait for model work: when the script run is abandoned (a newer click reruns
    it, the session closes: Streamlit's stop/rerun exceptions), cancel the jobs still waited
    for, so the worker does not compute results nobody will read. Errors pass unchanged."""
    try:
        yield
    except BaseException as e:
        if is_control_flow(e):
            for fut in list(futures):
                if not fut.done():
                    svc.cancel(fut)
        raise


_CANCELLED = "studio_cancelled_request"


def was_cancelled(request: object) -> bool:
    """Whether the reviewer pressed Cancel on this request (it is then not started again by
    the reruns that follow, until something else is asked for)."""
    return request is not None and st.session_state.get(_CANCELLED) == request


def clear_cancelled() -> None:
    st.session_state.pop(_CANCELLED, None)


def wait_for(future: Future, svc: ModelService, label: str,
             progress: JobProgress | None = None, cancel_key: object = None) -> Any:
    """Wait for model work with a status box: loading progress, queue position, job progress,
    and a Cancel button. Cancel (like any abandoned wait: `cancel_if_abandoned`) stops the job
    in the worker at its next piece; `cancel_key` names the request so the page can tell it
    was cancelled (`was_cancelled`) instead of asking again."""
    if future.done():
        return future.result()
    with cancel_if_abandoned(svc, [future]):
        return _wait_for(future, svc, label, progress, cancel_key)


def _wait_for(future: Future, svc: ModelService, label: str,
              progress: JobProgress | None, cancel_key: object) -> Any:
    holder = st.empty()  # cleared on success so finished jobs leave no box behind
    with holder.status(label, expanded=True) as box:
        bar = st.progress(0.0, text="Queued…")

        def cancel() -> None:
            svc.cancel(future)
            if cancel_key is not None:
                st.session_state[_CANCELLED] = cancel_key

        # Pressing it reruns the page, which abandons this wait: the job is cancelled either
        # way; the callback also records which request it was.
        st.button("Cancel", key=f"cancel_{id(future)}", on_click=cancel,
                  help="Stop this job on the server (it stops between its pieces).")
        while True:
            try:
                result = future.result(timeout=0.25)
            except FutureTimeout:
                s = svc.status()
                pos = svc.queue_position(future)
                if s["state"] == "loading":
                    bar.progress(s["progress"], text=f"Loading the model first: {s['message']}")
                elif pos:
                    bar.progress(0.0, text=f"Waiting: {pos} job(s) from other reviewers go "
                                           "first.")
                else:
                    got = progress.get() if progress is not None else None
                    if got is not None:
                        bar.progress(got[0], text=got[1][:120])
                    else:
                        bar.progress(0.0, text="Working…")
                continue
            except StudioError:
                box.update(label=f"{label} failed", state="error")
                raise
            except Exception:
                box.update(label=f"{label} failed", state="error")
                raise
            box.update(label=f"{label} done", state="complete")
            break
    holder.empty()
    return result


def model_banner(svc: ModelService) -> None:
    """One line about the server's model; pages keep working while it loads.

    Drawn with the page, not as a timed fragment: the sidebar's status (a fragment) shows the
    progress and reruns the page once loading ends, which removes this line. A timed fragment
    here, at the page's top level, crashed the page blank: a timer run cut short before it
    drew left the browser without its place, so its next run overwrote the page's columns
    ("Cannot set a node at a delta path" in Streamlit's frontend).
    """
    s = svc.status()
    if s["state"] == "error":
        show_error(f"The model could not be loaded: {s['error']}")
    elif s["state"] in ("loading", "idle"):
        st.info(f"The model is loading ({s['progress']:.0%}: {md_escape(str(s['message']))}). "
                "You can edit prompts and open saved runs meanwhile; Generate waits for it.")


def share_url(run_id: str) -> str:
    """The absolute address of this page with `?run=<id>` (relative if the browser's is unknown).

    `st.context.url` is what the reviewer's browser shows (scheme, host, any base path, page),
    without query parameters, so the link also works behind a proxy.
    """
    try:
        base = st.context.url
    except Exception:
        base = None
    if not isinstance(base, str) or not base.startswith(("http://", "https://")):
        return f"?run={run_id}"
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", f"run={run_id}", ""))


def limits() -> dict[str, int]:
    """The limits a reviewer runs into, as numbers (model ones only once it has loaded)."""
    from lib.prompt_file import DEFAULT_MAX_BYTES

    out = {"max_new_tokens": MAX_NEW_TOKENS,
           "upload_bytes": min(DEFAULT_MAX_BYTES,
                               int(st.get_option("server.maxUploadSize")) * 1_000_000)}
    from lib.ui.model_service import get_service

    model = get_service().model
    if model is not None:
        out["max_prompt_tokens"] = int(model.max_prompt_tokens)
        out["max_salience_tokens"] = int(model.max_salience_tokens)
    out.update(run_store_limits())
    return out


def run_store_limits() -> dict[str, int]:
    """Saved-run limits and how much of the store is used; empty if the store is unusable
    (a bad server setting must not break the sidebar; saving says what is wrong)."""
    import sqlite3

    from lib.runs import default_store

    try:
        store = default_store()
        count, used = store.usage()
    except (StudioError, OSError, sqlite3.Error):
        return {}
    return {"run_bytes": store.max_run_bytes, "store_bytes": store.max_total_bytes,
            "store_used": used, "store_runs": count}


def size_text(n: int) -> str:
    """Bytes for people: '5 MB', '2 GB', '12.3 kB', '0 bytes'."""
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:.3g} {unit}"
    return f"{n} bytes"


def md_escape(text: str) -> str:
    """Untrusted text (URL values, titles, model output, error sentences that quote the user)
    shown in Markdown-rendering calls (st.error, st.caption, st.markdown ...) as literal text:
    no links, emphasis or HTML, and invisible/bidi characters as visible markers."""
    out = []
    for ch in safe_plain(text):
        if ch in "\\`*_{}[]()#+-.!|<>~$:&":
            out.append("\\" + ch)
        elif ch in "\r\n":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


class _DeliberateDefaults(logging.Filter):
    """Drop Streamlit's warning that a keyed widget got a default as well as a session value:
    `held` does that on purpose (the warning, with a stack trace, would look like a fault in the
    server log). `global.disableWidgetStateDuplicationWarning` in the config does the same."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "created with a default value but also had its value set" not in str(record.msg)


_POLICY_LOG = logging.getLogger("streamlit.elements.lib.policies")
if not any(isinstance(f, _DeliberateDefaults) for f in _POLICY_LOG.filters):
    _POLICY_LOG.addFilter(_DeliberateDefaults())


def held(key: str, fallback: Any = None) -> Any:
    """The value this session holds for the keyed widget `key`: pass it as the widget's own
    default (`value=`) whenever code, not only the reviewer, sets that key.

    Why: the browser loads each kind of widget's code on first use. If a later run (a rerun when
    the model finishes loading, a click elsewhere) replaces a widget's element before that code
    has arrived, the widget is first drawn from the later element, which carries only its
    default, and it sends that default back as the reviewer's value: a template text set by code
    came back empty. A default equal to the session's value makes that harmless.
    """
    return st.session_state.get(key, fallback)


def held_index(key: str, options: Any, fallback: int = 0) -> int:
    """`held` for a selectbox or radio: the position of the session's value in `options`."""
    options = list(options)
    value = st.session_state.get(key)
    return options.index(value) if value in options else fallback


def show_error(message: str) -> None:
    """st.error for a sentence that may quote user, URL or model text."""
    st.error(md_escape(message))
