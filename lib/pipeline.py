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
from lib.salience.methods import METHODS, MethodInfo, get_method

__all__ = [
    "METHODS", "MethodInfo", "LoadedModel", "allowed_model_specs", "default_spec", "get_model",
    "loaded_model", "generate", "sequence_for_target", "salience", "salience_batch",
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
_CACHE_SIZE = 4096

_cache: OrderedDict[tuple, dict[str, tuple[float, ...]]] = OrderedDict()
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


def _check_target(model: LoadedModel, seq: TokenSequence, target: Sequence[int]) -> list[int]:
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

    Every method's scores come from the same gradients, so all are cached at once: switching
    the method, or asking again for a computed target, costs no model time.
    """
    get_method(method)
    checked = [_check_target(model, seq, t) for t in targets]
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


def targets_per_call(model: LoadedModel, tokens: int) -> int:
    """How many targets one engine call takes for inputs of `tokens` tokens: a memory budget
    (the layered path's cotangents, or the plain path's activations), at most BATCH_CHUNK."""
    if getattr(model.functions, "layered", None) is not None:
        per_target = COTANGENT_COPIES * tokens * model.functions.hidden_dim * 4
        return max(1, min(BATCH_CHUNK, BATCH_BYTES // per_target))
    return max(1, min(BATCH_CHUNK, BATCH_TOKENS // tokens))


def cached_salience(model: LoadedModel, seq: TokenSequence, target_token_indices: Sequence[int],
                    method: str = "grad_l2") -> Salience | None:
    """The scores if already computed, else None (never computes)."""
    t = sorted(set(int(i) for i in target_token_indices))
    with _cache_lock:
        scores = _cache.get(_key(model, seq, t))
    if scores is None:
        return None
    return Salience(method=method, target_token_indices=tuple(t), scores=scores[method])
