#!/usr/bin/env bash
# The README's main job: installs what is missing, builds seqnet, and trains the book's GRU temperature
# forecaster (DLwP 6.39) on the real Beijing hourly weather with the Keras-style log.
#   scripts/main.sh                      5 epochs (a few minutes on 2 cores)
#   SEQNET_EPOCHS=20 scripts/main.sh     the book's 20 epochs
#   SEQNET_EXPERIMENT=experiments/mnist_mlp.json scripts/main.sh   another experiment
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export SEQNET_DATA_DIR="${SEQNET_DATA_DIR:-$(cd .. && pwd)/shared/data}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)" --target seqnet_cli
exec build/seqnet train "${SEQNET_EXPERIMENT:-experiments/weather_gru.json}" --epochs "${SEQNET_EPOCHS:-5}" \
     --out "${SEQNET_OUT:-runs/main}" "$@"
