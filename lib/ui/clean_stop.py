"""Install `lib.shutdown`'s SIGTERM handler on Streamlit's main thread, once per process.

Page scripts run on script threads, where Python refuses `signal.signal`; Streamlit's event loop
runs on the main thread, so the installation is handed to it. Streamlit's own handler (installed
at server start) is replaced: it stopped the server but let the interpreter finalise with XLA's
threads alive, which aborted (SIGABRT) instead of exiting 0.
"""

from __future__ import annotations

import logging
import threading

from lib.shutdown import install_sigterm_handler

log = logging.getLogger("salience_studio.shutdown")
_lock = threading.Lock()
_scheduled = False


def _install() -> None:
    try:
        install_sigterm_handler()
    except (RuntimeError, ValueError) as e:  # not on the main thread after all
        log.error("clean stop on SIGTERM not available: %s", e)


def ensure_clean_stop() -> bool:
    """Schedule the handler's installation (first call only); False where it cannot be done
    (e.g. AppTest, which has no server event loop)."""
    global _scheduled
    with _lock:
        if _scheduled:
            return True
        _scheduled = True
    if threading.current_thread() is threading.main_thread():
        _install()
        return True
    try:
        from streamlit.runtime import Runtime

        loop = Runtime.instance()._get_async_objs().eventloop  # noqa: SLF001 - no public API
    except Exception as e:  # noqa: BLE001 - no running server (tests): nothing to install
        log.info("clean stop on SIGTERM not installed (no server event loop: %s)", e)
        return False
    loop.call_soon_threadsafe(_install)
    return True
