#!/usr/bin/env bash
# Reproduction study of one-shot pruning from similar tasks (issue 11, item 7): builds MetaVoteStudy and runs it, one
# process per model (one intra-op thread each), in the background; then `plot`. Seeded and resumable (run it again to
# continue: libraries skip tasks they hold, results.csv skips finished methods). Options go to MetaVoteStudy
# (defaults = the issue's full study; see README.md), e.g. the scaled-down run of docs/results/meta-vote.md:
#   tools/experiments/meta-vote/run.sh out/meta-vote --pool 24
# Follow OUT/log-<model>.txt; when both processes end, OUT holds results.csv, neighbors.csv, latency.csv and the SVGs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/../../.."
OUT=${1:-out/meta-vote}; shift || true
MODELS=${MODELS:-"onnx-models/fmnist-resnet.onnx onnx-models/fmnist-vit.onnx"}
dotnet build "$HERE/MetaVoteStudy" -c Release -v q -nologo > /dev/null
STUDY="dotnet $HERE/MetaVoteStudy/bin/Release/net10.0/MetaVoteStudy.dll"
mkdir -p "$OUT"
pids=()
for MODEL in $MODELS; do
  M=$(basename "$MODEL" .onnx)
  # One output folder per model so the two processes never append to the same file; plot merges them.
  $STUDY --out "$OUT/$M" --models "$MODEL" "$@" >> "$OUT/log-$M.txt" 2>&1 &
  pids+=($!)
done
echo "study running: ${pids[*]} (logs: $OUT/log-*.txt)"
status=0
for p in "${pids[@]}"; do wait "$p" || status=$?; done
for MODEL in $MODELS; do $STUDY plot --out "$OUT/$(basename "$MODEL" .onnx)"; done
exit $status
