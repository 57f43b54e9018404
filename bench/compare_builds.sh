#!/usr/bin/env bash
# Times two or more seqnet builds (or kernel variants) on the setups A-J, alternating them model by model for
# several rounds in one go, and prints per model the median train / infer / batch-1 ms of each and the ratio
# to the first. A binary can carry environment settings: LABEL=ENV=VALUE,...:PATH.
#
#   bench/compare_builds.sh [--models ABCDEFGHIJ] [--rounds 3] [--threads 2] \
#       native:build-native/seqnet portable:build/seqnet avx2:SEQNET_KERNELS=avx2:build/seqnet
set -euo pipefail
models="ABCDEFGHIJ"
rounds=3
threads=2
builds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    -*) echo "compare_builds: unknown option $1" >&2; exit 2 ;;
    *) builds+=("$1"); shift ;;
  esac
done
[ ${#builds[@]} -ge 1 ] || { echo "compare_builds: name at least one LABEL:[ENV=V,...:]PATH" >&2; exit 2; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(date -u '+%F %H:%M') UTC; threads $threads; rounds $rounds"
for ((r = 1; r <= rounds; r++)); do
  for ((m = 0; m < ${#models}; m++)); do
    model="${models:$m:1}"
    for b in "${builds[@]}"; do
      label="${b%%:*}"
      rest="${b#*:}"
      envs=()
      if [[ "$rest" == *:* ]]; then
        IFS=',' read -r -a envs <<< "${rest%%:*}"
        rest="${rest#*:}"
      fi
      env "${envs[@]}" "$rest" bench --model "$model" --threads "$threads" --steps 10 --min-s 0.5 --rounds 2 \
        | sed -n "s/^RESULT /$label /p" >> "$log"
    done
  done
done
python3 - "$log" "${builds[@]%%:*}" <<'PY'
import re, statistics, sys
log, labels = sys.argv[1], sys.argv[2:]
runs = {}
for line in open(log):
    label, rest = line.split(" ", 1)
    kv = dict(re.findall(r"(\w+)=([^\s]+)", rest))
    if "train_ms" not in kv:
        continue
    for key in ("train_ms", "infer_ms", "infer_b1_ms"):
        runs.setdefault((kv["model"], label, key), []).append(float(kv[key]))
models = sorted({k[0] for k in runs})
head = "| model | " + " | ".join(f"{l} train / infer / b1 ms" for l in labels)
head += "".join(f" | {l} / {labels[0]} train, infer" for l in labels[1:]) + " |"
print(head)
print("|" + "---|" * (1 + len(labels) + len(labels) - 1))
for m in models:
    med = {(l, k): statistics.median(runs[(m, l, k)]) for l in labels for k in ("train_ms", "infer_ms", "infer_b1_ms")
           if (m, l, k) in runs}
    cells = [f"{med[(l,'train_ms')]:.3f} / {med[(l,'infer_ms')]:.3f} / {med[(l,'infer_b1_ms')]:.4f}" for l in labels]
    ratios = [f"{med[(l,'train_ms')] / med[(labels[0],'train_ms')]:.2f}, {med[(l,'infer_ms')] / med[(labels[0],'infer_ms')]:.2f}"
              for l in labels[1:]]
    print(f"| {m} | " + " | ".join(cells + ratios) + " |")
PY
