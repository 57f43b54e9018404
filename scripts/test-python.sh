#!/usr/bin/env bash
# The Python package's tests: pip install . into a venv (build/venv, made from Debian's python3) and pytest.
# Run by scripts/test.sh; on its own it needs scripts/install-deps.sh first.
#   scripts/test-python.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
export SEQNET_DATA_DIR="${SEQNET_DATA_DIR:-$(cd .. && pwd)/shared/data}"
python=/usr/bin/python3
[ -x "$python" ] || python=python3
venv=build/venv
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
# The build tools from PyPI, once; then the package itself without build isolation, so that the build folder
# (build/python, pyproject.toml) and ccache make a second install quick.
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "scikit-build-core>=0.10" "nanobind>=2.0" numpy pytest
"$venv/bin/python" -m pip install -q --no-build-isolation .
cd build  # not the repository root: the tests import the installed package, not python/seqnet
"$venv/bin/python" -m pytest -q -p no:cacheprovider ../python/tests "$@"
