#!/usr/bin/env bash
# Install the test extras and run the whole test suite on both Keras backends.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[test]"
ruff check keras_text_lrp tests benchmarks
KERAS_BACKEND=tensorflow python -m pytest -q "$@"
KERAS_BACKEND=jax python -m pytest -q "$@"
