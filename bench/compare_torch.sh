#!/usr/bin/env bash
# Runs seqnet's benchmark (seqnet bench) and PyTorch's (../shared/peers/bench_torch.py) alternately, model
# by model, for several rounds in one go, then prints per model the median over rounds of the ratio
# torch_ms / seqnet_ms (each side at its best thread configuration in that round) for the training
# step, the inference step and batch-1 inference, and a Markdown table (the one in BENCHMARKS.md).
#
#   bench/compare_torch.sh [--seqnet build-perf/seqnet] [--models ABCDEFGHIJ] [--rounds 3] [--out DIR]
#
# Environment:
#   SEQNET_THREADS  thread counts tried for seqnet              (default 1,2)
#   TORCH_THREADS   PyTorch thread configs, peer syntax N | N/M  (default 1,2,2/1)
#   STEPS, MIN_S    minimum timed steps and seconds per config  (default 20 and 1; the peer's own default is 2 s)
#   PEER            the peer script                             (default ../shared/peers/bench_torch.py)
#   PYTHON          a Python with torch                         (default /usr/bin/python3, Debian's python3-torch)
#   TORCH_WAIT_POLICY, SEQNET_WAIT_POLICY  OMP_WAIT_POLICY of each side (default passive for PyTorch, libgomp's
#                   default for seqnet: each side's faster setting); OMP_WAIT_POLICY, when set, applies to both.
#   OPENBLAS_CORETYPE  passed to both sides. When unset and OpenBLAS reports the generic "Prescott" core on
#                   a CPU it does not know (OpenBLAS 0.3.21 on Sapphire/Emerald Rapids), the script sets
#                   SkylakeX (AVX-512) or Haswell (AVX2) for BOTH processes, so neither side runs the SSE3
#                   fallback kernels; it says so in its output.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
seqnet="$root/build-perf/seqnet"
models="ABCDEFGHIJ"
rounds=3
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seqnet) seqnet="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "compare_torch.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
PEER="${PEER:-$root/../shared/peers/bench_torch.py}"
PYTHON="${PYTHON:-/usr/bin/python3}"
SEQNET_THREADS="${SEQNET_THREADS:-1,2}"
TORCH_THREADS="${TORCH_THREADS:-1,2,2/1}"
STEPS="${STEPS:-20}"
MIN_S="${MIN_S:-1}"
[ -x "$seqnet" ] || { echo "compare_torch.sh: no seqnet binary at $seqnet (build: ninja -C build-perf seqnet_cli)" >&2; exit 1; }
[ -f "$PEER" ] || { echo "compare_torch.sh: no peer script at $PEER" >&2; exit 1; }
"$PYTHON" -c "import torch" 2>/dev/null || { echo "compare_torch.sh: $PYTHON has no torch (apt-get install python3-torch)" >&2; exit 1; }
models="$(echo "$models" | tr -d ', ' | tr a-z A-Z)"
[ "$models" = "ALL" ] && models="ABCDEFGHIJ"

if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  core="$("$PYTHON" -c "import ctypes; o=ctypes.CDLL('libopenblas.so.0'); o.openblas_get_corename.restype=ctypes.c_char_p; print(o.openblas_get_corename().decode())" 2>/dev/null || echo unknown)"
  if [ "$core" = "Prescott" ]; then
    if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
    [ -n "${OPENBLAS_CORETYPE:-}" ] && echo "# OpenBLAS detected core Prescott on this CPU; OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE for both sides"
  fi
fi

# Both sides use libgomp; its wait policy is set per side, each at its best (measured here, 2 threads):
# PyTorch runs its intra-op pool beside OpenBLAS's threads and needs idle OpenMP threads to sleep (default
# spinning: E's 2-thread train step 258 -> 328 ms, A's 20 -> 71 ms); seqnet has a single pool (its BLAS
# runs single-threaded), where spinning between parallel regions is what a quick wake-up needs (J's
# 2-thread step 7.4 ms passive vs 4.1 ms default). An explicit OMP_WAIT_POLICY applies to both sides.
TORCH_WAIT_POLICY="${TORCH_WAIT_POLICY:-${OMP_WAIT_POLICY:-passive}}"
SEQNET_WAIT_POLICY="${SEQNET_WAIT_POLICY:-${OMP_WAIT_POLICY:-}}"
unset OMP_WAIT_POLICY
with_policy() {  # with_policy POLICY CMD...: runs CMD with OMP_WAIT_POLICY=POLICY, or unset when empty
  local policy="$1"; shift
  if [ -n "$policy" ]; then OMP_WAIT_POLICY="$policy" "$@"; else "$@"; fi
}

[ -n "$out" ] || out="$(mktemp -d /tmp/seqnet_vs_torch.XXXXXX)"
mkdir -p "$out"
: > "$out/seqnet.jsonl"; : > "$out/torch.jsonl"; : > "$out/extra.txt"; : > "$out/log.txt"
{
  echo "# date: $(date -u +%FT%TZ)"
  echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cpus"
  echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# seqnet: $("$seqnet" --version) ($seqnet) threads $SEQNET_THREADS"
  echo "# torch: $("$PYTHON" -c 'import torch; print(torch.__version__)') threads $TORCH_THREADS"
  echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OMP_WAIT_POLICY seqnet=${SEQNET_WAIT_POLICY:-default} torch=$TORCH_WAIT_POLICY STEPS=$STEPS MIN_S=$MIN_S rounds=$rounds"
} | tee -a "$out/log.txt"

for ((r = 1; r <= rounds; r++)); do
  for ((i = 0; i < ${#models}; i++)); do
    m="${models:$i:1}"
    echo "# round $r model $m (load $(cut -d' ' -f1 /proc/loadavg))" | tee -a "$out/log.txt"
    with_policy "$SEQNET_WAIT_POLICY" "$seqnet" bench --model "$m" --threads "$SEQNET_THREADS" --steps "$STEPS" --min-s "$MIN_S" \
      --jsonl "$out/seqnet.jsonl" | grep '^RESULT' | sed "s/^/seqnet round=$r /" | tee -a "$out/log.txt"
    with_policy "$TORCH_WAIT_POLICY" "$PYTHON" "$PEER" --model "$m" --threads "$TORCH_THREADS" --steps "$STEPS" --min-s "$MIN_S" \
      --jsonl "$out/torch.jsonl" | grep '^RESULT' | sed "s/^/torch round=$r /" | cut -c1-160 | tee -a "$out/log.txt"
    if [ "$r" = 1 ]; then
      with_policy "$TORCH_WAIT_POLICY" "$PYTHON" "$here/torch_extra.py" --peer "$PEER" --model "$m" --threads 1,2 | tee -a "$out/extra.txt"
    fi
  done
done

"$PYTHON" - "$out" "$models" "$rounds" <<'EOF' | tee "$out/table.md"
import json, statistics, sys, collections
out, models, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def load(path):
    recs = [json.loads(l) for l in open(path) if l.strip()]
    return recs
S, T = load(out + "/seqnet.jsonl"), load(out + "/torch.jsonl")
# Records come in run order: one run per (round, model); assign rounds by counting runs per model.
def by_round(recs, key_threads):
    runs = collections.defaultdict(list)  # model -> list of runs (list of records)
    last = {}
    for rec in recs:
        m = rec["model"]
        cfg = key_threads(rec)
        if m not in last or cfg in last[m]:
            runs[m].append([])
            last[m] = set()
        last[m].add(cfg)
        runs[m][-1].append(rec)
    return runs
Sr = by_round(S, lambda r: r["threads"])
Tr = by_round(T, lambda r: (r["threads"], r["blas_threads"]))
extra = {}
for l in open(out + "/extra.txt"):
    if l.startswith("EXTRA"):
        kv = dict(p.split("=", 1) for p in l.split()[1:])
        extra[kv["model"]] = kv
targets = {"A": 8, "B": 8, "C": 8, "I": 8, "E": 4, "F": 4, "G": 4, "H": 4, "J": 2.5, "D": 2}
def best(run, key):
    r = min(run, key=lambda rec: rec[key])
    return r[key], r
rows = []
print("| model | seqnet train ms (thr) | torch train ms (cfg) | train ratio | seqnet infer ms | torch infer ms | infer ratio | b1 seqnet / torch ms | b1 ratio | peak RSS seqnet / torch MB | target | met |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for m in models:
    sr, tr = Sr.get(m, []), Tr.get(m, [])
    n = min(len(sr), len(tr))
    if n == 0:
        print("| %s | (no data) |||||||||||" % m)
        continue
    rt, ri, st_ms, tt_ms, si_ms, ti_ms, b1s = [], [], [], [], [], [], []
    for k in range(n):
        s_t, s_rec = best(sr[k], "train_ms"); t_t, t_rec = best(tr[k], "train_ms")
        s_i, _ = best(sr[k], "infer_ms"); t_i, _ = best(tr[k], "infer_ms")
        b1, _ = best(sr[k], "infer_b1_ms")
        rt.append(t_t / s_t); ri.append(t_i / s_i)
        st_ms.append((s_t, s_rec["threads"])); tt_ms.append((t_t, "%d/%d" % (t_rec["threads"], t_rec["blas_threads"])))
        si_ms.append(s_i); ti_ms.append(t_i); b1s.append(b1)
    med = statistics.median
    s_t = sorted(st_ms)[len(st_ms) // 2]; t_t = sorted(tt_ms)[len(tt_ms) // 2]
    b1 = med(b1s)
    e = extra.get(m)
    tb1 = float(e["infer_b1_ms"]) if e else None
    rss_s = max(r["peak_rss_mb"] for run in sr for r in run)
    rss_t = float(e["peak_rss_mb"]) if e else None
    tgt = targets[m]
    met = "yes" if med(rt) >= tgt and med(ri) >= tgt else "no"
    print("| %s | %.2f (%d) | %.2f (%s) | **%.1fx** | %.2f | %.2f | **%.1fx** | %.3f / %s | %s | %.0f / %s | %gx | %s |" % (
        m, s_t[0], s_t[1], t_t[0], t_t[1], med(rt), med(si_ms), med(ti_ms), med(ri), b1,
        "%.3f" % tb1 if tb1 else "-", "%.1fx" % (tb1 / b1) if tb1 else "-", rss_s,
        "%.0f" % rss_t if rss_t else "-", tgt, met))
    print("RATIO model=%s train=%.2f infer=%.2f rounds=%d" % (m, med(rt), med(ri), n), file=sys.stderr)
EOF
echo "# results in $out (log.txt, seqnet.jsonl, torch.jsonl, extra.txt, table.md)"
