"""Counterfactual check on the embedded Gemma 3 270M (issue 11's "done when"): in the few-shot
prompt with a mistake, dropping the first example's "Recommendation: You have to try it." line
lowers the log-probability of the copied "You have to try it." more than the median control
(the same drop on random spans of the same token length) does."""

from __future__ import annotations

import json
import statistics

import pytest

from lib import pipeline
from lib.cli import main
from lib.parts import template_parts
from lib.records import GenerationSettings
from lib.templates import get_template

pytestmark = pytest.mark.slow
LINE = "Recommendation: You have to try it."
# The Debug page's defaults (lib/ui/inputs.py: 32 new tokens, stop at a blank line).
APP_SETTINGS = GenerationSettings(max_new_tokens=32, stop=("\n\n",))


def run(capsys, *args: str) -> dict:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_dropping_the_faulty_example_line_lowers_the_copied_recommendation(capsys):
    template = get_template("fewshot-mistake")
    prompt, _ = template_parts(template.text, template.default_values())
    target = pipeline.generate(pipeline.get_model("embedded"), prompt, APP_SETTINGS).text
    report = [f"greedy output: {target!r}"]
    assert target.endswith(LINE)  # the story: the model copies the first example's mistake
    at = prompt.index(LINE)  # the first example's line (with its newline)
    common = ("--model", "embedded", "--prompt", prompt, "--target", target, "--segment-text",
              "You have to try it.", "--quiet", "--json")
    data = run(capsys, "counterfactual", *common, "--drop", f"{at}:{at + len(LINE) + 1}",
               "--stop", r"\n\n")
    controls = [c["delta"] for c in data["controls"]]
    median = statistics.median(controls)
    report.append(f"before {data['target_logprob_before']:.4f} after "
                  f"{data['target_logprob_after']:.4f} delta {data['delta']:.4f}; controls "
                  f"{[round(d, 4) for d in controls]} (median {median:.4f}); greedy after "
                  f"{data['greedy_after']!r}")
    curve = run(capsys, "deletion-curve", *common, "--granularity", "lines", "--method",
                "grad_l2")
    report.append(f"deletion curve (lines, grad_l2): salience {curve['salience_order']}, "
                  f"random {curve['random_order']}, area {curve['area']:.4f}")
    with capsys.disabled():
        print("\n" + "\n".join(report))
    assert len(controls) == 5
    # Measured (Gemma 3 270M, float32): before -1.508, after -3.977, delta -2.469; control
    # deltas -0.738, 0.089, 0.230, 0.035, -1.406 (median 0.035); the greedy answer then stops
    # after the analysis line. Deletion curve (lines, Grad-L2): area 0.432.
    assert data["delta"] < 0
    assert data["delta"] < median
