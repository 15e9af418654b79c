"""The tutorial notebooks run top to bottom, and are saved in a state worth reading.

``test_notebook_runs`` executes each notebook of ``tutorials/`` with nbclient in *quick mode*
(``KTL_TUTORIAL_QUICK=1``: less data, fewer epochs; about 0.5-2.5 minutes each on two busy CPU
cores) and fails on the first cell that raises. The kernel is this interpreter (``sys.executable``),
through a kernel spec written to a temporary folder: no ``python -m ipykernel install`` is needed, and
a ``python3`` kernel spec installed elsewhere (which may point at another Python) is not used.

The executions run only under ``KERAS_BACKEND=tensorflow`` (the kernel gets that backend): running
them again under JAX would double the longest part of the suite while testing no other code path
than the JAX runs of the library tests do. The static checks (saved outputs without errors, size,
the QUICK switch) run under both backends.

Needs ``nbclient``, ``nbformat`` and ``ipykernel`` (skipped without them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import keras
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

TUTORIALS = Path(__file__).resolve().parents[2] / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))
KERNEL = "ktl-tutorial-python"
MAX_BYTES = 2_000_000


def test_the_five_tutorials_are_there() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert names == ["01_quickstart.ipynb", "02_sst5_cnn.ipynb", "03_sst5_bilstm.ipynb",
                     "04_20newsgroups_cnn.ipynb", "05_sst2_transformer_faithfulness.ipynb"], names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_saved_executed_and_small(path: Path) -> None:
    """The committed notebook holds the outputs of a full run, none of them an error, in < 2 MB."""
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size:,} bytes"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert 'os.environ.get("KTL_TUTORIAL_QUICK") == "1"' in code[0].source, "first code cell must read QUICK"
    assert all(c.execution_count is not None for c in code), f"{path.name} has cells that were not run"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name} was saved with errors: {[e.ename for e in errors]}"
    text = "".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    assert "quick mode: False" in text, f"{path.name} was saved from a quick-mode run"


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A kernel spec that starts this interpreter's ipykernel in quick mode with TensorFlow."""
    root = tmp_path_factory.mktemp("kernels")
    spec = root / KERNEL
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "keras_text_lrp tutorials",
        "language": "python",
        "env": {"KTL_TUTORIAL_QUICK": "1", "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"},
    }))
    return str(root)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the tutorials are executed once, in the KERAS_BACKEND=tensorflow run, to keep CI time down",
)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, kernel_dir: str, tmp_path: Path) -> None:
    """Every cell of the notebook runs without an error in quick mode."""
    nb = nbformat.read(path, as_version=4)
    specs = KernelSpecManager(kernel_dirs=[kernel_dir])
    manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    client = nbclient.NotebookClient(
        nb, km=manager, timeout=600, allow_errors=False, resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name} failed in quick mode:\n{str(error)[-3000:]}")
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.output_type == "stream")
    assert "quick mode: True" in text
