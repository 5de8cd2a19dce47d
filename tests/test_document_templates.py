"""The two whole-document templates and their bundled sample document (issue 9, part 7)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from lib.documents import MAX_DOCUMENT_CHARS, extract_text
from lib.errors import InputError
from lib.templates import (
    APACHE_LICENSE_FILE,
    BUILTIN_TEMPLATES,
    document_variables,
    get_template,
    sample_document,
)

MPL = (Path(__file__).resolve().parent / "fixtures" / "documents" / "mpl-2.0.txt").read_text(
    "utf-8"
)
# md5 of https://www.apache.org/licenses/LICENSE-2.0.txt (also Debian's common-licenses copy).
APACHE_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"
MPL_MD5 = "815ca599c9df247a0c7f619bab123dad"  # Debian's /usr/share/common-licenses/MPL-2.0


def test_sample_documents_are_the_exact_licence_texts():
    data = APACHE_LICENSE_FILE.read_bytes()
    assert hashlib.md5(data).hexdigest() == APACHE_MD5
    text = sample_document()
    assert text.split("\n")[1].strip() == "Apache License"
    assert "END OF TERMS AND CONDITIONS" in text and text.rstrip().endswith("the License.")
    # It is a valid upload too (well within the limits).
    assert extract_text("apache-2.0.txt", data).text == text
    assert hashlib.md5(MPL.encode("utf-8")).hexdigest() == MPL_MD5


@pytest.mark.parametrize(
    ("template_id", "title", "doc_var", "other", "before", "after"),
    [
        ("policy-compliance", "Does this case comply with the policy?", "policy_document",
         "case", "Policy:\n", "\n\nCase: "),
        ("contract-question", "Answer a question about a contract", "document",
         "question", "Contract:\n", "\n\nQuestion: "),
    ],
)
def test_document_templates_render_with_the_whole_document(
    template_id, title, doc_var, other, before, after
):
    t = get_template(template_id)
    assert t in BUILTIN_TEMPLATES and t.title == title
    assert t.variables == [doc_var, other]
    assert t.document_variables == (doc_var,)
    assert document_variables(t.text, t.document_variables) == [doc_var]
    apache = sample_document()
    assert t.default_values()[doc_var] == apache
    prompt = t.render()
    assert prompt.count(apache) == 1
    assert before + apache + after in prompt
    assert prompt.endswith("\n\nAnswer:") and t.stop == ("\n\n",)
    assert len(prompt) < MAX_DOCUMENT_CHARS
    # Another real document replaces the default one entirely.
    swapped = t.render({doc_var: MPL})
    assert before + MPL + after in swapped and "Apache License" not in swapped
    with pytest.raises(InputError) as info:
        t.render({doc_var: "  \n"})
    assert info.value.field == doc_var


def test_document_variable_convention_for_typed_templates():
    text = "Compare {document} with {policy_document} for {reader} ({documents})."
    assert document_variables(text) == ["document", "policy_document"]
    assert document_variables(text, declared=("reader",)) == [
        "document", "policy_document", "reader",
    ]
    assert document_variables(get_template("summary").text) == []
