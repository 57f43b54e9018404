#!/usr/bin/env bash
# The Python package's tests: pip install . into a venv (build/venv, made from Debian's python3) and pytest.
# Run by scripts/test.sh; on its own it needs scripts/install-deps.sh first.
#   scripts/test-python.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
export SEQNET_DATA_DIR="${SEQNET_DATA_DIR:-$(cd .. && pwd)/shared/data}"
python=/usr/bin/python3
[ -x "$python" ] || python=python3
venv="$(pwd)/build/venv"  # absolute: the tests run from build/
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
# The build tools from PyPI, once; then the package itself without build isolation, so that the build folder
# (build/python, pyproject.toml) and ccache make a second install quick.
if ! "$venv/bin/python" -c "import scikit_build_core, nanobind, numpy, pytest" 2>/dev/null; then
  "$venv/bin/python" -m pip install -q "scikit-build-core>=0.10" "nanobind>=2.0" numpy pytest
fi
"$venv/bin/python" -m pip install -q --no-build-isolation .
(cd build && "$venv/bin/python" -m pytest -q -p no:cacheprovider ../python/tests "$@")

# The wheel: built from the same build folder, installed into a fresh venv that has no build tool (no
# scikit-build-core, nanobind, CMake), where it imports and trains.
rm -rf build/wheel build/venv-wheel
"$venv/bin/python" -m pip wheel -q --no-build-isolation --no-deps -w build/wheel .
"$python" -m venv build/venv-wheel
build/venv-wheel/bin/python -m pip install -q build/wheel/seqnet-*.whl
if build/venv-wheel/bin/python -m pip list 2>/dev/null | grep -iE "^(scikit-build-core|nanobind|cmake|ninja) "; then
  echo "test-python: the wheel's venv has build tools in it" >&2
  exit 1
fi
root=$(pwd)
(cd / && "$root/build/venv-wheel/bin/python" - <<'PY'
import numpy as np
from seqnet import keras
model = keras.Sequential([keras.Input(shape=(5, 2)), keras.layers.GRU(3), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mae")
history = model.fit(np.zeros((8, 5, 2)), np.ones((8, 1)), epochs=2, verbose=0)
assert len(history.history["loss"]) == 2
print("test-python: the wheel imports and trains in a venv without build tools")
PY
)
