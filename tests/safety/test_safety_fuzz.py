"""Fuzzing the command line (issue 12): any argument vector and text -> exit 0 or 2, never a traceback."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_text_lrp import cli

pytestmark = pytest.mark.filterwarnings("ignore:Layer 'bigram_conv'")

HOSTILE = ["\x1b]0;x\x07", "\x1b[2J", "\x9b", "\x9d", "\u202e", "\u2066", "\udce9", "\x00", "\t", "\n", "",
           " ", "-", "--", "good", "movie", "a", "\U0001f600", "\u00e9"]
texts = st.one_of(
    st.lists(st.sampled_from(HOSTILE), max_size=6).map(" ".join),
    st.text(max_size=30),
    st.just("good " * 2000),  # huge: cut by --max-tokens
)
options = st.sampled_from([
    [], ["--method", "gradient"], ["--method", "lrp.epsilon,nope"], ["--method", ""], ["--target", "7"],
    ["--target", "pred"], ["--target", "\x1b[31m"], ["--labels", "a,b,c"], ["--labels", "\x9b,b,\u202e"],
    ["--labels", "a,a,b"], ["--batch-size", "-1"], ["--max-tokens", "3"], ["--max-len", "0"], ["-q"],
    ["--no-color"], ["--json", "-"], ["--jsonl", "-"], ["--file", "/nonexistent\x1b"], ["--bogus"],
])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(texts, min_size=0, max_size=3), extra=st.lists(options, max_size=3))
def test_the_cli_exits_0_or_2_and_never_prints_a_traceback(words, extra, model_file, capsys):
    argv = ["explain", "--model", str(model_file), *[a for o in extra for a in o], "--", *words]
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert code in (0, 2), (argv, err)
    assert "Traceback" not in out + err
    for text in (out, err):
        assert "\x1b" not in text and "\x9b" not in text and "\x9d" not in text  # colour off: not a terminal
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, err
    elif "--json" in argv:
        assert len(json.loads(out)) == len(words)
