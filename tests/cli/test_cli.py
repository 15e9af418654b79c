"""The keras-text-lrp command line: outputs equal explain(), HTML escaping, streaming, errors, demo."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from keras_text_lrp import cli, models
from keras_text_lrp.explain import explain
from keras_text_lrp.text import tokenize

pytestmark = pytest.mark.filterwarnings("ignore:Layer .bigram_conv.:UserWarning")

TEXTS = ["A good movie, not a boring film.", "It's very dull (and the acting is bad)."]
LABELS = ["very negative", "negative", "neutral", "positive", "very positive"]


class _Page(HTMLParser):
    """Collects the text of every token span and every table heading of a heatmap page."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[str] = []
        self.heads: list[str] = []
        self.oov: list[bool] = []
        self._where: str | None = None

    def handle_starttag(self, tag, attrs):
        # A scored word: "ktl-tok" (with "ktl-oov" when out of the vocabulary); not the legend's sample.
        a = dict(attrs)
        if tag == "span" and "ktl-tok" in (a.get("class") or "").split() and "data-score" in a:
            self._where = "token"
            self.tokens.append("")
            self.oov.append("ktl-oov" in a["class"].split())
        elif tag == "th":
            self._where = "head"
            self.heads.append("")

    def handle_endtag(self, tag):
        if tag in ("span", "th"):
            self._where = None

    def handle_data(self, data):
        if self._where == "token":
            self.tokens[-1] += data
        elif self._where == "head":
            self.heads[-1] += data


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def _records_match(records, explanation, methods):
    assert len(records) == len(explanation)
    for i, record in enumerate(records):
        assert record["text"] == explanation.texts[i]
        assert record["tokens"] == explanation.tokens[i]
        assert [tuple(o) for o in record["offsets"]] == explanation.offsets[i]
        assert sorted(record["scores"]) == sorted(methods)
        for method in methods:
            np.testing.assert_allclose(record["scores"][method], explanation.scores[method][i],
                                       rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(record["logits"], explanation.logits[i], rtol=1e-6, atol=1e-6)
        assert record["predicted"] == int(explanation.predicted[i])
        assert record["target"] == int(explanation.target[i])
        assert record["labels"] == LABELS


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------------ explain
def test_json_equals_explain(model_files, tmp_path, capsys):
    out = tmp_path / "out.json"
    methods = ["lrp.epsilon", "gradient"]
    rc = cli.main(["explain", *TEXTS, "--model", str(model_files["tiny"]), "--method", "lrp.epsilon",
                   "--method", "gradient", "--json", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    records = json.loads(out.read_text(encoding="utf-8"))
    _records_match(records, explain(model_files["tiny"], TEXTS, methods), methods)
    for record in records:  # offsets are the tokens' positions in the text
        for token, (start, end) in zip(record["tokens"], record["offsets"], strict=True):
            assert record["text"][start:end].lower() == token
    # the terminal view: one heading per text with label names, one plain line per method
    lines = captured.out.splitlines()
    assert lines[0].startswith("[text 1] pred: ") and "target: " in lines[0]
    predicted = records[0]["predicted"]
    assert f"pred: {LABELS[predicted]} ({predicted})" in lines[0]
    first = records[0]["scores"]["lrp.epsilon"][0]
    written = records[0]["text"][slice(*records[0]["offsets"][0])]  # the view shows it as written
    assert written == "A" and lines[1].split()[:2] == ["lrp.epsilon", f"{written}[{first:+.2f}]"]
    assert lines[2].split()[0] == "gradient" and "\x1b[" not in captured.out
    assert f"wrote json: {out}" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_jsonl_to_stdout_sends_the_view_to_stderr(model_files, capsys):
    rc = cli.main(["explain", TEXTS[0], "--model", str(model_files["tiny"]), "--jsonl", "-",
                   "--method", "lrp.epsilon,integrated_gradients"])
    captured = capsys.readouterr()
    assert rc == 0
    (line,) = captured.out.splitlines()
    methods = ["lrp.epsilon", "integrated_gradients"]
    _records_match([json.loads(line)], explain(model_files["tiny"], TEXTS[0], methods), methods)
    assert "[text 1]" in captured.err


def test_html_parses_and_escapes_every_token(model_files, tmp_path, capsys):
    text = 'Good <script>alert("b & a")</script> movie & "great" acting'
    out = tmp_path / "page.html"
    rc = cli.main(["explain", text, TEXTS[1], "--model", str(model_files["tiny"]), "--html", str(out),
                   "--method", "lrp.epsilon", "--method", "gradient", "-q"])
    assert rc == 0, capsys.readouterr().err
    expected = explain(model_files["tiny"], [text, TEXTS[1]])
    raw = out.read_text(encoding="utf-8")
    assert raw.startswith("<!DOCTYPE html>") and "<script>" not in raw and "alert(\"" not in raw
    page = _parse(out)
    assert "lrp.epsilon" in page.heads and "gradient" in page.heads
    # table layout: per text, every token once per method, as written in the text
    tokens = [t for tokens in expected.display_tokens for t in tokens * 2]
    assert page.tokens == tokens and "<" in tokens and "&" in tokens and '"' in tokens and "Good" in tokens
    assert capsys.readouterr().out == ""  # --quiet


def test_views_show_the_characters_written_and_mark_oov_words(model_files, tmp_path, capsys):
    """The terminal and HTML views show each token as the text wrote it (not the model's lowercased,
    PTB-escaped form) and mark the word the vocabulary does not know."""
    text = 'Good (fun) "zzyzx" MOVIE'
    out = tmp_path / "page.html"
    rc = cli.main(["explain", text, "--model", str(model_files["tiny"]), "--html", str(out), "--no-color"])
    assert rc == 0, capsys.readouterr().err
    e = explain(model_files["tiny"], [text])
    assert e.tokens[0] == ["good", "(", "fun", ")", "``", "zzyzx", "''", "movie"]  # the model's forms
    assert e.display_tokens[0] == ["Good", "(", "fun", ")", '"', "zzyzx", '"', "MOVIE"]
    assert e.oov[0] == [t == "zzyzx" for t in e.tokens[0]]
    screen = capsys.readouterr().out
    line = next(line for line in screen.splitlines() if "lrp.epsilon" in line)
    scores = e.scores["lrp.epsilon"][0]
    shown = [("~" if o else "") + f"{t}[{s:+.2f}]" for t, s, o in zip(e.display_tokens[0], scores, e.oov[0])]
    assert line.split("lrp.epsilon", 1)[1].split() == shown
    page = _parse(out)
    assert page.tokens == e.display_tokens[0] and page.oov == e.oov[0]


def test_progress_bar_ticks_through_the_stages_of_one_long_text(model_files, monkeypatch):
    """One argument text past LONG_TEXT_CHARS gets a bar on a terminal's stderr, advancing per stage
    (tokens, logits, each method): 4 steps for 2 methods. Off the terminal and with -q: no bar."""
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    made, seen = cli._progress, []

    def recorded(total):  # the real bar; its updates recorded (what tqdm draws when is its own timing)
        bar = made(total)
        update, postfix = bar.update, bar.set_postfix_str
        bar.set_postfix_str = lambda s, refresh=True: (seen.append(s), postfix(s, refresh=refresh))[1]
        bar.update = lambda n=1: (seen.append((bar.n + n, bar.total)), update(n))[1]
        return bar

    monkeypatch.setattr(cli, "_progress", recorded)
    text = "good fun movie . " * (cli.LONG_TEXT_CHARS // 16 + 1)
    args = ["explain", text, "--model", str(model_files["tiny"]), "--method", "lrp.epsilon",
            "--method", "gradient", "--max-tokens", "50", "--json", os.devnull]
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    assert cli.main(args) == 0
    assert seen == ["tokens", (1, 4), "logits", (2, 4), "lrp.epsilon", (3, 4), "gradient", (4, 4)]
    assert re.search(r"4/4 \[.* steps", screen.getvalue())  # drawn on the terminal
    seen.clear()
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    assert cli.main(args + ["-q"]) == 0
    assert seen == [] and "steps" not in screen.getvalue()
    screen = io.StringIO()  # not a terminal: tqdm draws nothing
    monkeypatch.setattr(sys, "stderr", screen)
    assert cli.main(args) == 0
    assert "steps" not in screen.getvalue()


def test_terminal_colours(model_files, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    args = ["explain", "good fun", "--model", str(model_files["tiny"])]
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for extra, coloured in (([], True), (["--no-color"], False)):
        screen = Terminal()
        monkeypatch.setattr(sys, "stdout", screen)
        assert cli.main(args + extra) == 0
        assert ("\x1b[" in screen.getvalue()) == coloured
        assert ("good[" in screen.getvalue()) != coloured
    monkeypatch.setenv("NO_COLOR", "1")
    screen = Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    assert cli.main(args) == 0 and "\x1b[" not in screen.getvalue()


def test_file_streams_in_batches_like_one_explain_call(model_files, tmp_path, capsys):
    lines = ["A good movie, not a boring film.", "", "  ", "Great fun!", "It's very dull.",
             "the acting is bad", "Boring (very) boring"]
    source = tmp_path / "texts.txt"
    source.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n\n")
    out, out_lines = tmp_path / "out.json", tmp_path / "out.jsonl"
    rc = cli.main(["explain", "--file", str(source), "--model", str(model_files["tiny"]), "--batch-size",
                   "2", "--json", str(out), "--jsonl", str(out_lines), "--html", str(tmp_path / "p.html")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    texts = [line for line in lines if line.strip()]
    records = json.loads(out.read_text(encoding="utf-8"))
    _records_match(records, explain(model_files["tiny"], texts), ["lrp.epsilon"])
    assert [r["line"] for r in records] == [1, 4, 5, 6, 7]
    assert [json.loads(line) for line in out_lines.read_text(encoding="utf-8").splitlines()] == records
    assert "[line 4]" in captured.out and "[line 7]" in captured.out
    assert len(_parse(tmp_path / "p.html").tokens) == sum(len(r["tokens"]) for r in records)


def test_stdin(model_files, tmp_path, monkeypatch, capsys):
    data = b"good movie\n\nbad film\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    out = tmp_path / "out.jsonl"
    rc = cli.main(["explain", "--file", "-", "--model", str(model_files["tiny"]), "--jsonl", str(out),
                   "--target", "3", "-q"])
    assert rc == 0, capsys.readouterr().err
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    _records_match(records, explain(model_files["tiny"], ["good movie", "bad film"], target=3),
                   ["lrp.epsilon"])
    assert [r["target"] for r in records] == [3, 3]


def test_target_by_name(model_files, tmp_path, capsys):
    out = tmp_path / "out.json"
    rc = cli.main(["explain", *TEXTS, "--model", str(model_files["tiny"]), "--target", "Very Positive",
                   "--json", str(out), "-q"])
    assert rc == 0, capsys.readouterr().err
    records = json.loads(out.read_text(encoding="utf-8"))
    _records_match(records, explain(model_files["tiny"], TEXTS, target=4), ["lrp.epsilon"])


def test_warnings_for_oov_and_truncated_texts(model_files, tmp_path, capsys):
    rc = cli.main(["explain", "good movie", "zzyzx qwfp", "--model", str(model_files["tiny"]), "-q"])
    err = capsys.readouterr().err
    assert rc == 0
    assert err.strip() == ("warning: every token of text 2 is out of the vocabulary; its explanation "
                           "only shows the [UNK] embedding.")
    out = tmp_path / "cut.json"
    long_text = "a good movie , not a boring film , very fun ."
    rc = cli.main(["explain", long_text, "--model", str(model_files["fixed"]), "--json", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == 0
    assert ("warning: text 1 has 12 tokens but the model takes at most 6: only the first 6 are explained."
            in err)
    (record,) = json.loads(out.read_text(encoding="utf-8"))
    assert record["tokens"] == long_text.split()[:6]
    assert [long_text[s:e] for s, e in record["offsets"]] == record["tokens"]
    # --max-len cuts a variable-length model's input the same way
    rc = cli.main(["explain", long_text, "--model", str(model_files["tiny"]), "--max-len", "3", "-q"])
    assert rc == 0 and "only the first 3 are explained" in capsys.readouterr().err


# ------------------------------------------------------------------------------- errors
ERRORS = {
    "empty text": (["explain", ""], "text 1 is empty"),
    "whitespace text": (["explain", "good", " \t "], "text 2 is whitespace only"),
    "non-UTF-8 file": (["explain", "--file", "{latin1}"], "is not UTF-8 text: line 2 has the byte 0xe9"),
    "missing file": (["explain", "--file", "{tmp}/missing.txt"], "No such file or directory"),
    "blank file": (["explain", "--file", "{blank}"], "holds no text"),
    "unknown model": (["explain", "good", "--model", "sst5-transformer"], "unknown model 'sst5-transformer'"),
    "missing model file": (["explain", "good", "--model", "{tmp}/nothing.keras"], "does not exist"),
    "unreadable model": (["explain", "good", "--model", "{broken}"], "not a readable .keras archive"),
    "unknown method": (["explain", "good", "--method", "lrp.nope"], "unknown method 'lrp.nope'"),
    "not token ids": (["explain", "good", "--model", "{dense}"], "one input of token ids"),
    "target out of range": (["explain", "good", "--target", "7"], "target 7 is out of range"),
    "unknown class name": (["explain", "good", "--target", "meh"], "class name of the model"),
    "bad batch size": (["explain", "good", "--batch-size", "0"], "positive integer"),
    "no output folder": (["explain", "good", "--json", "{tmp}/no/such/dir/x.json"], "does not exist"),
    "texts and file": (["explain", "good", "--file", "{blank}"], "not both"),
    "nothing": (["explain"], "nothing to explain"),
    "no command": ([], "required"),
    "demo n": (["demo", "--n", "99"], "--n must be between 1 and 12"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_exit_2_with_one_line_and_no_output(case, model_files, tmp_path, capsys):
    (tmp_path / "latin1.txt").write_bytes("good movie\ncaf\xe9 film\n".encode("latin-1"))
    (tmp_path / "blank.txt").write_text("\n  \n\n", encoding="utf-8")
    names = {"tmp": tmp_path, "latin1": tmp_path / "latin1.txt", "blank": tmp_path / "blank.txt",
             **{key: model_files[key] for key in ("tiny", "broken", "dense")}}
    argv, message = ERRORS[case]
    argv = [arg.format(**names) for arg in argv]
    if argv and argv[0] == "explain":
        if "--model" not in argv:
            argv += ["--model", str(model_files["tiny"])]
        if "--json" not in argv:
            argv += ["--json", str(tmp_path / "out.json")]
        argv += ["--html", str(tmp_path / "out.html")]
    before = sorted(p.name for p in tmp_path.iterdir())
    rc = cli.main(argv)
    captured = capsys.readouterr()
    assert rc == 2
    assert message in _one_error_line(captured.err)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, no temporary file


def test_decoding_error_mid_stream_leaves_no_file(model_files, tmp_path, monkeypatch, capsys):
    data = b"good movie\nbad film\n\xff\xfe boring\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    rc = cli.main(["explain", "--file", "-", "--model", str(model_files["tiny"]), "--batch-size", "1",
                   "--json", str(tmp_path / "out.json"), "--html", str(tmp_path / "out.html")])
    captured = capsys.readouterr()
    assert rc == 2
    assert "standard input is not UTF-8 text: line 3" in _one_error_line(captured.err)
    assert "[line 2]" in captured.out  # the first two texts were explained before the bad line
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_kept_on_error(model_files, tmp_path, capsys):
    out = tmp_path / "out.json"
    out.write_text("old", encoding="utf-8")
    rc = cli.main(["explain", "good", "--model", str(model_files["dense"]), "--json", str(out)])
    assert rc == 2 and out.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    capsys.readouterr()


# ------------------------------------------------------------------------ demo, models
def test_demo_writes_one_page_with_every_method(model_files, tmp_path, capsys):
    out = tmp_path / "demo.html"
    rc = cli.main(["demo", "--model", str(model_files["tiny"]), "--html", str(out), "--n", "3"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    page = _parse(out)
    assert all(method in page.heads for method in cli.DEMO_METHODS)
    texts, truth = cli._demo_texts(3)
    assert texts[0] == "A thoughtful, provocative, insistently humanizing film." and truth[0] == 4
    # The page shows the words as written (the characters of each token's span), not the lowercased forms.
    spans = [tokenize(text, "treebank", lowercase=True)[1] for text in texts]
    tokens = [[text[a:b] for a, b in offsets] for text, offsets in zip(texts, spans, strict=True)]
    assert page.tokens == [t for words in tokens for t in words * len(cli.DEMO_METHODS)]
    assert str(out.resolve()) in captured.out
    for method in cli.DEMO_METHODS:
        assert f"    {method} " in captured.out
    assert "true: very positive" in captured.out


def test_models_lists_the_shipped_models(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    for name, description in models.MODELS.items():
        assert f"{name}  " in out and description in out


def test_help_and_version(capsys):
    assert cli.main(["--help"]) == 0
    assert "explain" in capsys.readouterr().out
    assert cli.main(["explain", "--help"]) == 0
    assert "--batch-size" in capsys.readouterr().out
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("keras-text-lrp ")


# ----------------------------------------------------------------------------- subprocess
def _run(args, tmp_path, stdin=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the package sets it
    return subprocess.run([sys.executable, "-m", "keras_text_lrp.cli", *args], cwd=tmp_path, env=env,
                          input=stdin, capture_output=True, timeout=300)


def test_subprocess_error_exit_code(model_files, tmp_path):
    done = _run(["explain", "   ", "--model", str(model_files["tiny"]), "--html", "x.html"], tmp_path)
    assert done.returncode == 2
    assert _one_error_line(done.stderr.decode()) == (
        "error: text 1 is whitespace only; there are no words to explain")
    assert list(tmp_path.iterdir()) == []


def test_subprocess_demo(model_files, tmp_path):
    """The README's first command; on the shipped model once it is built, else on the tiny one."""
    shipped = (models.PRETRAINED_DIR / "sst5-cnn.keras").is_file()
    done = _run(["demo", "--n", "2"] + ([] if shipped else ["--model", str(model_files["tiny"])]), tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr.decode() == ""  # no TensorFlow start-up noise, no warnings
    page = _parse(tmp_path / cli.DEMO_HTML)
    assert all(method in page.heads for method in cli.DEMO_METHODS)
    assert str((tmp_path / cli.DEMO_HTML).resolve()) in done.stdout.decode()
