#!/usr/bin/env bash
# Builds seqnet and runs the whole test suite (the README's test command).
#   scripts/test.sh             Release build in build/, every test (ctest)
#   scripts/test.sh --sanitize  ASan + UBSan build in build-asan/: the unit tests and the seqnet command's tests
#   scripts/test.sh --native    -march=native build in build-native/: the kernel and recurrent tests (the
#                               bitwise promises on this CPU's own code generation)
# The default run ends with the Python package's tests (scripts/test-python.sh: pip install . into build/venv,
# then pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export SEQNET_DATA_DIR="${SEQNET_DATA_DIR:-$(cd .. && pwd)/shared/data}"
jobs=$(nproc)
if [[ "${1:-}" == "--sanitize" ]]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSEQNET_SANITIZE=ON -DSEQNET_BUILD_BENCH=OFF \
        -DSEQNET_BUILD_EXAMPLES=OFF -DCMAKE_CXX_FLAGS="-O1" > /dev/null
  cmake --build build-asan -j "$jobs"
  # OpenMP and OpenBLAS keep thread pools alive at exit: leak reports there are not ours.
  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE slow
elif [[ "${1:-}" == "--native" ]]; then
  cmake -S . -B build-native -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEQNET_NATIVE=ON -DSEQNET_BUILD_BENCH=OFF \
        -DSEQNET_BUILD_CLI=OFF -DSEQNET_BUILD_EXAMPLES=OFF > /dev/null
  cmake --build build-native -j "$jobs" --target test_kernels test_recurrent test_model
  ctest --test-dir build-native --output-on-failure -j "$jobs" -R "^(Variants|KernelVariants|SmallGemm|SplitRange|Recurrent|Model)"
else
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build build -j "$jobs"
  ctest --test-dir build --output-on-failure -j "$jobs"
  scripts/test-python.sh
fi
