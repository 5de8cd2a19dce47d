"""Text <-> token ids with exact character offsets, on sentencepiece alone (no TensorFlow).

Gemma's vocabularies are SentencePiece models with byte fallback and an identity normaliser, so
the bytes of the pieces, concatenated, are exactly the bytes of the text. We rely on that for
offsets instead of asking the tokenizer (its offsets are in bytes of a normalised string).
"""

from __future__ import annotations

from collections.abc import Sequence

import sentencepiece as spm

from lib.records import Token

_BYTE_PIECE_LEN = len("<0x00>")


class TextTokenizer:
    """A SentencePiece vocabulary with the special tokens Gemma uses.

    Control tokens (`<bos>`, `<start_of_turn>` ...) are never produced from text: a user who types
    `<start_of_turn>` gets those characters as plain text, so nobody can forge a chat turn by
    pasting it. The chat template inserts the real control tokens by id.
    """

    def __init__(self, proto: bytes) -> None:
        self.proto = bytes(proto)
        self._sp = spm.SentencePieceProcessor(model_proto=self.proto)
        n = self._sp.get_piece_size()
        self.vocab_size = n
        pieces: list[bytes] = []
        special: list[bool] = []
        for i in range(n):
            piece = self._sp.id_to_piece(i)
            if self._sp.is_byte(i) and len(piece) == _BYTE_PIECE_LEN:
                pieces.append(bytes([int(piece[3:5], 16)]))
                special.append(False)
            elif self._sp.is_control(i) or self._sp.is_unknown(i):
                pieces.append(piece.encode("utf-8"))
                special.append(True)
            else:
                pieces.append(piece.replace("\u2581", " ").encode("utf-8"))
                special.append(False)
        self._piece_bytes = pieces
        self._special = special
        self.bos_id = self._sp.bos_id()
        self.eos_id = self._sp.eos_id()
        self.pad_id = max(self._sp.pad_id(), 0)
        self.start_of_turn_id = self._optional_id("<start_of_turn>")
        self.end_of_turn_id = self._optional_id("<end_of_turn>")

    def _optional_id(self, piece: str) -> int | None:
        i = self._sp.piece_to_id(piece)
        return None if i == self._sp.unk_id() and piece != "<unk>" else i

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (no `<bos>`)."""
        return list(self._sp.encode(text, out_type=int)) if text else []

    def is_special(self, token_id: int) -> bool:
        return self._special[token_id]

    def piece_bytes(self, token_id: int) -> bytes:
        return self._piece_bytes[token_id]

    def piece_text(self, token_id: int) -> str:
        """Readable text of one token (special tokens as their name)."""
        return self._piece_bytes[token_id].decode("utf-8", errors="replace")

    def decode(self, ids: Sequence[int]) -> str:
        """Text of non-special tokens, exactly as `token_texts` would give it."""
        return "".join(t for t, _ in self.token_texts(ids) if t is not None)

    def token_texts(self, ids: Sequence[int]) -> list[tuple[str | None, bool]]:
        """(text, special) per token. Text is the characters the token completes ("" for a byte
        token that only starts a multi-byte character); None for special tokens."""
        out: list[tuple[str | None, bool]] = []
        pending = b""
        pending_idx: list[int] = []
        for token_id in ids:
            if self._special[token_id]:
                out.append((None, True))
                continue
            pending += self._piece_bytes[token_id]
            out.append(("", False))
            pending_idx.append(len(out) - 1)
            try:
                text = pending.decode("utf-8")
            except UnicodeDecodeError as err:
                # An incomplete character at the end may be completed by the next byte token;
                # anything else (invalid bytes the model produced) is shown as U+FFFD.
                if err.reason == "unexpected end of data" and len(pending) - err.start < 4:
                    continue
                text = pending.decode("utf-8", errors="replace")
            out[-1] = (text, False)
            pending = b""
            pending_idx = []
        if pending:
            out[pending_idx[-1]] = (pending.decode("utf-8", errors="replace"), False)
        return out

    def tokens(
        self, ids: Sequence[int], *, special_texts: bool = True, prompt_length: int | None = None
    ) -> tuple[list[Token], str]:
        """Token records for `ids` and the text they spell.

        Special tokens occupy no characters unless `special_texts` (then they spell their name,
        e.g. in a chat template, where they are part of what the model saw). `prompt_length`
        marks the first tokens as prompt (default: all).
        """
        n_prompt = len(ids) if prompt_length is None else prompt_length
        tokens: list[Token] = []
        parts: list[str] = []
        pos = 0
        for i, (token_id, (text, special)) in enumerate(zip(ids, self.token_texts(ids), strict=True)):
            if special:
                shown = self.piece_text(token_id) if special_texts else ""
                text = shown
            assert text is not None
            tokens.append(
                Token(
                    index=i,
                    id=int(token_id),
                    text=text if not special else self.piece_text(token_id),
                    start=pos,
                    end=pos + len(text),
                    special=special,
                    in_prompt=i < n_prompt,
                )
            )
            parts.append(text)
            pos += len(text)
        return tokens, "".join(parts)
