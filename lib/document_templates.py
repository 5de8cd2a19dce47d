"""Built-in templates over a whole document (a policy, a contract), filled by default with a
real, redistributable sample document so the story works out of the box."""

from __future__ import annotations

from lib.templates import PromptTemplate, sample_document

_BLANK_LINE = ("\n\n",)
_APACHE = sample_document()

# Whole-document prompts (issue 9): a document variable filled with a real licence text. The
# {#input} marker (lib/part_markers.py) names the case or question and the answer cue as the
# input part for salience by part; it is not rendered.
DOCUMENT_TEMPLATES: tuple[PromptTemplate, ...] = (
    PromptTemplate(
        id="policy-compliance",
        title="Does this case comply with the policy?",
        text=(
            "Read the policy and the case below. Does the case comply with the policy? Answer "
            '"Yes" or "No", then name the section of the policy that decides it and say why '
            "in one sentence.\n\n"
            "Policy:\n{policy_document}\n\n"
            "{#input}\nCase: {case}\n\n"
            "Answer:"
        ),
        defaults=(
            ("policy_document", _APACHE),
            (
                "case",
                "A company ships a modified copy of software licensed under this policy inside "
                "its product. It deleted the original NOTICE file, did not mark which files it "
                "changed, and gives customers no copy of the license.",
            ),
        ),
        stop=_BLANK_LINE,
        description=(
            "A whole policy (the Apache License 2.0 by default: paste or upload your own) and "
            "one case. Switch to paragraphs and check that the answer rests on the "
            "redistribution section (4), not on the title or the definitions."
        ),
        document_variables=("policy_document",),
    ),
    PromptTemplate(
        id="contract-question",
        title="Answer a question about a contract",
        text=(
            "Answer the question using only the contract below. Quote the sentence of the "
            "contract that supports your answer.\n\n"
            "Contract:\n{document}\n\n"
            "{#input}\nQuestion: {question}\n\n"
            "Answer:"
        ),
        defaults=(
            ("document", _APACHE),
            (
                "question",
                "I received the software under this license. What happens to my patent "
                "license if I sue someone, claiming that the software infringes my patent?",
            ),
        ),
        stop=_BLANK_LINE,
        description=(
            "Question answering over a whole contract (the Apache License 2.0 by default: "
            "paste or upload your own). The answer should rest on the patent-termination "
            "sentence of section 3; the jump list shows whether it does."
        ),
        document_variables=("document",),
    ),
)
