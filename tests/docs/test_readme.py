"""The README's Python blocks run as written, in order, with the shipped model (TensorFlow backend: they
export a SavedModel and run it under Beam)."""

import json
import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SKIP = "<!-- not executed"


def python_blocks(text: str) -> tuple[list[str], int]:
    """The ```python blocks of a markdown text, and how many are marked as not executed."""
    blocks, skipped = [], 0
    for match in re.finditer(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", text, re.S):
        if match.group("before").startswith(SKIP):
            skipped += 1
        else:
            blocks.append(match.group("code"))
    return blocks, skipped


def test_block_extraction_knows_the_skip_marker():
    text = "a\n```python\nx = 1\n```\n<!-- not executed: y -->\n```python\nboom\n```\n```bash\nls\n```\n"
    assert python_blocks(text) == (["x = 1"], 1)


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
                    reason="the README's serving and Beam blocks need the TensorFlow backend")
def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    pytest.importorskip("apache_beam")
    blocks, skipped = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 4 and skipped == 4  # custom rule, saving your own model, Dask and Spark clusters
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reviews.txt").write_text("A gorgeous, witty movie.\nDull and lifeless.\n", encoding="utf-8")
    namespace: dict = {"__name__": "__readme__"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"README.md python block {i}", "exec"), namespace)  # noqa: S102
    # The first block: relevances and the explanation of the shipped model.
    assert namespace["relevance"].shape[:2] == namespace["token_ids"].shape
    e = namespace["e"]
    assert e.tokens == [["a", "gorgeous", ",", "witty", "movie", "."]]  # the forms the model saw
    assert "gorgeous" in capsys.readouterr().out
    # explain_dataset's records and Beam's carry the class names ("labels"), as the README says.
    records = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    beam = [json.loads(line) for path in sorted(tmp_path.glob("scores-*.jsonl"))
            for line in path.read_text().splitlines()]
    labels = list(namespace["sst5"].labels)
    assert [r["text"] for r in records] == ["A gorgeous, witty movie.", "Dull and lifeless."]
    assert sorted(r["text"] for r in beam) == sorted(r["text"] for r in records)
    for record in records + beam:
        assert record["labels"] == labels
        assert {"tokens", "scores", "logits", "predicted", "target"} <= set(record)
    by_text = {r["text"]: r for r in records}
    for record in beam:  # the exported explainer gives explain()'s numbers
        assert record["tokens"] == by_text[record["text"]]["tokens"]
        expected = by_text[record["text"]]["scores"]["lrp.epsilon"]
        assert record["scores"]["lrp.epsilon"] == pytest.approx(expected, rel=1e-4, abs=1e-6)
