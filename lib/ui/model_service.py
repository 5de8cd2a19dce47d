"""One `ModelService` per model spec for the whole server (shared by every session)."""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from lib.shutdown import register_closer
from lib.worker import PRIORITY_PREFETCH, ModelService

SPEC_KEY = "studio_model_spec"


# For tests only: the path of a file; loading the model waits until it exists, so a browser
# test can act while the model is still loading (tests/browser/test_load_race.py).
HOLD_LOAD_ENV = "STUDIO_TEST_HOLD_LOAD"


def _load(spec: str | None, progress: Any = None) -> Any:
    from lib import pipeline  # imported here: JAX/keras load in the background thread

    gate = os.environ.get(HOLD_LOAD_ENV)
    if gate:
        import time
        from pathlib import Path

        while not Path(gate).exists():
            if progress:
                progress(0.05, "Held by the test until it releases the load")
            time.sleep(0.2)
    return pipeline.get_model(spec, progress=progress)


@st.cache_resource(show_spinner=False)
def _service(spec: str) -> ModelService:
    svc = ModelService(spec, _load)
    svc.start()
    # On SIGTERM: no new jobs, the running one stopped at its next checkpoint (lib.shutdown).
    register_closer(f"model service {spec}", svc.shutdown)
    if os.environ.get("STUDIO_WARMUP", "0") == "1":
        _warm_up_in_steps(svc)
    return svc


def _warm_up_in_steps(svc: ModelService) -> None:
    """The built-in templates' first shapes, compiled early (lib/warmup.py), one step per
    low-priority job: every reviewer's job goes first, between any two steps."""
    steps: list[Any] = []

    def step(model: Any) -> None:
        if not steps:
            from lib.warmup import warm_up_steps

            steps.append(warm_up_steps(model))
        try:
            next(steps[0])
        except StopIteration:
            return
        svc.submit(step, priority=PRIORITY_PREFETCH, owner="server-warmup")

    svc.submit(step, priority=PRIORITY_PREFETCH, owner="server-warmup")


def allowed_specs() -> list[str]:
    """The server's allow-list (never typed by a browser user)."""
    try:
        from lib import pipeline

        specs = list(pipeline.allowed_model_specs())
    except Exception:  # the engine missing or broken: fall back to the configured model
        specs = []
    if not specs:
        specs = [os.environ.get("STUDIO_MODEL") or "embedded"]
    return specs


def current_spec() -> str:
    """This session's model spec: its sidebar choice if allowed, else the server default."""
    specs = allowed_specs()
    chosen = st.session_state.get(SPEC_KEY)
    return chosen if chosen in specs else specs[0]


def get_service(spec: str | None = None) -> ModelService:
    return _service(spec or current_spec())


def model_info(svc: ModelService) -> dict[str, str]:
    """Name and fingerprint of the loaded model, or blanks while it loads."""
    model = svc.model
    if model is None:
        return {"spec": svc.spec or "", "name": svc.spec or "", "fingerprint": ""}
    return {"spec": str(model.spec), "name": str(model.name), "fingerprint": str(model.fingerprint)}
