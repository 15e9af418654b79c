#!/usr/bin/env bash
# Install the test extras and run the whole test suite on both Keras backends.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test]"
# keras-hub, without the full tensorflow wheel that tensorflow-text would pull in (see the script).
bash scripts/install_hub.sh
ruff check keras_text_lrp tests benchmarks
# The documentation site, strictly: any warning (a broken link, a docstring griffe cannot parse, an
# analyzer whose example fails while its figure is drawn) fails the run.
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
KERAS_BACKEND=tensorflow python -m pytest -q "$@"
KERAS_BACKEND=jax python -m pytest -q "$@"
