#!/usr/bin/env bash
# Installs what seqnet needs to build and test on Debian 12, from Debian's packages (the Python package's build
# tools and pytest come from PyPI into a venv: scripts/test-python.sh).
# Safe to run again: it installs only what is missing.
set -euo pipefail
packages=(
  cmake ninja-build g++ ccache pkg-config
  libopenblas-dev            # BLAS for GEMM (cblas.h)
  nlohmann-json3-dev         # JSON: Keras configs, fixtures
  libcli11-dev               # the seqnet command line
  libfmt-dev                 # formatting
  zlib1g-dev                 # gzip'd data sets (MNIST IDX, IMDB)
  libgtest-dev googletest    # unit tests
  libbenchmark-dev           # micro-benchmarks
  libhdf5-dev                # Keras .h5 / .keras weights
  libzip-dev                 # the .keras zip container
  libcairo2-dev              # history plots (PNG / SVG)
  libarchive-dev             # the Stanford aclImdb tarball (IMDB from raw text)
  libcurl4-openssl-dev       # data set downloads
  libssl-dev                 # sha256 of data set files (OpenSSL EVP)
  openmpi-bin libopenmpi-dev # data-parallel training (mpirun)
  clang libclang-rt-14-dev libomp-14-dev unzip  # libFuzzer targets (scripts/fuzz.sh)
  qemu-user                  # the portable build on other CPUs, emulated (tests/portable)
  python3 python3-venv python3-dev  # the Python package (pip install ., scripts/test-python.sh)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
