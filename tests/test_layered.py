"""The layered salience path (lib/salience/layered.py: pieces per layer, blocked attention)
against the plain single-call path, on tiny Gemma 3 with blocks and windows really crossed."""

from __future__ import annotations

import numpy as np
import pytest

from lib import cancel, pipeline
from lib.errors import Cancelled
from lib.models.tiny import SLIDING_WINDOW

# A real text, long enough for many 16-token blocks and 8-token windows.
TEXT = ("Licensor hereby grants to You a perpetual, worldwide, non-exclusive, no-charge, "
        "royalty-free, irrevocable copyright license to reproduce, prepare Derivative Works of, "
        "publicly display, publicly perform, sublicense, and distribute the Work and such "
        "Derivative Works in Source or Object form. Recommendation: Avoid.")


@pytest.fixture(scope="module")
def model():
    return pipeline.get_model("tiny-gemma3")


def _ids(model):
    return [model.tokenizer.bos_id, *model.tokenizer.encode(TEXT)]


@pytest.mark.parametrize("block", [16, 8, 32])
def test_layered_equals_plain_path_in_float32(model, block):
    ids = _ids(model)
    n = len(ids)
    assert n > 6 * block and n > 10 * SLIDING_WINDOW
    targets = [[n - 3, n - 2], [n - 1], [n // 2]]
    plain = model.functions.salience(ids, targets, layered=False, precision="float32")
    layered = model.functions.salience(ids, targets, layered=True, precision="float32",
                                       block=block)
    for a, b in zip(plain, layered, strict=True):
        assert np.max(np.abs(a - b)) <= 1e-5 * np.max(np.abs(a))
    # Causality: nothing after a target's last token gets a score, on either path.
    assert np.all(layered[0][2, n // 2:] == 0) and np.all(layered[0][2, : n // 2] > 0)


def test_layered_is_the_default_for_gemma3(model):
    ids = _ids(model)
    target = [[len(ids) - 2]]
    default = model.functions.salience(ids, target, precision="float32")
    layered = model.functions.salience(ids, target, precision="float32", layered=True)
    for a, b in zip(default, layered, strict=True):
        np.testing.assert_array_equal(a, b)


def test_mixed_precision_on_the_layered_path_stays_close(model):
    ids = _ids(model)
    target = [[len(ids) - 3, len(ids) - 2]]
    exact = model.functions.salience(ids, target, precision="float32", block=16)
    mixed = model.functions.salience(ids, target, precision="mixed", block=16)
    scale = np.abs(exact[0]).max()
    assert 0 < np.abs(exact[0] - mixed[0]).max() < 0.06 * scale


def test_progress_reports_every_piece_and_cancel_stops_between_pieces(model):
    ids = _ids(model)
    seen: list[float] = []
    model.functions.salience(ids, [[len(ids) - 1]], progress=lambda f, _: seen.append(f),
                             block=16)
    layers = len(model.backbone.transformer_layers)
    assert len(seen) == 2 * layers - 1 and seen[-1] == pytest.approx(1.0)
    assert seen == sorted(seen)

    context = cancel.JobContext()
    pieces = []

    def between():
        pieces.append(1)
        if len(pieces) == 3:
            context.token.cancel()

    context.between_pieces = between
    with cancel.running(context), pytest.raises(Cancelled):
        model.functions.salience(ids, [[len(ids) - 1]], block=16)
    assert len(pieces) == 3  # stopped at the first check after the cancel, not at the end
