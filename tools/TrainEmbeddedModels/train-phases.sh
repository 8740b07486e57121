#!/usr/bin/env bash
# Re-runs every documented training phase of an embedded model (onnx-models/README.md), from seeded initial weights,
# into OUT_DIR (the committed model is not touched). Each phase continues from the previous one's file.
#   tools/TrainEmbeddedModels/train-phases.sh resnet|vit|multitask [OUT_DIR]
# Bit-exact repeats need the library and thread counts of the original runs (see onnx-models/README.md), so expect
# final accuracies close to, not identical with, the committed ones.
set -euo pipefail
cd "$(dirname "$0")/../.."
kind=${1:?usage: train-phases.sh resnet|vit|multitask [OUT_DIR]}
out_dir=${2:-out/train-$kind}
mkdir -p "$out_dir"
dotnet build tools/TrainEmbeddedModels -c Release -v quiet -nologo >/dev/null
train() { dotnet tools/TrainEmbeddedModels/bin/Release/net10.0/TrainEmbeddedModels.dll "$kind" --batch 128 "$@"; }
model="$out_dir/fmnist-$kind.onnx"
phase() { echo "== $kind phase $1 ($(date -u +%H:%M:%S))"; shift; train --out "$model" "$@" | grep -E "eval|saved|parameters"; }
case "$kind" in
  resnet)
    phase 1 --epochs 4 --seed 1 --threads 1
    phase 2 --init "$model" --epochs 3 --lr 0.05 --warmup 100 --seed 2 --threads 2
    phase 3 --init "$model" --epochs 2 --lr 0.02 --warmup 50 --augment no --seed 3 --threads 1
    phase 4 --init "$model" --epochs 1 --lr 0.005 --warmup 20 --augment no --seed 4 --threads 2
    phase 5 --init "$model" --epochs 2 --lr 0.01 --warmup 20 --augment no --seed 5 --threads 1
    ;;
  vit)
    phase 1 --epochs 6 --seed 1 --threads 1
    phase 2 --init "$model" --epochs 5 --lr 0.001 --warmup 200 --seed 2 --threads 2
    phase 3 --init "$model" --epochs 4 --lr 0.0005 --warmup 100 --seed 3 --threads 1
    phase 4 --init "$model" --epochs 8 --lr 0.001 --warmup 100 --augment no --seed 4 --threads 1
    ;;
  multitask)
    # Tasks from onnx-models/fmnist-multitask.tasks.yaml (the default --tasks); no augmentation (reconstruction target).
    phase 1 --epochs 3 --seed 1 --threads 1
    phase 2 --init "$model" --epochs 1.5 --lr 0.02 --warmup 20 --seed 2 --threads 1
    ;;
  *) echo "unknown model '$kind' (resnet, vit or multitask)" >&2; exit 2 ;;
esac
echo "== $kind done ($(date -u +%H:%M:%S)): $model"
