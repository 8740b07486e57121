#!/usr/bin/env bash
# GPU check: builds the CLI with the GPU native package (-p:OnnxRuntimeFlavor=Gpu), then on both embedded models
# runs `bench` and one seeded `run` on CUDA and on CPU, and one `finetune --steps 20` on each provider; prints the
# largest difference between the CPU and CUDA outputs and between the two loss curves (loss every 2 steps).
# Needs an NVIDIA GPU with CUDA 13 and cuDNN 9 libraries on the library path; without them `--provider cuda` exits 6
# with a message naming the missing library. Fashion-MNIST: Debian's dataset-fashion-mnist.
# Usage: tools/gpu-check.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/onnxprune-gpu-check}
rm -rf "$out"; mkdir -p "$out"
echo "== build with -p:OnnxRuntimeFlavor=Gpu"
dotnet build src/OnnxPrune.Cli -c Release -p:OnnxRuntimeFlavor=Gpu -o "$out/bin" -nologo -v quiet >"$out/build.log" 2>&1 || { tail -20 "$out/build.log"; exit 1; }
cli() { dotnet "$out/bin/OnnxPrune.Cli.dll" "$@"; }
cli --version
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi: not found"

compare() { # compare DIR_A DIR_B: max |a-b| and max relative difference over output_K.pb
  python3 - "$1" "$2" <<'PY'
import sys, glob, os
import numpy as np
from onnx import numpy_helper, TensorProto
worst_abs = worst_rel = 0.0
for fa in sorted(glob.glob(os.path.join(sys.argv[1], "output_*.pb"))):
    fb = os.path.join(sys.argv[2], os.path.basename(fa))
    ta, tb = TensorProto(), TensorProto()
    ta.ParseFromString(open(fa, "rb").read()); tb.ParseFromString(open(fb, "rb").read())
    a = numpy_helper.to_array(ta).astype(np.float64); b = numpy_helper.to_array(tb).astype(np.float64)
    d = np.abs(a - b).max()
    worst_abs = max(worst_abs, d); worst_rel = max(worst_rel, d / max(np.abs(a).max(), 1e-12))
print(f"max |cpu - cuda| {worst_abs:.3e}, relative {worst_rel:.3e}")
PY
}

status=0
for m in fmnist-resnet fmnist-vit; do
  for p in cpu cuda; do
    echo "== $m: bench --provider $p (batch 64)"
    cli bench "onnx-models/$m.onnx" --provider "$p" --dim N=64 --warmup 20 --runs 200 || status=1
    cli run "onnx-models/$m.onnx" --provider "$p" --random --seed 7 --dim N=64 --output-dir "$out/$m-run-$p" >/dev/null || status=1
  done
  echo "== $m: outputs, CPU vs CUDA"
  compare "$out/$m-run-cpu" "$out/$m-run-cuda" || status=1
done

for p in cpu cuda; do
  echo "== fmnist-resnet: finetune --steps 20 --provider $p"
  cli finetune onnx-models/fmnist-resnet.onnx "$out/tuned-$p.onnx" --classes 0,3,7 --steps 20 --seed 1 --threads 2 \
    --provider "$p" --progress-interval 2 2>"$out/finetune-$p.log" || { status=1; tail -5 "$out/finetune-$p.log"; }
  grep -oE '^step [0-9]+/[0-9]+ ep [0-9.]+ loss [0-9.]+' "$out/finetune-$p.log" | awk '{print $NF}' >"$out/loss-$p.txt" || true
done
echo "== loss curves (every 2 steps), CPU vs CUDA"
paste "$out/loss-cpu.txt" "$out/loss-cuda.txt" | awk '{d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d; printf "  %s  %s\n", $1, $2} END {printf "max |loss cpu - loss cuda| %.3e over %d points\n", m, NR}'
echo "== tuned models, CPU vs CUDA training (both run on CPU)"
cli run "$out/tuned-cpu.onnx" --random --seed 7 --dim N=64 --output-dir "$out/tuned-cpu-run" >/dev/null && \
  cli run "$out/tuned-cuda.onnx" --random --seed 7 --dim N=64 --output-dir "$out/tuned-cuda-run" >/dev/null && \
  compare "$out/tuned-cpu-run" "$out/tuned-cuda-run" || status=1
exit $status
