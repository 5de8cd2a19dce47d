"""Salience by part on the embedded Gemma 3 270M: the LIT menu-item story (issue 10's "done
when"), at the library level, with the app's defaults (greedy, 32 new tokens, stop at a blank
line; Grad-L2; line granularity; the first output line selected)."""

from __future__ import annotations

import pytest

from lib import pipeline
from lib.compare import match_segment
from lib.part_compare import align_parts
from lib.part_scores import PartScore, part_scores, parts_in_sequence
from lib.parts import template_parts
from lib.records import GenerationSettings
from lib.segments import segment_sequence
from lib.templates import get_template

pytestmark = pytest.mark.slow
# The Debug and Compare pages' defaults (lib/ui/inputs.py: 32 new tokens, stop "\n\n").
APP_SETTINGS = GenerationSettings(max_new_tokens=32, stop=("\n\n",))
VARIANTS = ("fewshot-mistake", "fewshot-fixed", "fewshot-constitution")


@pytest.fixture(scope="module")
def model():
    return pipeline.get_model("embedded")


@pytest.fixture(scope="module")
def runs(model):
    """Per variant: (generated text, line segments, part scores of the selected line)."""
    out = {}
    first_segments = None
    for tid in VARIANTS:
        template = get_template(tid)
        prompt, parts = template_parts(template.text, template.default_values())
        gen = pipeline.generate(model, prompt, APP_SETTINGS)
        seq = gen.sequence
        segments = segment_sequence(seq, "lines")
        if first_segments is None:
            # The analysis: the output's first line (the model continues "Analysis:").
            pick = next(i for i, s in enumerate(segments) if not s.in_prompt and s.token_indices)
            first_segments = (segments, pick)
        else:  # Compare's rule: the segment matching the baseline's selection
            pick = match_segment(*first_segments, segments, "lines")
            assert pick is not None
        sal = pipeline.salience(model, seq, segments[pick].token_indices, "grad_l2")
        scores = part_scores(parts_in_sequence(parts, seq, prompt), sal.scores)
        out[tid] = (gen.text, segments[pick], scores)
    return out


def _shares(scores: list[PartScore]) -> str:
    return ", ".join(f"{s.part.id} {s.share:.3f} ({len(s.part.token_indices)} tok)"
                     for s in scores)


def test_the_faulty_example_leads_the_examples(runs):
    text, selected, scores = runs["fewshot-mistake"]
    print(f"\nfewshot-mistake output {text!r}; selected {selected.text!r}\n  {_shares(scores)}")
    assert "Recommendation: You have to try it." in text  # the story: the mistake is copied
    assert selected.text.strip().startswith("it has cheese in it")  # the analysis line
    examples = {s.part.id: s for s in scores if s.part.kind == "example"}
    assert set(examples) == {"example-1", "example-2", "example-3"}
    assert examples["example-1"].part.label == "Example 1: Onion soup"
    first = examples.pop("example-1")
    assert all(first.share > other.share for other in examples.values()), _shares(scores)


def test_compare_marks_the_principles_new_in_the_constitution_variant(runs):
    for tid in VARIANTS:
        text, selected, scores = runs[tid]
        print(f"\n{tid}: output {text!r}; selected {selected.text!r}\n  {_shares(scores)}")
    rows = align_parts([runs[tid][2] for tid in VARIANTS])
    principles = [r for r in rows if r.kind == "principle"]
    assert [r.id for r in principles] == ["principle-1", "principle-2"]
    for row in principles:
        mistake, fixed, constitution = row.cells
        assert mistake.status == "absent" and mistake.score is None
        assert fixed.status == "absent" and fixed.score is None
        assert constitution.status == "new" and constitution.score is not None
        # A new part's shift is its whole share (the baseline has none of it).
        assert constitution.share_shift == pytest.approx(constitution.score.share)
        assert constitution.score.share > 0
        print(f"  {row.id} ({row.label}): new, share {constitution.score.share:.3f}")
    # Every other part is in all three variants.
    assert all(c.status == "present" for r in rows if r.kind != "principle" for c in r.cells)
