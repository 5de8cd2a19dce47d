"""Running generation for the pages: inputs + settings -> `View`s, with a status box while the
model works (or loads first)."""

from __future__ import annotations

from typing import Any

from lib.errors import InputError
from lib.jobs import light_generation
from lib.records import GenerationSettings
from lib.ui import common
from lib.ui.inputs import PromptInputs
from lib.ui.model_service import get_service
from lib.ui.owner import owner_id
from lib.view import View
from lib.worker import PRIORITY_USER


def _check(item: PromptInputs, empty: str) -> str:
    if item.error:
        raise InputError(item.error)
    if not item.prompt or not item.prompt.strip():
        raise InputError(empty, field="prompt")
    return item.prompt


def generate_view(inputs: PromptInputs, settings: GenerationSettings, target_mode: str,
                  target_text: str, cancel_key: object = None) -> tuple[View, str]:
    """Generate from the prompt; returns the view to analyse and the model's own response.

    With a typed (or the row's) target the view explains that target instead of the response.
    `cancel_key` names the request for `common.was_cancelled` once Cancel is pressed.
    """
    prompt = _check(inputs, "The prompt is empty: type a prompt (or fill in the template's "
                            "variables) before pressing Generate.")
    if target_mode != "response" and not target_text.strip():
        raise InputError("The target is empty: type the text you want explained, or choose "
                         "'The model's response'.", field="target")
    svc = get_service()
    progress = common.JobProgress()

    def job(model: Any) -> dict[str, Any]:
        from lib import pipeline

        gen = pipeline.generate(model, prompt, settings, progress=progress.update)
        seq = gen.sequence
        if target_mode != "response":
            seq = pipeline.sequence_for_target(model, prompt, target_text,
                                               chat_template=settings.chat_template)
        return {"gen": gen, "seq": seq, "spec": model.spec, "name": model.name,
                "fingerprint": model.fingerprint}

    fut = svc.submit(job, priority=PRIORITY_USER, owner=owner_id(),
                     replaces=common.session_key("generate"),
                     light=light_generation(prompt, settings.max_new_tokens))
    res = common.wait_for(fut, svc, "Generating", progress, cancel_key=cancel_key)
    gen = res["gen"]
    response = target_mode == "response"
    view = View(
        seq=res["seq"], prompt=prompt, model_spec=str(res["spec"]), model_name=str(res["name"]),
        fingerprint=str(res["fingerprint"]), settings=settings,
        probs=tuple(gen.probs) if response else (),
        alternatives=tuple(gen.alternatives) if response else (),
        target_mode=target_mode, stop_reason=gen.stop_reason,
        template_id=inputs.template_id, template_text=inputs.template_text,
        variables=dict(inputs.variables))
    return view, gen.text


def generate_views(items: list[PromptInputs], settings: GenerationSettings) -> list[View]:
    """Compare: every variant queued at once, then waited for in order."""
    prompts = [_check(it, "A variant's prompt is empty; fill in its template.") for it in items]
    svc = get_service()
    futures, progress = [], []
    for i, prompt in enumerate(prompts):
        prog = common.JobProgress()

        def job(model: Any, prompt: str = prompt, prog: common.JobProgress = prog) -> tuple:
            from lib import pipeline

            return pipeline.generate(model, prompt, settings, progress=prog.update), model
        futures.append(svc.submit(job, priority=PRIORITY_USER, owner=owner_id(),
                                  replaces=common.session_key(f"generate:{i}"),
                                  light=light_generation(prompt, settings.max_new_tokens)))
        progress.append(prog)
    views = []
    for i, (it, fut) in enumerate(zip(items, futures, strict=True)):
        with common.cancel_if_abandoned(svc, futures[i + 1:]):  # a rerun drops the later ones
            gen, model = common.wait_for(fut, svc, f"Generating variant {i + 1} of {len(items)}",
                                         progress[i])
        views.append(View(seq=gen.sequence, prompt=prompts[i], model_spec=str(model.spec),
                          model_name=str(model.name), fingerprint=str(model.fingerprint),
                          settings=settings, probs=tuple(gen.probs),
                          alternatives=tuple(gen.alternatives), stop_reason=gen.stop_reason,
                          template_id=it.template_id, template_text=it.template_text,
                          variables=dict(it.variables)))
    return views
