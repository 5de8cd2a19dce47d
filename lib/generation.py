"""Prompt -> tokens -> generated continuation, with per-step probabilities and alternatives.

Our own decode loop over the keras-hub decoder blocks with a KV cache (lib.salience.forward):
keras-hub's `generate` returns neither probabilities nor alternatives, and pads to a fixed
`max_length`. The prompt is padded to a length bucket and the cache to another, so a new prompt
length rarely recompiles. Sampling uses a per-call RNG: one caller's seed never leaks into
another's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from lib.cancel import checkpoint
from lib.errors import InputError, LimitError
from lib.input_limits import check_prompt_chars, check_stop_strings
from lib.models.loaded_model import LoadedModel
from lib.records import Alternative, Generation, GenerationSettings, Token, TokenSequence
from lib.salience.forward import bucket_length

MAX_NEW_TOKENS = 512
PREFILL_CHUNK = 512  # prompt tokens per prefill call (memory: one [chunk, cache] block per layer)
TOP_ALTERNATIVES = 5
ProgressFn = Callable[[float, str], None]


def validate_settings(settings: GenerationSettings) -> None:
    """Raise InputError naming the first setting that is out of range."""
    if not isinstance(settings.max_new_tokens, int) or not 1 <= settings.max_new_tokens <= MAX_NEW_TOKENS:
        raise InputError(
            f"Max new tokens must be a whole number from 1 to {MAX_NEW_TOKENS}; "
            f"got {settings.max_new_tokens!r}.",
            field="max_new_tokens",
        )
    if not 0.0 <= float(settings.temperature) <= 5.0:
        raise InputError(
            f"Temperature must be between 0 (greedy) and 5; got {settings.temperature!r}.",
            field="temperature",
        )
    if not isinstance(settings.top_k, int) or settings.top_k < 0:
        raise InputError(
            f"Top-k must be 0 (no limit) or a positive whole number; got {settings.top_k!r}.",
            field="top_k",
        )
    if not isinstance(settings.seed, int) or not 0 <= settings.seed < 2**63:
        raise InputError(f"Seed must be a non-negative whole number; got {settings.seed!r}.",
                         field="seed")
    check_stop_strings(settings.stop)
    if any(not s for s in settings.stop):
        raise InputError("A stop text may not be empty; remove it or type some text.", field="stop")
    for stop in settings.stop:
        check_text(stop, "stop")


def encode_prompt(model: LoadedModel, prompt: str, chat_template: bool) -> tuple[list[int], str]:
    """Token ids (with `<bos>`) and the exact text the model sees for `prompt`.

    With the chat template the turn markers are inserted as control tokens by id; any marker a
    user typed stays plain text (the tokenizer never produces control tokens from text).
    """
    tok = model.tokenizer
    if not chat_template:
        return [tok.bos_id, *tok.encode(prompt)], prompt
    if tok.start_of_turn_id is None or tok.end_of_turn_id is None:
        raise InputError(
            f"{model.name} has no chat-turn tokens; switch the chat template off.",
            field="chat_template",
        )
    sot, eot = tok.start_of_turn_id, tok.end_of_turn_id
    ids = [tok.bos_id, sot, *tok.encode("user\n" + prompt), eot, *tok.encode("\n"), sot,
           *tok.encode("model\n")]
    text = f"<start_of_turn>user\n{prompt}<end_of_turn>\n<start_of_turn>model\n"
    return ids, text


def build_sequence(
    model: LoadedModel, input_ids: Sequence[int], target_ids: Sequence[int]
) -> TokenSequence:
    """Token records over `input_text + target` for prompt ids followed by target ids."""
    tok = model.tokenizer
    ids = [*input_ids, *target_ids]
    tokens, text = tok.tokens(ids, prompt_length=len(input_ids))
    # <bos> is not part of what anyone typed: it occupies no characters; other special tokens
    # (chat turn markers) are part of the input text and keep their names.
    if tokens and tokens[0].id == tok.bos_id and tokens[0].special:
        shift = tokens[0].end
        tokens = [Token(index=tokens[0].index, id=tokens[0].id, text=tokens[0].text, start=0,
                        end=0, special=True, in_prompt=True)] + [
            Token(index=t.index, id=t.id, text=t.text, start=t.start - shift, end=t.end - shift,
                  special=t.special, in_prompt=t.in_prompt) for t in tokens[1:]]
        text = text[shift:]
    split = tokens[len(input_ids)].start if len(ids) > len(input_ids) else len(text)
    return TokenSequence(input_text=text[:split], target=text[split:], tokens=tuple(tokens),
                         prompt_length=len(input_ids))


def check_text(text: str, field: str) -> None:
    """Refuse text that is not valid Unicode (a lone surrogate, e.g. from a bad byte on a
    command line): the tokenizer cannot encode it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InputError(
            f"The {field} holds an invalid character (U+{ord(text[err.start]):04X}, a lone "
            f"surrogate) at position {err.start}; remove it or re-enter the text as UTF-8.",
            field=field) from None


def check_prompt(model: LoadedModel, prompt: str) -> None:
    if isinstance(prompt, str):
        check_prompt_chars(prompt)  # before anything tokenises it
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("The prompt is empty: type a prompt or fill the template's variables.",
                         field="prompt")
    check_text(prompt, "prompt")


def generate(
    model: LoadedModel,
    prompt: str,
    settings: GenerationSettings = GenerationSettings(),
    progress: ProgressFn | None = None,
) -> Generation:
    """Continue `prompt`; stops at EOS, `<end_of_turn>`, a stop text, or max new tokens."""
    check_prompt(model, prompt)
    validate_settings(settings)
    chat = model.default_chat_template if settings.chat_template is None else settings.chat_template
    input_ids, _ = encode_prompt(model, prompt, chat)
    n_prompt = len(input_ids)
    total = n_prompt + settings.max_new_tokens
    if total > model.max_prompt_tokens:
        raise LimitError(
            f"The prompt is {n_prompt} tokens; with {settings.max_new_tokens} new tokens that is "
            f"{total}, over this model's limit of {model.max_prompt_tokens}. Shorten the prompt or "
            f"lower max new tokens.",
            field="prompt",
        )
    tok = model.tokenizer
    fns = model.functions
    rng = np.random.default_rng(settings.seed)
    stop_ids = {tok.eos_id} | ({tok.end_of_turn_id} if tok.end_of_turn_id is not None else set())

    # A long prompt is read in chunks of PREFILL_CHUNK tokens: attention then holds a
    # [chunk, cache] block per layer, never [prompt, cache]. The cache is sized to need.
    chunk = min(bucket_length(n_prompt), PREFILL_CHUNK)
    prefill_len = -(-n_prompt // chunk) * chunk
    cache_len = max(bucket_length(total), prefill_len)
    cache = fns.empty_cache(cache_len)
    padded = [*input_ids, *([tok.pad_id] * (prefill_len - n_prompt))]
    for start in range(0, prefill_len, chunk):
        if progress:
            progress(0.0, f"Reading the prompt: {min(start, n_prompt):,} of {n_prompt:,} tokens")
        checkpoint()
        last = min(n_prompt - start, chunk) - 1
        logits, cache = fns.step(cache, padded[start:start + chunk], start, last)

    new_ids: list[int] = []
    probs: list[float] = []
    alternatives: list[tuple[Alternative, ...]] = []
    stop_reason = "max_new_tokens"
    for step in range(settings.max_new_tokens):
        p = _softmax(logits)
        token_id = _choose(p, logits, settings, rng)
        top = np.argpartition(-p, TOP_ALTERNATIVES)[:TOP_ALTERNATIVES]
        top = top[np.argsort(-p[top])]
        alternatives.append(tuple(
            Alternative(token_id=int(i), text=tok.piece_text(int(i)), prob=float(p[i])) for i in top))
        probs.append(float(p[token_id]))
        new_ids.append(token_id)
        if progress:
            progress((step + 1) / settings.max_new_tokens, f"Generated {step + 1} tokens")
        if token_id in stop_ids:
            stop_reason = "end_of_turn" if token_id == tok.end_of_turn_id else "eos"
            break
        if settings.stop and _stop_at(tok, new_ids, settings.stop) is not None:
            stop_reason = "stop_text"
            break
        if step + 1 < settings.max_new_tokens:
            checkpoint()
            logits, cache = fns.step(cache, [token_id], n_prompt + step, 0)

    if stop_reason == "stop_text":
        keep = _stop_at(tok, new_ids, settings.stop)
        new_ids, probs, alternatives = new_ids[:keep], probs[:keep], alternatives[:keep]
    elif stop_reason in ("eos", "end_of_turn"):
        # The stop token is not part of the answer; its probability stays in the record's story
        # only through stop_reason.
        new_ids, probs, alternatives = new_ids[:-1], probs[:-1], alternatives[:-1]
    sequence = build_sequence(model, input_ids, new_ids)
    return Generation(model=model.spec, prompt=prompt, sequence=sequence, probs=tuple(probs),
                      alternatives=tuple(alternatives), stop_reason=stop_reason, settings=settings)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - float(np.max(logits))
    e = np.exp(z)
    return e / e.sum()


def _choose(p: np.ndarray, logits: np.ndarray, settings: GenerationSettings,
            rng: np.random.Generator) -> int:
    if settings.greedy:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / float(settings.temperature)
    if settings.top_k and settings.top_k < z.size:
        cutoff = np.partition(z, -settings.top_k)[-settings.top_k]
        z = np.where(z >= cutoff, z, -np.inf)
    q = np.exp(z - z.max())
    q /= q.sum()
    return int(rng.choice(q.size, p=q))


def _stop_at(tok, ids: Sequence[int], stops: Sequence[str]) -> int | None:
    """Number of tokens to keep if a stop text occurs in the decoded ids, else None: everything
    from the token in which the stop text starts is dropped."""
    texts = [t or "" for t, _ in tok.token_texts(ids)]
    text = "".join(texts)
    first = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    if first < 0:
        return None
    pos = 0
    for k, t in enumerate(texts):
        if pos + len(t) > first:
            return k
        pos += len(t)
    return len(ids)
