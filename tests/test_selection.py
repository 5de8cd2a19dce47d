"""Every rule of the selection model (lib.selection): URL forms, clicks, stored forms, ranges."""

from __future__ import annotations

import pytest

from lib.errors import InputError
from lib.records import Segment
from lib.selection import (
    compare_in_range,
    compare_selection_from_stored,
    format_compare_selection,
    format_selection,
    in_range,
    next_compare_selection,
    next_selection,
    parse_compare_selection,
    parse_selection,
    selected_indices,
    selection_from_stored,
    target_tokens,
)


# ---- URL form, Debug --------------------------------------------------------------------------
@pytest.mark.parametrize("text, want", [
    ("5", (5, 5)), ("5-7", (5, 7)), ("7-5", (5, 7)), (" 3 ", (3, 3)), ("0", (0, 0)),
    (None, None), ("", None),
])
def test_parse_selection(text, want):
    assert parse_selection(text) == want


@pytest.mark.parametrize("bad", ["x", "5-", "-5", "1-2-3", "5,7", "1" * 21, "５", "²", "1-²", "<b>1</b>"])
def test_parse_selection_rejects_with_a_sentence_naming_sel(bad):
    with pytest.raises(InputError) as e:
        parse_selection(bad)
    assert e.value.field == "sel"
    assert "sel=" in str(e.value)


@pytest.mark.parametrize("sel, text", [((5, 5), "5"), ((5, 7), "5-7"), (None, None)])
def test_format_selection_round_trips(sel, text):
    assert format_selection(sel) == text
    assert parse_selection(text) == sel


# ---- URL form, Compare ------------------------------------------------------------------------
@pytest.mark.parametrize("text, want", [
    ("0:5", (0, 5, 5)), ("2:5-7", (2, 5, 7)), ("1:7-5", (1, 5, 7)), (None, None), ("", None),
])
def test_parse_compare_selection(text, want):
    assert parse_compare_selection(text) == want


@pytest.mark.parametrize("bad", ["5", ":5", "a:5", "0:", "0:x", "123:4", "0:1-2-3", "-1:3", "²:1"])
def test_parse_compare_selection_rejects(bad):
    with pytest.raises(InputError) as e:
        parse_compare_selection(bad)
    assert e.value.field == "sel"


@pytest.mark.parametrize("sel, text", [((0, 5, 5), "0:5"), ((2, 5, 7), "2:5-7"),
                                       (None, None)])
def test_format_compare_selection_round_trips(sel, text):
    assert format_compare_selection(sel) == text
    assert parse_compare_selection(text) == sel


# ---- clicks -----------------------------------------------------------------------------------
def test_click_selects_a_single_segment_and_sets_the_anchor():
    assert next_selection(None, 4, False) == ((4, 4), 4)
    assert next_selection((1, 3), 4, False, 1) == ((4, 4), 4)


def test_click_on_the_sole_selection_clears():
    assert next_selection((4, 4), 4, False, 4) == (None, None)


def test_click_inside_a_range_selects_only_that_segment():
    assert next_selection((2, 6), 4, False, 2) == ((4, 4), 4)


def test_shift_click_extends_from_the_anchor_either_way():
    assert next_selection((4, 4), 7, True, 4) == ((4, 7), 4)
    assert next_selection((4, 7), 2, True, 4) == ((2, 4), 4)
    # Without a remembered anchor the range's first segment is the anchor.
    assert next_selection((4, 7), 9, True, None) == ((4, 9), 4)


def test_shift_click_with_nothing_selected_is_a_plain_click():
    assert next_selection(None, 3, True, None) == ((3, 3), 3)


def test_shift_click_on_the_anchor_keeps_one_segment_selected():
    assert next_selection((4, 7), 4, True, 4) == ((4, 4), 4)


def test_compare_click_in_the_same_column_follows_the_debug_rules():
    assert next_compare_selection(None, 1, 5, False) == ((1, 5, 5), 5)
    assert next_compare_selection((1, 5, 5), 1, 8, True, 5) == ((1, 5, 8), 5)
    assert next_compare_selection((1, 5, 5), 1, 5, False, 5) == (None, None)


def test_compare_click_in_another_column_starts_afresh_there():
    assert next_compare_selection((0, 5, 5), 2, 5, False, 5) == ((2, 5, 5), 5)
    # Shift never spans columns, and the other column's anchor is not reused.
    assert next_compare_selection((0, 2, 4), 1, 9, True, 2) == ((1, 9, 9), 9)


# ---- stored forms -----------------------------------------------------------------------------
def test_stored_selections():
    assert selection_from_stored(None) is None
    assert selection_from_stored([3, 5]) == (3, 5)
    assert selection_from_stored([5, 3]) == (3, 5)
    assert compare_selection_from_stored(None) is None
    assert compare_selection_from_stored([1, 4]) == (1, 4, 4)  # first Compare records
    assert compare_selection_from_stored([1, 6, 4]) == (1, 4, 6)


# ---- out of range -----------------------------------------------------------------------------
def test_in_range_needs_both_ends_among_the_output_segments():
    valid = {3, 4, 5}
    assert in_range((3, 5), valid)
    assert in_range((4, 4), valid)
    assert not in_range((2, 4), valid)
    assert not in_range((4, 9), valid)
    assert not in_range(None, valid)


def test_compare_in_range_checks_the_column_too():
    cols = [{1, 2}, {5, 6}]
    assert compare_in_range((1, 5, 6), cols)
    assert not compare_in_range((0, 5, 6), cols)
    assert not compare_in_range((2, 1, 1), cols)
    assert not compare_in_range((-1, 1, 1), cols)
    assert not compare_in_range(None, cols)


def _seg(index: int, tokens: tuple[int, ...]) -> Segment:
    return Segment(index=index, start=index, end=index + 1, text="x", token_indices=tokens,
                   in_prompt=False)


def test_selected_indices_and_target_tokens():
    segs = [_seg(3, (10, 11)), _seg(4, (12,)), _seg(5, (13, 14))]
    assert selected_indices(segs, None) == []
    assert selected_indices(segs, (4, 5)) == [4, 5]
    assert target_tokens(segs, (4, 5)) == [12, 13, 14]
    assert target_tokens(segs, (3, 3)) == [10, 11]
    assert target_tokens(segs, (7, 9)) == []


def test_new_click_reads_the_payload_and_drops_a_replayed_one():
    from lib.selection import new_click

    click = {"index": 4, "shift": True, "id": "k1-abc"}
    assert new_click(click, None) == (4, True, "k1-abc")
    assert new_click(click, "k0-old") == (4, True, "k1-abc")
    # The same click delivered twice is handled once (a second toggle would clear it).
    assert new_click(click, "k1-abc") is None
    # A genuine second click on the same segment has a new id: it toggles as usual.
    assert new_click({**click, "id": "k2-def"}, "k1-abc") == (4, True, "k2-def")
    assert new_click({"index": 2}, "k1-abc") == (2, False, "")  # no id: nothing to compare


@pytest.mark.parametrize("payload", [None, "3", {}, {"index": "3"}, {"index": True},
                                     {"index": 2.0}, ["index", 3]])
def test_new_click_ignores_what_is_not_a_click(payload):
    from lib.selection import new_click

    assert new_click(payload, None) is None
