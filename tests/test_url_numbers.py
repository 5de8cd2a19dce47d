"""Numbers read from a URL accept ASCII digits only (`'²'.isdigit()` is True, `int('²')` fails)."""

from __future__ import annotations

import pytest

from lib.errors import InputError
from lib.selection import parse_selection
from tests.hostile_corpus import NON_ASCII_DIGITS


@pytest.mark.parametrize("digit", NON_ASCII_DIGITS)
@pytest.mark.parametrize("form", ["{d}", "1-{d}", "{d}-1", "1{d}"])
def test_selection_with_non_ascii_digits_is_a_clear_input_error(digit, form):
    with pytest.raises(InputError) as err:
        parse_selection(form.format(d=digit))
    assert err.value.field == "sel" and "segment number" in str(err.value)


def test_plain_selections_still_parse():
    assert parse_selection("5") == (5, 5)
    assert parse_selection("7-5") == (5, 7)
    assert parse_selection(None) is None
