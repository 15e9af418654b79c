#!/usr/bin/env bash
# Install keras-hub (for explaining keras-hub text classifiers) beside tensorflow-cpu.
#
# keras-hub requires tensorflow-text, and tensorflow-text's wheel requires the full `tensorflow`
# package (~570 MB) even where tensorflow-cpu, the same TensorFlow, is installed. So the two are
# installed without their requirements, and keras-hub's other requirements come from the `hub`
# extra. The versions are pinned to the TensorFlow and Keras that the project is tested with
# (tensorflow-text 2.21.0 does not load on tensorflow-cpu 2.21: an ICU symbol is missing; 2.21.1 does).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e ".[hub]"
python -m pip install -q --no-deps "keras-hub==0.32.0" "tensorflow-text==2.21.1"
python -c "import keras_hub, tensorflow_text" 2>/dev/null || {
  echo "keras-hub did not import after installing it; see scripts/install_hub.sh" >&2; exit 1; }
