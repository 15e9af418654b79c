"""MkDocs hook: pages and figures made at build time from the package itself.

- ``analyzers.md``: one section per registered analyzer, with its docstring, a
  small example and its picture, drawn by running exactly that example on the
  shipped SST-5 model (so no binary figure is committed, and a broken
  analyzer breaks the build);
- ``figures/views_*.png``: the figure view of the views page;
- ``tutorials/*.ipynb``: the notebooks of ``tutorials/``, rendered by
  mkdocs-jupyter without executing them.
"""

from __future__ import annotations

import inspect
import io
import os
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
SENTENCE = "A gorgeous, witty, seductive movie."
VIEWS_TEXT = 'A "gorgeous" (if long) film, zzyzzyva-ish, not dull.'


class _Saved:
    """Stands for the figure in the example: ``savefig`` writes nothing (the hook keeps the PNG)."""

    def savefig(self, *_args, **_kwargs) -> None:
        return None


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


#: Options an analyzer cannot do without.
OPTIONS = {"lrp.alpha_beta": ", alpha=2, beta=1"}
SETUP = (
    "import keras_text_lrp as ktl\n"
    "from keras_text_lrp import models\n\n"
    'cnn, bilstm = models.load("sst5-cnn"), models.load("sst5-bilstm")\n'
    'transformer = models.load("sst2-transformer")'
)


def _example(name: str) -> str:
    # lrp.lstm needs a recurrent model, the attention baselines a transformer.
    model = "bilstm" if name == "lrp.lstm" else "transformer" if name.startswith("attention.") else "cnn"
    return (
        f'e = ktl.explain({model}, ["{SENTENCE}"], "{name}"{OPTIONS.get(name, "")})\n'
        f'e.plot(width=6.0).savefig("{name}.png")'
    )


def _summary(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


def _analyzers_page(files: Files, config) -> str:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras_text_lrp as ktl
    from keras_text_lrp.analyzers.registry import ANALYZERS

    lines = [
        "# Analyzers",
        "",
        "Every analyzer of `keras_text_lrp.ANALYZERS` (iNNvestigate's names), on one SST-5 sentence. "
        "Each picture is drawn when the site is built, by running the example above it with the shipped "
        "model (`sst5-cnn`; `lrp.lstm` on `sst5-bilstm`, the attention baselines on `sst2-transformer`). "
        "Red words speak for the explained class (the "
        "prediction), blue ones against it; each text is scaled to its own largest |score|.",
        "",
        "The rules behind each name are in [the rules](SEMANTICS.md); the classes in the "
        "[API reference](api.md). The examples below share this set-up:",
        "",
        "```python", SETUP, "```", "",
    ]
    namespace: dict = {}
    exec(SETUP, namespace)  # noqa: S102 - the set-up shown on the page
    for name, cls in ANALYZERS.items():
        code = _example(name)
        figure: dict = {}
        # Run the shown example as written, catching the figure instead of writing a file.
        original = ktl.Explanation.plot
        ktl.Explanation.plot = lambda self, **kw: (figure.__setitem__("png", _png(original(self, **kw))),
                                                   _Saved())[1]
        try:
            exec(code, namespace)  # noqa: S102 - the example shown on the page
        finally:
            ktl.Explanation.plot = original
        uri = f"figures/analyzer_{name}.png"
        files.append(File.generated(config, uri, content=figure["png"]))
        lines += [f"## `{name}`", "", f"`{cls.__module__}.{cls.__name__}`: {_summary(cls)}", "",
                  "```python", code, "```", "", f"![{name} on an SST-5 sentence]({uri})", ""]
    return "\n".join(lines)


def _views_figure(files: Files, config) -> None:
    import keras_text_lrp as ktl

    e = ktl.explain("sst5-cnn", [VIEWS_TEXT], ["lrp.epsilon", "integrated_gradients"])
    files.append(File.generated(config, "figures/views_plot.png", content=_png(e.plot(width=7.0))))


@event_priority(100)  # before mkdocs-jupyter's on_files, which picks up the notebooks added here
def on_files(files: Files, config) -> Files:
    """Add the generated pages, the figures and the tutorials to the site."""
    files.append(File.generated(config, "analyzers.md", content=_analyzers_page(files, config)))
    _views_figure(files, config)
    for notebook in sorted((ROOT / "tutorials").glob("*.ipynb")):
        # A plain File read from the repository root (mkdocs-jupyter's wrapper needs a src_dir).
        files.append(File(f"tutorials/{notebook.name}", src_dir=str(ROOT), dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files
