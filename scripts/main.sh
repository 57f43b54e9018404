#!/usr/bin/env bash
# The README's main job: installs what is missing, builds seqnet, and trains the flagship experiment on
# real data with the Keras-style log. Extra arguments go to `seqnet train` (e.g. --epochs 2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export SEQNET_DATA_DIR="${SEQNET_DATA_DIR:-$(cd .. && pwd)/shared/data}"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j "$(nproc)" --target seqnet_cli
exec build/seqnet train "${SEQNET_EXPERIMENT:-experiments/mnist_mlp.json}" --out runs/main "$@"
