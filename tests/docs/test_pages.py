"""The Python examples of the documentation pages run as written (in order, one namespace per page)."""

import os
from pathlib import Path

import pytest
from test_readme import python_blocks

DOCS = Path(__file__).resolve().parents[2] / "docs"
#: The pages written for the site whose examples must run (the others hold fragments about your own model).
PAGES = ["index.md", "views.md", "callbacks.md", "evaluation.md"]


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
                    reason="the examples are backend-independent; they run once, on TensorFlow")
@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page, tmp_path, monkeypatch, capsys):
    blocks, skipped = python_blocks((DOCS / page).read_text(encoding="utf-8"))
    assert blocks and skipped == 0
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"__docs_{page}__"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/{page} python block {i}", "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    if page == "index.md":
        assert "(1, 5, 50)" in out
        assert namespace["records"][0]["text"] == 'A "gorgeous", witty movie.'
        assert (tmp_path / "page.html").is_file()
    if page == "callbacks.md":
        assert "[1, 2, 3]" in out
        assert (tmp_path / "timeline.html").read_text().count("data-epoch=") == 2 * 3
        assert any((tmp_path / "logs" / "explain").iterdir())
    if page == "evaluation.md":
        result = namespace["result"]
        assert result.k == [0, 1, 2, 3]
        assert result.aopc == pytest.approx(sum(result.mean_drop[1:]) / 3)
