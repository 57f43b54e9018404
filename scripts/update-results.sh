#!/usr/bin/env bash
# Copies finished runs (history, summary, figures; not the models) into docs/results/NAME/ and rewrites
# the generated part of docs/RESULTS.md (between its results:begin / results:end markers) with
# `seqnet report` over every run kept there.
#   scripts/update-results.sh runs/imdb_lstm8 runs/weather_gru ...
set -euo pipefail
cd "$(dirname "$0")/.."
seqnet="${SEQNET_BIN:-build/seqnet}"
for run in "$@"; do
  [[ -f "$run/run.json" ]] || { echo "update-results: $run is not a finished run (no run.json)" >&2; exit 1; }
  name=$(basename "$run")
  dest="docs/results/$name"
  rm -rf "$dest" && mkdir -p "$dest"
  # A baseline run has no history or figures.
  for f in run.json test.json history.csv report.md "$run"/*.png; do
    f=$(basename "$f")
    [[ -f "$run/$f" ]] && cp "$run/$f" "$dest/"
  done
  [[ -f "$run.log" ]] && grep -E "^(Epoch [0-9]+/|[0-9]+/[0-9]+ - |Test:|Baseline|Common-sense)" "$run.log" > "$dest/log.txt" || true
done
mapfile -t kept < <(find docs/results -mindepth 2 -maxdepth 2 -name run.json -printf '%h\n' | sed 's|^docs/||' | sort)
# The report's own title is dropped: RESULTS.md has its own.
table=$(cd docs && "../$seqnet" report "${kept[@]}" --references experiments.md | sed '1{/^# /d}')
TABLE="$table" awk '
  /<!-- results:begin -->/ { print; print ENVIRON["TABLE"]; skip = 1; next }
  /<!-- results:end -->/ { skip = 0 }
  !skip { print }
' docs/RESULTS.md > docs/RESULTS.md.tmp
mv docs/RESULTS.md.tmp docs/RESULTS.md
echo "update-results: ${#kept[@]} runs in docs/RESULTS.md"
