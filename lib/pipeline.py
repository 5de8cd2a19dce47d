"""The one place that strings the stages together (used by the pages, the CLI and the benchmark).

template -> prompt -> tokens -> generation -> segments -> salience -> rendering
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

from lib.errors import InputError, LimitError
from lib.generation import build_sequence, check_prompt, check_text, encode_prompt
from lib.generation import generate as _generate
from lib.input_limits import check_target_chars
from lib.models.loaded_model import LoadedModel
from lib.models.registry import allowed_model_specs, default_spec, get_model, loaded_model
from lib.records import Generation, GenerationSettings, Salience, TokenSequence
from lib.salience import integrated
from lib.salience.methods import METHODS, MethodInfo, get_method

__all__ = [
    "METHODS", "MethodInfo", "LoadedModel", "allowed_model_specs", "default_spec", "get_model",
    "loaded_model", "generate", "sequence_for_target", "salience", "salience_batch",
    "integrated_gradients", "cached_integrated_gradients", "check_target", "check_steps",
]

ProgressFn = Callable[[float, str], None]
BATCH_CHUNK = 8  # targets per compiled batch call: bounds memory (J backward passes at once)
# The plain path (Gemma 1/2 on keras-hub's blocks) holds every layer's activations per target:
# targets x tokens per call <= 1536 kept the embedded model within 3 GB when it ran that path.
BATCH_TOKENS = 1536
# The layered path (Gemma 3) holds a few [T, D] float32 cotangents per target while it pulls
# them back through one layer at a time: the batch is cut so that they stay within this budget.
BATCH_BYTES = 256 * 2**20
COTANGENT_COPIES = 8
STEPS_CHUNK = 32  # Integrated Gradients' path points per engine call, at most
_CACHE_SIZE = 4096
_PATH_CACHE_SIZE = 256

_cache: OrderedDict[tuple, dict[str, tuple[float, ...]]] = OrderedDict()
# Integrated Gradients' results, under the one-gradient key plus (method, steps).
_path_cache: OrderedDict[tuple, integrated.IGResult] = OrderedDict()
_cache_lock = threading.Lock()


def generate(model: LoadedModel, prompt: str, settings: GenerationSettings = GenerationSettings(),
             progress: ProgressFn | None = None) -> Generation:
    return _generate(model, prompt, settings, progress)


def sequence_for_target(model: LoadedModel, prompt: str, target: str,
                        chat_template: bool | None = None) -> TokenSequence:
    """Prompt and target tokenised separately and concatenated (as LIT does), so the prompt's
    tokens are the same whatever the target."""
    check_prompt(model, prompt)
    if not isinstance(target, str) or not target:
        raise InputError("The target is empty: type the text whose salience you want, or "
                         "generate a response first.", field="target")
    check_target_chars(target)
    check_text(target, "target")
    chat = model.default_chat_template if chat_template is None else chat_template
    input_ids, _ = encode_prompt(model, prompt, chat)
    return build_sequence(model, input_ids, model.tokenizer.encode(target))


def _key(model: LoadedModel, seq: TokenSequence, target: Sequence[int]) -> tuple:
    return (model.fingerprint, tuple(seq.ids), tuple(sorted(set(int(i) for i in target))))


def check_target(model: LoadedModel, seq: TokenSequence, target: Sequence[int]) -> list[int]:
    """The target's sorted token indices, or an `InputError` saying what is wrong with it."""
    idx = sorted(set(int(i) for i in target))
    if not idx:
        raise InputError("Select at least one output segment to explain.", field="selection")
    bad = [i for i in idx if i < seq.prompt_length or i >= len(seq.tokens)]
    if bad:
        raise InputError(
            f"Target token {bad[0]} is outside the output (tokens {seq.prompt_length} to "
            f"{len(seq.tokens) - 1}); select a segment of the output.", field="selection")
    if idx[-1] > model.max_salience_tokens:
        raise LimitError(
            f"Salience is limited to the first {model.max_salience_tokens} tokens of prompt and "
            f"output (this target ends at token {idx[-1]}); shorten the prompt or pick an "
            "earlier segment.", field="prompt")
    return idx


def salience(model: LoadedModel, seq: TokenSequence, target_token_indices: Sequence[int],
             method: str = "grad_l2") -> Salience:
    """Scores for every token of `seq` for one target (a set of token indices in the output)."""
    return salience_batch(model, seq, [target_token_indices], method)[0]


def salience_batch(model: LoadedModel, seq: TokenSequence,
                   targets: Sequence[Sequence[int]], method: str = "grad_l2",
                   progress: ProgressFn | None = None) -> list[Salience]:
    """Scores for many targets (e.g. every sentence of the output) with shared forward passes.

    Every one-gradient method's scores come from the same gradients, so all are cached at
    once: switching between them, or asking again for a computed target, costs no model time.
    Integrated Gradients runs its own path per target (at the default steps), cached apart.
    """
    get_method(method)
    if get_method(method).needs.interpolation_steps:
        return _path_batch(model, seq, targets, method, progress)
    checked = [check_target(model, seq, t) for t in targets]
    todo = []
    with _cache_lock:
        for t in checked:
            if _key(model, seq, t) not in _cache and t not in todo:
                todo.append(t)
    longest = max((t[-1] + 1 for t in todo), default=1)
    step = targets_per_call(model, longest)
    for start in range(0, len(todo), step):
        chunk = todo[start:start + step]

        def piece_progress(fraction: float, message: str, start=start, size=step) -> None:
            if progress:
                progress(min(1.0, (start + fraction * min(size, len(todo) - start)) / len(todo)),
                         f"Salience for {len(todo)} target{'s' if len(todo) > 1 else ''}: "
                         f"{message.lower()}")

        scores, _ = model.functions.salience_scores(seq.ids, chunk, pad_id=model.tokenizer.pad_id,
                                                    progress=piece_progress)
        with _cache_lock:
            for j, t in enumerate(chunk):  # every method the registry derives from the gradient
                _cache[_key(model, seq, t)] = {m: tuple(v[j].tolist()) for m, v in scores.items()}
                while len(_cache) > _CACHE_SIZE:
                    _cache.popitem(last=False)
        if progress:
            progress(min(1.0, (start + len(chunk)) / len(todo)),
                     f"Salience for {start + len(chunk)} of {len(todo)} targets")
    out = []
    with _cache_lock:
        for t in checked:
            scores = _cache[_key(model, seq, t)]
            _cache.move_to_end(_key(model, seq, t))
            out.append(Salience(method=method, target_token_indices=tuple(t),
                                scores=scores[method]))
    return out


def clear_cache() -> None:
    """Forget every computed score (benchmarks measure the computation, tests start clean)."""
    with _cache_lock:
        _cache.clear()
        _path_cache.clear()


def targets_per_call(model: LoadedModel, tokens: int) -> int:
    """How many targets one engine call takes for inputs of `tokens` tokens: a memory budget
    (the layered path's cotangents, or the plain path's activations), at most BATCH_CHUNK."""
    if getattr(model.functions, "layered", None) is not None:
        per_target = COTANGENT_COPIES * tokens * model.functions.hidden_dim * 4
        return max(1, min(BATCH_CHUNK, BATCH_BYTES // per_target))
    return max(1, min(BATCH_CHUNK, BATCH_TOKENS // tokens))


def cached_integrated_gradients(model: LoadedModel, seq: TokenSequence,
                                target_token_indices: Sequence[int],
                                steps: int | None = None) -> integrated.IGResult | None:
    """The Integrated Gradients result (scores, losses, completeness gap) if already computed,
    else None (never computes)."""
    t = sorted(set(int(i) for i in target_token_indices))
    key = _key(model, seq, t) + ("integrated_gradients", steps or integrated.DEFAULT_STEPS)
    with _cache_lock:
        return _path_cache.get(key)


def cached_salience(model: LoadedModel, seq: TokenSequence, target_token_indices: Sequence[int],
                    method: str = "grad_l2") -> Salience | None:
    """The scores if already computed, else None (never computes)."""
    t = sorted(set(int(i) for i in target_token_indices))
    info = METHODS.get(method)
    if info is not None and info.needs.interpolation_steps:
        with _cache_lock:
            hit = _path_cache.get(_key(model, seq, t) + (method, integrated.DEFAULT_STEPS))
        return None if hit is None else Salience(method=method, target_token_indices=tuple(t),
                                                 scores=tuple(hit.scores.tolist()))
    with _cache_lock:
        scores = _cache.get(_key(model, seq, t))
    if scores is None or method not in scores:
        return None
    return Salience(method=method, target_token_indices=tuple(t), scores=scores[method])


# -- Integrated Gradients ------------------------------------------------------------------

def check_steps(steps: int | None) -> int:
    """The number of Integrated Gradients steps (default when None), or an `InputError`."""
    if steps is None:
        return integrated.DEFAULT_STEPS
    if isinstance(steps, bool) or not isinstance(steps, int) or not \
            1 <= steps <= integrated.MAX_STEPS:
        raise InputError(f"steps must be a whole number from 1 to {integrated.MAX_STEPS} "
                         f"(got {steps!r}); the default is {integrated.DEFAULT_STEPS}.",
                         field="steps")
    return steps


def steps_per_call(model: LoadedModel, tokens: int) -> int:
    """Path points per engine call for inputs of `tokens` tokens: each point keeps its own
    activations (every layer's input on the layered path, plus the cotangents)."""
    fns = model.functions
    if getattr(fns, "layered", None) is not None:
        layers = len(fns.stack.layers)
        per_point = (layers + COTANGENT_COPIES) * tokens * fns.hidden_dim * 4
        return max(1, min(STEPS_CHUNK, BATCH_BYTES // per_point))
    return max(1, min(STEPS_CHUNK, BATCH_TOKENS // tokens))


def integrated_gradients(model: LoadedModel, seq: TokenSequence,
                         target_token_indices: Sequence[int], steps: int | None = None,
                         progress: ProgressFn | None = None) -> integrated.IGResult:
    """Integrated Gradients for one target: scores, f(x), f(baseline) and the completeness
    gap (lib.salience.integrated). The path interpolates every prompt and earlier output
    token from the pad embedding; special tokens and the target's own tokens stay fixed."""
    steps = check_steps(steps)
    t = check_target(model, seq, target_token_indices)
    key = _key(model, seq, t) + ("integrated_gradients", steps)
    with _cache_lock:
        hit = _path_cache.get(key)
    if hit is not None:
        return hit
    kept = set(t)
    interpolate = [not tok.special and tok.index not in kept for tok in seq.tokens]
    result = integrated.integrated_gradients(
        model.functions, seq.ids, t, interpolate, model.tokenizer.pad_id, steps,
        batch=steps_per_call(model, t[-1] + 1), pad_id=model.tokenizer.pad_id,
        progress=progress)
    with _cache_lock:
        _path_cache[key] = result
        while len(_path_cache) > _PATH_CACHE_SIZE:
            _path_cache.popitem(last=False)
    return result


def _path_batch(model: LoadedModel, seq: TokenSequence, targets: Sequence[Sequence[int]],
                method: str, progress: ProgressFn | None) -> list[Salience]:
    checked = [check_target(model, seq, t) for t in targets]  # all before any compute
    out = []
    for n, t in enumerate(checked):
        def piece(fraction: float, message: str, n=n) -> None:
            if progress:
                progress((n + fraction) / len(checked),
                         f"Target {n + 1} of {len(checked)}: {message}")

        result = integrated_gradients(model, seq, t, progress=piece)
        out.append(Salience(method=method, target_token_indices=tuple(t),
                            scores=tuple(result.scores.tolist())))
    return out


_ANALYSIS = ("ContrastiveSalience", "Matrix", "contrastive_salience", "foil_ids",
             "salience_matrix")


def __getattr__(name: str):
    # lib.analysis builds on this module, so its names are found here on first use.
    if name in _ANALYSIS:
        from lib import analysis

        return getattr(analysis, name)
    raise AttributeError(f"module 'lib.pipeline' has no attribute {name!r}")
