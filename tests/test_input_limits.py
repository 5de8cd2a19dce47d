"""Character limits on every typed text, checked before tokenising (issue 12 item 2)."""

from __future__ import annotations

import pytest

from lib import input_limits as lim
from lib.errors import InputError, LimitError
from tests.hostile_corpus import corpus_text

SINGLE = [
    (lim.check_prompt_chars, "prompt", lim.MAX_PROMPT_CHARS),
    (lim.check_target_chars, "target", lim.MAX_TARGET_CHARS),
    (lim.check_template_chars, "template", lim.MAX_TEMPLATE_CHARS),
    (lim.check_stop_field, "stop", lim.MAX_STOP_FIELD_CHARS),
]


@pytest.mark.parametrize("check, field, limit", SINGLE)
def test_text_at_the_limit_passes_and_one_more_is_refused(check, field, limit):
    assert check("x" * limit) == "x" * limit
    with pytest.raises(LimitError) as err:
        check("x" * (limit + 1))
    msg = str(err.value)
    assert err.value.field == field
    assert f"{limit + 1:,} characters" in msg and f"limit is {limit:,}" in msg


@pytest.mark.parametrize("check, field, limit", SINGLE)
def test_non_text_is_an_input_error_naming_the_field(check, field, limit):
    for bad in (None, 5, b"bytes", ["list"]):
        with pytest.raises(InputError) as err:
            check(bad)
        assert err.value.field == field and "must be text" in str(err.value)


def test_limits_count_characters_not_bytes():
    emoji = "😀" * lim.MAX_TARGET_CHARS  # 4 bytes each in UTF-8: still at the limit
    assert lim.check_target_chars(emoji) == emoji
    assert lim.check_prompt_chars(corpus_text()) == corpus_text()  # the hostile corpus fits


def test_variables_count_names_and_values():
    ok = {f"v{i}": "x" * lim.MAX_VARIABLE_VALUE_CHARS for i in range(lim.MAX_VARIABLES)}
    assert lim.check_variables(ok) == ok
    with pytest.raises(LimitError) as err:
        lim.check_variables({**ok, "one_more": "x"})
    assert err.value.field == "variables" and f"limit is {lim.MAX_VARIABLES}" in str(err.value)
    with pytest.raises(LimitError) as err:
        lim.check_variables({"topic": "x" * (lim.MAX_VARIABLE_VALUE_CHARS + 1)})
    assert err.value.field == "topic" and "{topic}" in str(err.value)
    with pytest.raises(LimitError) as err:
        lim.check_variables({"n" * (lim.MAX_VARIABLE_NAME_CHARS + 1): "x"})
    assert err.value.field == "variables" and "variable name" in str(err.value)
    with pytest.raises(InputError, match="must be text"):
        lim.check_variables({"topic": 3})
    with pytest.raises(InputError, match="names with text values"):
        lim.check_variables(["topic"])


def test_stop_strings_count_and_length():
    ok = tuple("s" * lim.MAX_STOP_CHARS for _ in range(lim.MAX_STOP_STRINGS))
    assert lim.check_stop_strings(ok) == ok
    assert lim.check_stop_strings([]) == ()
    with pytest.raises(LimitError) as err:
        lim.check_stop_strings(ok + ("x",))
    assert err.value.field == "stop" and f"limit is {lim.MAX_STOP_STRINGS}" in str(err.value)
    with pytest.raises(LimitError) as err:
        lim.check_stop_strings(("ok", "s" * (lim.MAX_STOP_CHARS + 1)))
    assert err.value.field == "stop" and "Stop text 2" in str(err.value)
    with pytest.raises(InputError):
        lim.check_stop_strings("a single string")


def test_the_widest_stop_field_still_decodes_within_the_stop_limits():
    """The field limit is wide enough for the most stop texts a user may type, escaped."""
    from lib.ui.common import decode_stop, encode_stop

    widest = tuple("\n" * lim.MAX_STOP_CHARS for _ in range(lim.MAX_STOP_STRINGS))
    field = encode_stop(widest)
    assert lim.check_stop_field(field) == field
    assert lim.check_stop_strings(decode_stop(field)) == widest
