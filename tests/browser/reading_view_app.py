"""A one-element Streamlit page for tests/browser/test_reading_view.py: the reading view of the
Apache License text (tiny vocabulary, scores counting the word "licen") drawn with `st.html`,
exactly as the Debug page would draw it. Not an app page: the test starts it on its own."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import streamlit as st  # noqa: E402

from lib.models.tiny_vocab import tiny_vocab_proto  # noqa: E402
from lib.render_reading import render_reading_view_html  # noqa: E402
from lib.segments import segment_scores, segment_sequence  # noqa: E402
from lib.templates import sample_document  # noqa: E402
from lib.tokenizer import TextTokenizer  # noqa: E402
from tests.test_reading import tokenise, word_scores  # noqa: E402

seq = tokenise(TextTokenizer(tiny_vocab_proto()), sample_document())
token_scores = word_scores(seq)
granularity = st.query_params.get("g", "words")
segments = segment_sequence(seq, granularity)
scores = segment_scores(segments, token_scores)
st.title("Reading view")
st.html(render_reading_view_html(seq, segments, scores, None, token_scores, palette="blues",
                                 fold_share=0.3, part="all"))
