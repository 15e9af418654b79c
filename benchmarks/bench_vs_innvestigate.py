"""keras_text_lrp against the real iNNvestigate 2.1.2 on the same models, weights and batches.

Models (``_vs_models.py``): a text CNN on embedded input and on token ids, the Kim (2014)
three-branch CNN and a 3-layer MLP, batch 256, T 50, D 300. For every analyzer both libraries
have, each side runs in its own fresh process (iNNvestigate in its own virtualenv: Python 3.11,
TensorFlow 2.14, Keras 2, graph mode); the two processes alternate, in swapped order each
round, for ``--rounds`` rounds. Each process times ``--repeats`` calls of ``analyze`` after one
untimed call (which builds the graph). The table shows the median over the rounds in ms per
batch and the ratio iNNvestigate / ours (> 1: we are faster). Before timing anything the
script checks that gradient and lrp.epsilon agree between the libraries.

iNNvestigate cannot differentiate through integer inputs, so on ``cnn_ids`` it analyses the
model behind the Embedding and the lookup (a numpy gather) is counted in its time; our side
analyses the token-id model as it is.

Run::

    python benchmarks/bench_vs_innvestigate.py --setup        # once: creates .venv-innvestigate
    KERAS_BACKEND=tensorflow python benchmarks/bench_vs_innvestigate.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_VENV = HERE.parent / ".venv-innvestigate"
INNVESTIGATE_PINS = ["tensorflow-cpu==2.14.1", "innvestigate==2.1.2", "numpy<2"]


def setup(venv: Path) -> None:
    """Create the iNNvestigate virtualenv (needs the package index)."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *INNVESTIGATE_PINS], check=True
    )


def write_models(workdir: Path) -> None:
    """Build the models with Keras 3 (seeded) and save their weights for both sides."""
    import keras
    from _vs_models import NAMES, build

    keras.utils.set_random_seed(0)
    for name in NAMES:
        weights = build(keras, name).get_weights()
        if name == "cnn_ids":
            np.save(workdir / "cnn_ids.embedding.npy", weights[0])
            weights = weights[1:]
        np.savez(workdir / f"{name}.weights.npz", **{f"w{i}": w for i, w in enumerate(weights)})


def ours_worker(workdir: str, repeats: int, out: str) -> None:
    """Our side: same models and weights, analyzers from ``keras_text_lrp.create_analyzer``."""
    import keras
    from _vs_models import ANALYZERS, NAMES, batch, build

    import keras_text_lrp as ktl

    times, outputs = {}, {}
    for name in NAMES:
        model = build(keras, name)
        weights = np.load(f"{workdir}/{name}.weights.npz")
        weights = [weights[f"w{i}"] for i in range(len(weights.files))]
        if name == "cnn_ids":
            weights = [np.load(f"{workdir}/cnn_ids.embedding.npy"), *weights]
        model.set_weights(weights)
        x = batch(name)
        for method, options in ANALYZERS:
            analyzer = ktl.create_analyzer(method, model, **options)
            first = analyzer.analyze(x)  # traces the compiled function; not timed
            if method in ("gradient", "lrp.epsilon"):
                outputs[f"{name}/{method}"] = first
            spent = []
            for _ in range(repeats):
                start = time.perf_counter()
                analyzer.analyze(x)
                spent.append(time.perf_counter() - start)
            times[f"{name}/{method}"] = float(np.median(spent))
    np.savez(out.replace(".json", ".npz"), **{k.replace("/", "__"): v for k, v in outputs.items()})
    with open(out, "w") as f:
        json.dump(times, f)


def _run_side(side: str, venv: Path, workdir: Path, repeats: int, out: Path) -> dict:
    if side == "innvestigate":
        cmd = [str(venv / "bin" / "python"), str(HERE / "innvestigate_worker.py")]
        env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "PYTHONPATH")}
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker"]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    subprocess.run(
        [*cmd, str(workdir), str(repeats), str(out)], check=True, env=env, cwd=HERE, stdout=subprocess.DEVNULL
    )
    with open(out) as f:
        return json.load(f)


def check_agreement(workdir: Path) -> list[str]:
    """Max relative difference of gradient and lrp.epsilon between the two libraries."""
    ours, theirs = np.load(workdir / "ours0.npz"), np.load(workdir / "innvestigate0.npz")
    lines = []
    for key in sorted(ours.files):
        a, b = ours[key], theirs[key]
        rel = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
        lines.append(
            f"{key.replace('__', ' / ')}: max |ours - iNNvestigate| / max |iNNvestigate| = {rel:.1e}"
        )
        if rel > 1e-4:
            raise SystemExit(f"the libraries disagree on {key}: relative difference {rel:.1e}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--setup", action="store_true", help="create the iNNvestigate virtualenv and exit")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--worker", nargs=3, metavar=("WORKDIR", "REPEATS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        ours_worker(args.worker[0], int(args.worker[1]), args.worker[2])
        return
    if args.setup:
        setup(args.venv)
        return
    if not (args.venv / "bin" / "python").exists():
        raise SystemExit(f"no iNNvestigate virtualenv at {args.venv}; create it with --setup")
    import keras

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        write_models(workdir)
        rounds: dict[str, list[dict]] = {"ours": [], "innvestigate": []}
        for r in range(args.rounds):
            order = ("innvestigate", "ours") if r % 2 == 0 else ("ours", "innvestigate")
            for side in order:
                rounds[side].append(
                    _run_side(side, args.venv, workdir, args.repeats, workdir / f"{side}{r}.json")
                )
            if r == 0:
                agreement = check_agreement(workdir)
    load_after = os.getloadavg()
    print(
        f"Backend {keras.backend.backend()}, Keras {keras.__version__}; "
        "iNNvestigate 2.1.2 on TF 2.14 / Keras 2"
    )
    print(
        f"{args.rounds} rounds x {args.repeats} calls; load average before {load_before[0]:.2f}, "
        f"after {load_after[0]:.2f} (1 min), {os.cpu_count()} cores\n"
    )
    print("\n".join(agreement) + "\n")
    print("| model | analyzer | iNNvestigate ms | ours ms | iNNvestigate / ours |")
    print("| --- | --- | ---: | ---: | ---: |")
    ratios = []
    for key in rounds["ours"][0]:
        theirs = float(np.median([r[key] for r in rounds["innvestigate"]])) * 1e3
        ours = float(np.median([r[key] for r in rounds["ours"]])) * 1e3
        ratios.append(theirs / ours)
        model, method = key.split("/")
        print(f"| {model} | {method} | {theirs:.1f} | {ours:.1f} | {theirs / ours:.2f} |")
    faster = sum(r >= 1 for r in ratios)
    print(
        f"\nours at least as fast on {faster} of {len(ratios)} pairs; median ratio {np.median(ratios):.2f}, "
        f"min {min(ratios):.2f}, max {max(ratios):.2f}"
    )


if __name__ == "__main__":
    main()
