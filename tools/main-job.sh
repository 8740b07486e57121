#!/usr/bin/env bash
# The main job on the embedded default model: prune fmnist-resnet to half its channels (checked against the
# masked original on ONNX Runtime), fine-tune the pruned model for 300 steps on a 3-class task, and evaluate it
# next to the unpruned model fine-tuned the same way. Builds what it needs (restore, which brings ONNX Runtime from NuGet);
# Fashion-MNIST comes from Debian's dataset-fashion-mnist (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out}
classes=${CLASSES:-0,3,7}
steps=${STEPS:-300}

if [ ! -d /usr/share/datasets/fashion-mnist ] && [ -z "${ONNXPRUNE_FASHION_MNIST:-}" ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null
fi
dotnet build src/OnnxPrune.Cli -c Release -v quiet -nologo >/dev/null
onnxprune() { dotnet src/OnnxPrune.Cli/bin/Release/net10.0/OnnxPrune.Cli.dll "$@"; }
mkdir -p "$out"

echo "== 1. prune onnx-models/fmnist-resnet.onnx to 50% of its channels (L2 criterion), verify on ONNX Runtime"
onnxprune prune onnx-models/fmnist-resnet.onnx "$out/fmnist-resnet-pruned.onnx" --criterion l2 --ratio 0.5 \
  --verify --report "$out/prune-report.json"

echo "== 2. fine-tune the pruned model for $steps steps on classes {$classes}"
onnxprune finetune "$out/fmnist-resnet-pruned.onnx" "$out/fmnist-resnet-pruned-tuned.onnx" --classes "$classes" --steps "$steps" --seed 1

echo "== 3. fine-tune the unpruned model the same way (the reference)"
onnxprune finetune onnx-models/fmnist-resnet.onnx "$out/fmnist-resnet-tuned.onnx" --classes "$classes" --steps "$steps" --seed 1

echo "== 4. accuracy on the task's test split"
for m in fmnist-resnet-pruned-tuned fmnist-resnet-tuned; do
  printf '%-32s' "$m"; onnxprune eval "$out/$m.onnx" --classes "$classes" --json | grep '"accuracy"'
done
onnxprune info "$out/fmnist-resnet-pruned-tuned.onnx" | grep -E "Parameters"
onnxprune info onnx-models/fmnist-resnet.onnx | grep -E "Parameters"
