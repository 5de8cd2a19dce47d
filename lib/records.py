"""Plain records that carry data between the pipeline's stages.

template -> prompt -> tokens -> generation -> segments -> salience -> rendering.
Every stage takes and returns these; none of them knows about Streamlit or JAX.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Token:
    """One model token with the exact characters it covers.

    `start`/`end` are character offsets into `TokenSequence.text`. Special tokens
    (`<bos>`, `<start_of_turn>` ...) carry their literal text but are flagged so
    displays can hide them. A character spread over several byte-fallback tokens
    belongs to the token that completes it; the others cover no characters.
    """

    index: int
    id: int
    text: str
    start: int
    end: int
    special: bool
    in_prompt: bool


@dataclass(frozen=True)
class TokenSequence:
    """Prompt tokens followed by target tokens, as the model sees them.

    `input_text` is exactly what the model saw before the target (after any chat
    template); `target` is the text whose tokens follow. `prompt_length` counts
    the tokens of `input_text`, `<bos>` included.
    """

    input_text: str
    target: str
    tokens: tuple[Token, ...]
    prompt_length: int

    @property
    def text(self) -> str:
        return self.input_text + self.target

    @property
    def ids(self) -> list[int]:
        return [t.id for t in self.tokens]

    @property
    def target_indices(self) -> tuple[int, ...]:
        return tuple(range(self.prompt_length, len(self.tokens)))


@dataclass(frozen=True)
class GenerationSettings:
    """How to generate. `temperature == 0` means greedy (the default)."""

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_k: int = 0
    seed: int = 0
    stop: tuple[str, ...] = ()
    # None: the model's default (on for instruct presets, off for base models).
    chat_template: bool | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True)
class Alternative:
    """A token the model could have produced at one step, with its probability."""

    token_id: int
    text: str
    prob: float


@dataclass(frozen=True)
class Generation:
    """The model's continuation of a prompt.

    `sequence.input_text` is what the model saw, `sequence.target` the new text.
    `probs[i]` and `alternatives[i]` belong to the i-th generated token, i.e.
    `sequence.tokens[sequence.prompt_length + i]`.
    """

    model: str
    prompt: str
    sequence: TokenSequence
    probs: tuple[float, ...]
    alternatives: tuple[tuple[Alternative, ...], ...]
    stop_reason: str
    settings: GenerationSettings = field(default_factory=GenerationSettings)

    @property
    def text(self) -> str:
        return self.sequence.target


@dataclass(frozen=True)
class Segment:
    """A run of text (word, sentence, line ...) snapped to token boundaries."""

    index: int
    start: int
    end: int
    text: str
    token_indices: tuple[int, ...]
    in_prompt: bool


@dataclass(frozen=True)
class Salience:
    """One score per token of a sequence for one target (a set of token indices)."""

    method: str
    target_token_indices: tuple[int, ...]
    scores: tuple[float, ...]
