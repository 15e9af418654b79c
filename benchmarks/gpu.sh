#!/usr/bin/env bash
# The accelerator benchmark in one call, a few minutes on a GPU (at most 300 s a backend): both backends,
# batch 256 and 1024, the transformer included.
# Needs a CUDA build of the backend (tensorflow[and-cuda] and/or jax[cuda12]) and this package
# installed (pip install -e .); a backend that sees no GPU is reported and skipped.
set -uo pipefail
cd "$(dirname "$0")"
for backend in tensorflow jax; do
  echo "## KERAS_BACKEND=$backend"
  KERAS_BACKEND=$backend timeout 300 python bench_gpu.py "$@" || echo "($backend: no result)"
  echo
done
