"""The small SentencePiece vocabulary of the `tiny` test models.

Built like Gemma's own (BPE, byte fallback, identity normaliser, no dummy prefix) so that the
same code paths run, but with 512 pieces so tests stay fast. The trained file is committed;
`python -m lib.models.tiny_vocab` rebuilds it from the corpus beside it.
"""

from __future__ import annotations

import io
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
VOCAB_PATH = ASSETS / "tiny_vocab.spm"
CORPUS_PATH = ASSETS / "tiny_corpus.txt"
VOCAB_SIZE = 512


def train_tiny_vocab(out_path: Path = VOCAB_PATH) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        input=str(CORPUS_PATH),
        model_writer=model,
        model_type="bpe",
        vocab_size=VOCAB_SIZE,
        byte_fallback=True,
        normalization_rule_name="identity",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        split_digits=True,
        pad_id=0,
        eos_id=1,
        bos_id=2,
        unk_id=3,
        # Gemma's piece names, which keras-hub's Gemma tokenizers look for.
        pad_piece="<pad>",
        eos_piece="<eos>",
        bos_piece="<bos>",
        unk_piece="<unk>",
        control_symbols=["<mask>", "<start_of_turn>", "<end_of_turn>"],
        user_defined_symbols=["\n", "\n\n"],
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
    )
    out_path.write_bytes(model.getvalue())
    return model.getvalue()


def tiny_vocab_proto() -> bytes:
    return VOCAB_PATH.read_bytes()


if __name__ == "__main__":
    print(f"wrote {len(train_tiny_vocab())} bytes to {VOCAB_PATH}")
