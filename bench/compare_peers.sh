#!/usr/bin/env bash
# The modern comparison (issue 21): seqnet against PyTorch 2.x, Keras 3 on TensorFlow and Keras 3 on JAX on
# the setups A-J, with the peers' own driver (../shared/peers/modern/driver.py, run in place: sides alternate
# model by model for several rounds; it writes runs.jsonl and table.md, ratios = peer ms / seqnet ms).
# Makes (or reuses) the two pinned venvs from PyPI first, then runs the driver; run it from the repo root.
#
#   bench/compare_peers.sh [--seqnet build-perf/seqnet] [--models ACEGIJBDFH] [--rounds 3] [--out DIR]
#                          [--no-install | --setup-only] [-- DRIVER_ARGS...]
#
#   --models      models in run order (driver.py's default ACEGIJBDFH: the first ones are done first when a
#                 --deadline stops it); 'all' = that default
#   --out         results folder (default: a new mktemp -d /tmp/seqnet_vs_peers.XXXXXX): log.txt (this
#                 header, then every command's output), driver.txt (the driver's progress), runs.jsonl,
#                 rounds.jsonl, meta.json, table.md
#   --no-install  refuse (exit 1) instead of creating or re-installing a venv
#   --setup-only  make/check the venvs, print their versions, and stop
#   --batch1      instead of the driver's full-batch table: batch-1 inference latency, seqnet (`seqnet bench`'s
#                 infer_b1_ms) against Keras/TF, Keras/JAX and PyTorch (bench/peers_batch1.py), sides alternated
#                 for --rounds rounds at 1 and 2 threads; writes batch1.jsonl and batch1.md
#   -- ARGS       passed on to driver.py, e.g. -- --sides seqnet,torch,torch-compile --deadline 15:35
#                 (driver.py --help lists them: --steps, --min-s, --keras-threads, --torch-wait-policy, ...)
#
# Environment:
#   PEERS_DIR         the peers' folder, read in place (default ../shared/peers/modern next to the repo)
#   PEERS_VENVS       where the venvs live (default ${XDG_CACHE_HOME:-$HOME/.cache}/seqnet/peers):
#                     peers-venv (requirements-peers-venv.txt: torch, tensorflow-cpu, keras; ~7 GB with the
#                     CUDA runtime wheels the PyPI torch wheel needs to import) and jax-venv
#                     (requirements-jax-venv.txt: keras on jax). A venv counts as complete once its pip install
#                     and an import check succeeded (marker .seqnet-requirements.sha256 = sha256 of the list);
#                     a changed list rebuilds it. Delete a venv folder to rebuild it with another Python.
#   PEERS_PYTHON      Python (>= 3.10) for peers-venv (default python3)
#   PEERS_JAX_PYTHON  Python (>= 3.12; jax 0.12 needs it) for jax-venv (default: the first working python3.12,
#                     python3.13 on PATH, else one under ${PYENV_ROOT:-$HOME/.pyenv}/versions)
#   SEQNET            the seqnet binary when --seqnet is not given (default build-perf/seqnet)
#   PIP_*             pip's own settings (index, cache, timeout) apply to the installs
#   OPENBLAS_CORETYPE passed to every side (only OpenBLAS reads it: seqnet's large GEMMs and the OpenBLAS that
#                     bench_torch.py loads via ctypes). When unset and OpenBLAS reports the generic "Prescott"
#                     core on a CPU it does not know, the script sets SkylakeX (AVX-512) or Haswell (AVX2) for
#                     ALL sides, as bench/compare_torch.sh does, and says so. (The runs in RESULTS.md had
#                     OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512 from that machine's environment.)
set -euo pipefail

me="compare_peers.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
seqnet="${SEQNET:-$root/build-perf/seqnet}"
models=""
rounds=3
out=""
install=1
setup_only=0
batch1=0
driver_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seqnet) seqnet="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --no-install) install=0; shift ;;
    --setup-only) setup_only=1; shift ;;
    --batch1) batch1=1; shift ;;
    --) shift; driver_args=("$@"); break ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "$me: unknown argument $1 (driver.py's own flags go after --)" >&2; exit 2 ;;
  esac
done
die() { echo "$me: $*" >&2; exit 1; }

PEERS_DIR="${PEERS_DIR:-$root/../shared/peers/modern}"
[ -d "$PEERS_DIR" ] || die "no peers folder at $PEERS_DIR (set PEERS_DIR)"
PEERS_DIR="$(cd "$PEERS_DIR" && pwd)"
PEERS_VENVS="${PEERS_VENVS:-${XDG_CACHE_HOME:-$HOME/.cache}/seqnet/peers}"
driver="$PEERS_DIR/driver.py"
req_main="$PEERS_DIR/requirements-peers-venv.txt"
req_jax="$PEERS_DIR/requirements-jax-venv.txt"
for f in "$driver" "$req_main" "$req_jax" "$PEERS_DIR/bench_keras.py" "$PEERS_DIR/../bench_torch.py"; do
  [ -f "$f" ] || die "missing $f (PEERS_DIR=$PEERS_DIR)"
done

if [ "$setup_only" = 0 ]; then
  case "$seqnet" in /*) ;; *) seqnet="$PWD/$seqnet" ;; esac
  [ -x "$seqnet" ] || die "no seqnet binary at $seqnet (build: ninja -C build-perf seqnet_cli)"
  seqnet_version="$("$seqnet" --version 2>&1)" || die "$seqnet --version failed: $seqnet_version"
  [[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer, not '$rounds'"
fi
models="$(echo "$models" | tr -d ', ' | tr '[:lower:]' '[:upper:]')"
[ "$models" = "ALL" ] && models=""
[[ "$models" =~ ^[A-J]*$ ]] || die "--models wants letters A-J, not '$models'"

# ---- Pythons ------------------------------------------------------------------------------------------
py_min() {  # py_min PY MINOR: true when PY runs and is Python >= 3.MINOR (a pyenv shim without that version fails)
  "$1" -c "import sys; sys.exit(0 if sys.version_info >= (3, $2) else 1)" >/dev/null 2>&1
}
py_main="${PEERS_PYTHON:-python3}"
py_jax="${PEERS_JAX_PYTHON:-}"
pick_pythons() {
  py_min "$py_main" 10 || die "no Python >= 3.10 for peers-venv: '$py_main' is missing or older (set PEERS_PYTHON)"
  if [ -n "$py_jax" ]; then
    py_min "$py_jax" 12 || die "PEERS_JAX_PYTHON='$py_jax' is missing or not Python >= 3.12 (jax 0.12 needs it)"
    return
  fi
  local c
  for c in python3.12 python3.13 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[23].*/bin/python3; do
    if py_min "$c" 12 && ! py_min "$c" 14; then py_jax="$c"; return; fi
  done
  die "no Python 3.12/3.13 for jax-venv (tried python3.12, python3.13, ${PYENV_ROOT:-$HOME/.pyenv}/versions/3.1[23].*); set PEERS_JAX_PYTHON"
}

# ---- venvs --------------------------------------------------------------------------------------------
marker_name=".seqnet-requirements.sha256"
# The import check of each venv; prints one line of versions (also the log header's).
check_main='import sys, numpy, torch, tensorflow as tf, keras
print("python %s torch %s tensorflow %s keras %s (backend %s) numpy %s" % (sys.version.split()[0], torch.__version__,
      tf.__version__, keras.__version__, keras.backend.backend(), numpy.__version__))'
check_jax='import sys, numpy, jax, jaxlib, keras
print("python %s jax %s jaxlib %s keras %s (backend %s) numpy %s devices %s" % (sys.version.split()[0], jax.__version__,
      jaxlib.__version__, keras.__version__, keras.backend.backend(), numpy.__version__,
      ",".join(sorted({d.platform for d in jax.devices()}))))'

venv_versions() {  # venv_versions VENV BACKEND CHECK: runs the import check; prints its line or fails
  local err
  err="$(mktemp)"
  if ! KERAS_BACKEND="$2" TF_CPP_MIN_LOG_LEVEL=2 "$1/bin/python" -c "$3" 2>"$err"; then
    echo "$me: venv $1: import check failed: $(grep -v '^ ' "$err" | tail -n 1)" >&2
    rm -f "$err"
    return 1
  fi
  rm -f "$err"
}

ensure_venv() {  # ensure_venv NAME PYTHON REQUIREMENTS BACKEND CHECK: sets venv_line (the versions)
  local name="$1" py="$2" req="$3" backend="$4" check="$5"
  local venv="$PEERS_VENVS/$name" sum t0 log
  sum="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ -f "$venv/$marker_name" ] && [ "$(cut -d' ' -f1 "$venv/$marker_name")" = "$sum" ] && [ -x "$venv/bin/python" ]; then
    venv_line="$(venv_versions "$venv" "$backend" "$check")" \
      || die "venv $venv is marked complete but does not import; delete it to rebuild (requirements $req)"
    echo "# $name: reusing $venv: $venv_line"
    return
  fi
  local why="not there"
  [ -e "$venv" ] && why="incomplete or made from another requirement list"
  [ "$install" = 1 ] || die "venv $venv is $why and --no-install was given (requirements $req)"
  if [ -e "$venv" ]; then
    [ -f "$venv/pyvenv.cfg" ] || die "$venv exists and is not a venv; move it away (or set PEERS_VENVS)"
    rm -rf -- "$venv"
  fi
  mkdir -p "$PEERS_VENVS"
  log="$PEERS_VENVS/$name.pip.log"
  echo "# $name: $why; creating $venv with $py ($("$py" -c 'import sys; print(sys.version.split()[0])')) from $req (pip log: $log)"
  t0=$(date +%s)
  "$py" -m venv "$venv" >"$log" 2>&1 \
    || die "could not create venv $venv with $py ($(tail -n 1 "$log")); is its venv module installed?"
  # the whole output goes to the log; the terminal gets one line per package and the outcome
  if ! "$venv/bin/python" -m pip install --no-input --progress-bar off -r "$req" 2>&1 | tee -a "$log" \
       | { grep --line-buffered -E '^(Collecting|Successfully|ERROR)' | cut -c1-150 || true; }; then
    die "pip install failed for venv $venv (requirements $req); last line: $(grep -v '^ *$' "$log" | tail -n 1); see $log"
  fi
  venv_line="$(venv_versions "$venv" "$backend" "$check")" \
    || die "venv $venv installed but does not import (requirements $req); see above and $log"
  echo "$sum  $req" > "$venv/$marker_name"
  echo "# $name: done in $(( $(date +%s) - t0 )) s, $(du -sh "$venv" | cut -f1): $venv_line"
}

pick_pythons
ensure_venv peers-venv "$py_main" "$req_main" tensorflow "$check_main"; main_line="$venv_line"
ensure_venv jax-venv "$py_jax" "$req_jax" jax "$check_jax"; jax_line="$venv_line"
export PEERS_PY="$PEERS_VENVS/peers-venv/bin/python"
export PEERS_JAX_PY="$PEERS_VENVS/jax-venv/bin/python"
[ "$setup_only" = 1 ] && exit 0

# ---- OpenBLAS core (the Debian OpenBLAS that seqnet links and bench_torch.py loads) ------------------------
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  core="$("$PEERS_PY" -c "import ctypes; o=ctypes.CDLL('libopenblas.so.0'); o.openblas_get_corename.restype=ctypes.c_char_p; print(o.openblas_get_corename().decode())" 2>/dev/null || echo unknown)"
  if [ "$core" = "Prescott" ]; then
    if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
    [ -n "${OPENBLAS_CORETYPE:-}" ] && echo "# OpenBLAS detected core Prescott on this CPU; OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE for all sides"
  fi
else
  core="(not probed: OPENBLAS_CORETYPE set)"
fi

# ---- run ----------------------------------------------------------------------------------------------
[ -n "$out" ] || out="$(mktemp -d /tmp/seqnet_vs_peers.XXXXXX)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
[ -e "$out/runs.jsonl" ] || [ -e "$out/batch1.jsonl" ] && die "$out already holds a run; the results would add to it: pick another --out"
args=(--out "$out" --rounds "$rounds")
[ -n "$models" ] && args+=(--models "$models")
args+=("${driver_args[@]}")
export SEQNET="$seqnet"
: > "$out/log.txt"
{
  echo "# date: $(date -u +%FT%TZ)"
  echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cpus"
  echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# seqnet: $seqnet_version ($seqnet)"
  echo "# peers venv: $main_line ($PEERS_PY)"
  echo "# jax venv: $jax_line ($PEERS_JAX_PY)"
  echo "# OpenBLAS core: $core; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} (the driver sets it per side)"
  echo "# driver: $driver ${args[*]}"
} | tee -a "$out/log.txt"

if [ "$batch1" = 1 ]; then
  # Batch-1 latency: every side of a model once per round, sides in turn, models in turn.
  t0=$(date +%s)
  for ((r = 1; r <= rounds; r++)); do
    for m in $(echo "${models:-ACEGIJBDFH}" | fold -w1); do
      echo "# round $r model $m" | tee -a "$out/log.txt"
      "$seqnet" bench --model "$m" --threads 1,2 --min-s 0.3 --jsonl "$out/seqnet.jsonl" >>"$out/log.txt" 2>&1 \
        || echo "$me: seqnet bench --model $m failed (see $out/log.txt)" >&2
      KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=2 "$PEERS_PY" "$here/peers_batch1.py" --side keras --models "$m" \
        --peers-dir "$PEERS_DIR/.." --jsonl "$out/batch1.jsonl" >>"$out/log.txt" 2>&1 \
        || echo "$me: Keras/TF batch-1 of $m failed (see $out/log.txt)" >&2
      KERAS_BACKEND=jax "$PEERS_JAX_PY" "$here/peers_batch1.py" --side keras --models "$m" \
        --peers-dir "$PEERS_DIR/.." --jsonl "$out/batch1.jsonl" >>"$out/log.txt" 2>&1 \
        || echo "$me: Keras/JAX batch-1 of $m failed (see $out/log.txt)" >&2
      OMP_WAIT_POLICY=passive "$PEERS_PY" "$here/peers_batch1.py" --side torch --models "$m" \
        --peers-dir "$PEERS_DIR/.." --jsonl "$out/batch1.jsonl" >>"$out/log.txt" 2>&1 \
        || echo "$me: PyTorch batch-1 of $m failed (see $out/log.txt)" >&2
    done
  done
  echo "# batch-1 runs took $(( $(date +%s) - t0 )) s, load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/log.txt"
  "$PEERS_PY" - "$out" <<'PY' | tee "$out/batch1.md"
import collections, json, os, statistics, sys
out = sys.argv[1]
ms = collections.defaultdict(list)  # (model, side, threads) -> per-round ms
for line in open(os.path.join(out, "seqnet.jsonl")):
    r = json.loads(line)
    ms[(r["model"], "seqnet", r["threads"])].append(r["infer_b1_ms"])
for line in open(os.path.join(out, "batch1.jsonl")):
    r = json.loads(line)
    ms[(r["model"], r["side"], r["threads"])].append(r["b1_ms"])
sides = ["seqnet", "keras-tf", "keras-jax", "torch"]
def best(model, side):  # median over rounds at each thread count, then the best thread count
    c = [(statistics.median(v), t) for (m, s, t), v in ms.items() if m == model and s == side]
    return min(c) if c else None
print("| setup | seqnet batch-1 ms | Keras/TF | Keras/JAX | PyTorch | fastest peer / seqnet |")
print("|---|---:|---:|---:|---:|---:|")
for model in sorted({k[0] for k in ms}):
    cells = {s: best(model, s) for s in sides}
    peers = [cells[s][0] for s in sides[1:] if cells[s]]
    ratio = "%.1fx" % (min(peers) / cells["seqnet"][0]) if peers and cells["seqnet"] else "-"
    fmt = lambda c: "%.4f (%dt)" % c if c else "-"
    print("| %s | %s | %s |" % (model, " | ".join(fmt(cells[s]) for s in sides), ratio))
PY
  echo "# results in $out (log.txt, seqnet.jsonl, batch1.jsonl); table: $out/batch1.md"
  exit 0
fi

t0=$(date +%s)
rc=0
"$PEERS_PY" "$driver" "${args[@]}" 2>&1 | tee "$out/driver.txt" || rc=$?
echo "# driver exit $rc after $(( $(date +%s) - t0 )) s, load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/log.txt"
fails="$(grep -c ' FAILED side=' "$out/driver.txt" || true)"
[ "$fails" = 0 ] || echo "$me: $fails side run(s) FAILED (see $out/driver.txt and $out/log.txt)" >&2
[ -f "$out/table.md" ] || die "driver.py wrote no table.md (exit $rc); see $out/driver.txt and $out/log.txt"
echo "# results in $out (log.txt, driver.txt, runs.jsonl, meta.json); table: $out/table.md"
exit "$rc"
