#!/usr/bin/env bash
# Runs experiments as their files stand, one after another, each into runs/NAME with its log in
# runs/NAME.log, then gathers every finished run into runs/report.md beside the book's figures.
#   scripts/run-experiments.sh                          every experiment in experiments/
#   scripts/run-experiments.sh imdb_lstm8 weather_gru   these
#   SEQNET_RUNS=/tmp/runs scripts/run-experiments.sh    another runs folder
# A run that exists (runs/NAME/run.json) is skipped: delete its folder to run it again.
set -euo pipefail
cd "$(dirname "$0")/.."
export SEQNET_DATA_DIR="${SEQNET_DATA_DIR:-$(cd .. && pwd)/shared/data}"
runs="${SEQNET_RUNS:-runs}"
seqnet="${SEQNET_BIN:-build/seqnet}"
if [[ ! -x "$seqnet" ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build build -j "$(nproc)" --target seqnet_cli
fi
names=("$@")
if ((${#names[@]} == 0)); then
  for f in experiments/*.json; do names+=("$(basename "$f" .json)"); done
fi
mkdir -p "$runs"
for name in "${names[@]}"; do
  exp="experiments/$name.json"
  [[ -f "$exp" ]] || { echo "run-experiments: no $exp" >&2; exit 1; }
  if [[ -f "$runs/$name/run.json" ]]; then
    echo "run-experiments: $name already ran ($runs/$name)"
    continue
  fi
  echo "run-experiments: $name"
  start=$(date +%s)
  if "$seqnet" train "$exp" --out "$runs/$name" --verbose 2 > "$runs/$name.log" 2>&1; then
    echo "run-experiments: $name done in $(( $(date +%s) - start )) s; $(grep '^Test:' "$runs/$name.log" || true)"
  else
    # Jena is absent here: its experiments fail with a one-line message, which is reported, not fatal.
    echo "run-experiments: $name failed after $(( $(date +%s) - start )) s: $(tail -1 "$runs/$name.log")" >&2
    rm -rf "${runs:?}/$name"
  fi
done
mapfile -t done_runs < <(find "$runs" -mindepth 2 -maxdepth 2 -name run.json -printf '%h\n' | sort)
if ((${#done_runs[@]})); then
  "$seqnet" report "${done_runs[@]}" --references docs/experiments.md --out "$runs/report.md" > /dev/null
  echo "run-experiments: ${#done_runs[@]} runs gathered in $runs/report.md"
fi
