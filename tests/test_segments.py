"""Segmentation on hand-made token sequences (no model needed)."""

from __future__ import annotations

import pytest

from lib.errors import InputError
from lib.records import Token, TokenSequence
from lib.segments import (
    GRANULARITIES,
    compile_pattern,
    find_segment,
    segment_scores,
    segment_sequence,
)
from tests.hostile_corpus import REGEX_COMPILE_BOMBS


def make_seq(
    prompt_pieces: list[str], target_pieces: list[str], *, bos: bool = True, special=()
) -> TokenSequence:
    """Tokens whose texts concatenate to prompt + target; `<bos>` zero-width at 0.

    Pieces listed in `special` become special tokens spanning their own characters.
    A piece "" becomes a zero-width (byte-fallback style) token.
    """
    tokens: list[Token] = []
    if bos:
        tokens.append(Token(0, 2, "<bos>", 0, 0, True, True))
    pos = 0
    for in_prompt, pieces in ((True, prompt_pieces), (False, target_pieces)):
        for piece in pieces:
            tokens.append(
                Token(len(tokens), 100 + len(tokens), piece, pos, pos + len(piece),
                      piece in special, in_prompt)
            )
            pos += len(piece)
    prompt_length = len(prompt_pieces) + (1 if bos else 0)
    return TokenSequence(
        input_text="".join(prompt_pieces),
        target="".join(target_pieces),
        tokens=tuple(tokens),
        prompt_length=prompt_length,
    )


PROMPT = ["Hello", " world", ".", " How", " are", " you", "?", "\n", "Fine", " thanks", "\n\n",
          "New", " para", "."]
TARGET = [" It", " is", " good", ".", "\n", "Recommendation", ":", " Avoid", ".", "\n"]


def texts(segments):
    return [s.text for s in segments]


@pytest.fixture
def seq():
    return make_seq(PROMPT, TARGET)


def check_invariants(seq, segments, include_special=False):
    boundary = len(seq.input_text)
    assert [s.index for s in segments] == list(range(len(segments)))
    seen = []
    for s in segments:
        assert list(s.token_indices) == list(range(s.token_indices[0], s.token_indices[-1] + 1))
        toks = [seq.tokens[i] for i in s.token_indices]
        assert s.start == min(t.start for t in toks) and s.end == max(t.end for t in toks)
        assert s.text == seq.text[s.start:s.end]
        if s.in_prompt:
            assert s.end <= boundary and s.token_indices[-1] < seq.prompt_length
        else:
            assert s.start >= boundary and s.token_indices[0] >= seq.prompt_length
        seen.extend(s.token_indices)
    # Every token exactly once, except hidden specials.
    expected = [t.index for t in seq.tokens if include_special or not t.special]
    assert sorted(seen) == expected
    # Prompt segments first.
    flags = [s.in_prompt for s in segments]
    assert flags == sorted(flags, reverse=True)


@pytest.mark.parametrize("granularity", [g for g in GRANULARITIES if g != "regex"])
def test_invariants_all_granularities(seq, granularity):
    check_invariants(seq, segment_sequence(seq, granularity))
    check_invariants(seq, segment_sequence(seq, granularity, include_special=True), True)


def test_tokens_one_per_token_and_bos_hidden(seq):
    segs = segment_sequence(seq, "tokens")
    assert len(segs) == len(seq.tokens) - 1
    assert segs[0].token_indices == (1,)
    assert texts(segs)[:3] == ["Hello", " world", "."]
    shown = segment_sequence(seq, "tokens", include_special=True)
    assert shown[0].token_indices == (0,) and shown[0].text == "" and shown[0].in_prompt
    assert len(shown) == len(seq.tokens)


def test_words(seq):
    segs = segment_sequence(seq, "words")
    assert texts(segs) == [
        "Hello", " world.", " How", " are", " you?\n", "Fine", " thanks\n\n", "New", " para.",
        " It", " is", " good.\n", "Recommendation:", " Avoid.\n",
    ]
    assert [s.in_prompt for s in segs].count(True) == 9


def test_sentences(seq):
    segs = segment_sequence(seq, "sentences")
    assert texts(segs) == [
        "Hello world.", " How are you?\n", "Fine thanks\n\n", "New para.",
        " It is good.\n", "Recommendation: Avoid.\n",
    ]


def test_sentence_needs_space_after_period():
    s = make_seq(["Pi", " is", " 3", ".", "14", " today", ".", " Yes", "!"], [])
    assert texts(segment_sequence(s, "sentences")) == ["Pi is 3.14 today.", " Yes!"]


def test_lines(seq):
    segs = segment_sequence(seq, "lines")
    assert texts(segs) == [
        "Hello world. How are you?\n", "Fine thanks\n\n", "New para.",
        " It is good.\n", "Recommendation: Avoid.\n",
    ]
    rec = segs[4]
    assert not rec.in_prompt and rec.token_indices == tuple(range(20, 25))


def test_paragraphs(seq):
    segs = segment_sequence(seq, "paragraphs")
    assert texts(segs) == [
        "Hello world. How are you?\nFine thanks\n\n", "New para.",
        " It is good.\nRecommendation: Avoid.\n",
    ]


def test_never_crosses_boundary():
    # The prompt ends mid-word ("Analy" + "sis") and mid-line: still two segments.
    s = make_seq(["Analy"], ["sis", ":", " ok"])
    for g in ("words", "sentences", "lines", "paragraphs"):
        segs = segment_sequence(s, g)
        assert texts(segs)[0] == "Analy", g
        assert segs[0].in_prompt and not segs[1].in_prompt
        check_invariants(s, segs)


def test_leading_whitespace_joins_next_and_zero_width_joins_previous():
    s = make_seq(["\n", "Hi", "", " there"], [" ", "ok"])
    segs = segment_sequence(s, "words")
    assert [s_.token_indices for s_ in segs] == [(1, 2, 3), (4,), (5, 6)]
    assert texts(segs) == ["\nHi", " there", " ok"]


def test_token_granularity_zero_width_joins_previous():
    s = make_seq(["a", "", "b"], [])
    assert [x.token_indices for x in segment_sequence(s, "tokens")] == [(1, 2), (3,)]


def test_special_token_in_text_is_hidden_and_splits():
    s = make_seq(["<start_of_turn>", "user", "\n", "Hi"], ["ok"], special={"<start_of_turn>"})
    segs = segment_sequence(s, "lines")
    assert texts(segs) == ["user\n", "Hi", "ok"]
    assert all(1 not in x.token_indices for x in segs)
    shown = segment_sequence(s, "lines", include_special=True)
    assert texts(shown) == ["", "<start_of_turn>", "user\n", "Hi", "ok"]
    assert shown[0].token_indices == (0,) and shown[1].token_indices == (1,)
    check_invariants(s, shown, include_special=True)


def test_regex_units_and_gaps():
    s = make_seq(["a", ",", " b", ",", " c"], ["x", ";", "y"])
    segs = segment_sequence(s, "regex", pattern=r"[^,;]+")
    # Matches are units and so is the text between them.
    assert texts(segs) == ["a", ",", " b", ",", " c", "x", ";", "y"]
    check_invariants(s, segs)


@pytest.mark.parametrize(
    "pattern", ["(", "a*", "(?=a)", "", "x" * 600, r"\b"],
)
def test_regex_bad_patterns(seq, pattern):
    with pytest.raises(InputError) as err:
        segment_sequence(seq, "regex", pattern=pattern)
    assert err.value.field == "pattern"
    assert "pattern" in str(err.value)


def test_regex_catastrophic_pattern_times_out():
    s = make_seq(["a" * 40 + "!"], [])
    with pytest.raises(InputError) as err:
        segment_sequence(s, "regex", pattern=r"(a|aa)+$")
    assert err.value.field == "pattern" and "longer than" in str(err.value)


def test_unknown_granularity(seq):
    with pytest.raises(InputError) as err:
        segment_sequence(seq, "chapters")
    assert err.value.field == "granularity"


def test_segment_scores_sums(seq):
    segs = segment_sequence(seq, "lines")
    scores = [float(i) for i in range(len(seq.tokens))]
    sums = segment_scores(segs, scores)
    assert sums == [sum(range(1, 9)), 9 + 10 + 11, 12 + 13 + 14, sum(range(15, 20)),
                    sum(range(20, 25))]
    # Hidden <bos> (score 0 here) is nowhere; total over segments = total over shown tokens.
    assert sum(sums) == sum(scores[1:])
    with pytest.raises(ValueError):
        segment_scores(segs, scores[:5])


def test_find_segment(seq):
    segs = segment_sequence(seq, "words")
    rec = seq.text.index("Recommendation")
    assert segs[find_segment(segs, rec, rec + 5)].text == "Recommendation:"
    # A span overlapping two words goes to the one it overlaps most.
    assert segs[find_segment(segs, rec - 3, rec + 10)].text == "Recommendation:"
    assert segs[find_segment(segs, 0, 0)].text == "Hello"
    assert find_segment(segs, len(seq.text) + 5, len(seq.text) + 9) is None


@pytest.mark.parametrize("pattern", REGEX_COMPILE_BOMBS)
def test_regex_compile_bombs_are_refused_before_compiling(monkeypatch, pattern):
    """The match timeout does not cover compiling: a bomb must never reach regex.compile."""
    import lib.segments as segments_mod

    calls: list[str] = []
    real = segments_mod.regex.compile

    def spy(p, *a, **kw):
        calls.append(p)
        return real(p, *a, **kw)

    monkeypatch.setattr(segments_mod.regex, "compile", spy)
    with pytest.raises(InputError) as err:
        compile_pattern(pattern)
    assert err.value.field == "pattern"
    assert "pattern" in str(err.value)
    assert calls == []


@pytest.mark.parametrize(
    "pattern",
    [r"\S+", r"[^,;]+", r"\d{4}-\d{2}-\d{2}", r"(?:\w+\s){1,50}", r"\p{L}+", r"(?i)[a-z]{2,300}",
     "(?:a{300}){300}", r"[(]\w+[)]", r"(?P<w>\w+)"],
)
def test_ordinary_patterns_still_compile(pattern):
    assert compile_pattern(pattern).pattern == pattern


def test_compiled_patterns_stay_out_of_the_process_wide_cache(monkeypatch):
    import sys

    import lib.segments as segments_mod

    seen: list[dict] = []
    real = segments_mod.regex.compile

    def spy(p, *a, **kw):
        seen.append(kw)
        return real(p, *a, **kw)

    monkeypatch.setattr(segments_mod.regex, "compile", spy)
    main = sys.modules[real.__module__]
    before = len(getattr(main, "_cache", {}))
    for n in range(20):
        compile_pattern(f"x{{{n + 1}}}yz")
    assert seen and all(kw.get("cache_pattern") is False for kw in seen)
    assert len(getattr(main, "_cache", {})) == before


def _true_size(tree) -> int:
    """The same upper bound as lib.segments' estimate, computed on Python's own parse tree."""
    from re import _constants as c

    total = 0
    for op, av in tree:
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            bound = max(lo, 1) if hi == c.MAXREPEAT else max(lo, hi, 1)
            total += _true_size(sub) * bound if lo or hi != c.MAXREPEAT else _true_size(sub)
        elif op == c.SUBPATTERN:
            total += max(_true_size(av[-1]), 1)
        elif op in (c.ATOMIC_GROUP,):
            total += max(_true_size(av), 1)
        elif op == c.BRANCH:
            total += sum(_true_size(b) for b in av[1])
        elif op in (c.ASSERT, c.ASSERT_NOT):
            total += _true_size(av[1])
        else:
            total += 1
    return total


def test_the_size_estimate_never_reads_a_structure_smaller_than_it_is():
    """Random patterns mixing groups, classes holding brackets and parentheses, escapes and
    comments: whenever Python's own parser (same syntax as `regex` version 0 for these pieces)
    finds the expanded size over the budget, the estimate refuses the pattern too."""
    import random
    import re
    import warnings

    from lib.segments import MAX_PATTERN_SIZE, check_pattern_size

    atoms = ["a", "b", "[(]", "[)]", "[]]", "[^]]", "[\\]]", "[a-c]", "\\(", "\\)", "\\[",
             "\\{", "{", "}", "(?#)", "(?#(()", "(?<=b)", "[[]", "[)(]", "x{", "(?=a)", "[])]",
             "[^])(]", "[\\])]"]
    opens = ["(?:", "(", "(?>", "(?P<n{}>", "(?!"]
    quants = ["", "", "+", "*", "?", "{12}", "{300}", "{2,400}", "{,500}", "{700,}", "{30}+"]
    rng = random.Random(20261201)

    def gen(depth: int) -> str:
        out = []
        for _ in range(rng.randint(1, 3)):
            if depth < 4 and rng.random() < 0.5:
                out.append(rng.choice(opens).format(rng.randint(0, 10**6)) + gen(depth + 1)
                           + ")" + rng.choice(quants))
            else:
                out.append(rng.choice(atoms) + rng.choice(quants))
            if rng.random() < 0.15:
                out.append("|")
        return "".join(out)

    checked = refused = 0
    for _ in range(4000):
        pattern = gen(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # "possible nested set"
                tree = re._parser.parse(pattern)
        except (re.error, RecursionError, OverflowError):
            continue
        checked += 1
        if _true_size(tree) > MAX_PATTERN_SIZE:
            refused += 1
            with pytest.raises(InputError):
                check_pattern_size(pattern)
    assert checked > 1000 and refused > 100  # the sample really explored big structures
