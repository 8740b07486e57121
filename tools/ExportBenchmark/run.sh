#!/usr/bin/env bash
# Exports both embedded models every way EXPORT.md reports (INT8 static per-tensor/per-channel × MinMax/percentile,
# INT8 dynamic, FP16) with `onnxprune export --check fashion-mnist`, and prints one Markdown table row per variant:
# size ratio, accuracy before → after, ORT CPU latency median at 1 thread and at all threads, float32 → exported.
# Usage: tools/ExportBenchmark/run.sh [OUT_DIR] [LATENCY_RUNS]   (build Release first)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-$(mktemp -d)}
runs=${2:-200}
mkdir -p "$out"
cli=src/OnnxPrune.Cli/bin/Release/net10.0/OnnxPrune.Cli
variants=(
  "fmnist-resnet|fold-bn|--fold-bn"
  "fmnist-resnet|int8 static per-tensor minmax|--fold-bn --int8 --calibrate fashion-mnist"
  "fmnist-resnet|int8 static per-tensor percentile|--fold-bn --int8 --calibrate fashion-mnist --calibration-method percentile"
  "fmnist-resnet|int8 static per-channel minmax|--fold-bn --int8 --calibrate fashion-mnist --per-channel"
  "fmnist-resnet|int8 static per-channel percentile|--fold-bn --int8 --calibrate fashion-mnist --per-channel --calibration-method percentile"
  "fmnist-resnet|fp16 (float32 io)|--fold-bn --fp16 --keep-io-types"
  "fmnist-vit|int8 dynamic per-column|--cleanup --int8 --dynamic --per-channel"
  "fmnist-vit|int8 dynamic per-tensor|--cleanup --int8 --dynamic"
  "fmnist-vit|int8 static per-channel minmax|--cleanup --int8 --calibrate fashion-mnist --per-channel"
  "fmnist-vit|int8 static per-channel percentile|--cleanup --int8 --calibrate fashion-mnist --per-channel --calibration-method percentile"
  "fmnist-vit|fp16 (float32 io)|--cleanup --fp16 --keep-io-types"
)
echo "| model | variant | size ratio | accuracy before → after (Δ points) | 1 thread median ms f32 → out (speedup) | all threads median ms f32 → out (speedup) |"
echo "|---|---|---|---|---|---|"
i=0
for v in "${variants[@]}"; do
  IFS='|' read -r model name args <<<"$v"
  i=$((i + 1))
  # shellcheck disable=SC2086
  "$cli" export "onnx-models/$model.onnx" "$out/$i.onnx" $args --check fashion-mnist --latency-runs "$runs" --report "$out/$i.json" >/dev/null 2>"$out/$i.log"
  jq -r --arg m "$model" --arg n "$name" '
    "| \($m) | \($n) | \(.bytesAfter / .bytesBefore * 1000 | round / 1000) | " +
    "\(.accuracy.before * 10000 | round / 100) → \(.accuracy.after * 10000 | round / 100) (\(.accuracy.deltaPoints * 100 | round / 100)) | " +
    ([.latency[] | "\(.before.medianMs * 1000 | round / 1000) → \(.after.medianMs * 1000 | round / 1000) (\(.speedup * 100 | round / 100)×)"] | join(" | ")) + " |"' "$out/$i.json"
done
