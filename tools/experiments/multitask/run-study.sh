#!/usr/bin/env bash
# The multi-task pruning study (issue 13): per-task metric vs parameter share for gate-Taylor vs gradient-cosine, iterative
# vs re-initialised, at several sizes, 2 seeds, on onnx-models/fmnist-multitask.onnx. Seeded and resumable: each run writes
# OUT_DIR/<name>.json (the prune-multitask --json report) and OUT_DIR/<name>.onnx and is skipped when its JSON exists, so
# re-running after an interruption continues where it stopped. Run it in the background:
#   nohup tools/experiments/multitask/run-study.sh [OUT_DIR] > out/multitask-study.log 2>&1 &
# then write the tables with tools/experiments/multitask/summarize.py OUT_DIR > docs/results/multitask.md.
# RATIOS, SEEDS, MODES, CRITERIA and THREADS can be overridden from the environment (e.g. RATIOS="0.5" SEEDS=1 for a
# miniature).
set -euo pipefail
cd "$(dirname "$0")/../../.."
out_dir=${1:-out/multitask-study}
mkdir -p "$out_dir"
ratios=${RATIOS:-"0.5 0.75 0.9"}
seeds=${SEEDS:-"1 2"}
modes=${MODES:-"iterative reinit"}
criteria=${CRITERIA:-"taylor cosine"}
threads=${THREADS:-1}
# A frozen copy of the CLI in OUT_DIR/cli: rebuilding the working tree while the study runs changes no run.
dotnet build src/OnnxPrune.Cli -c Release -v quiet -nologo >/dev/null
rm -rf "$out_dir/cli" && cp -r src/OnnxPrune.Cli/bin/Release/net10.0 "$out_dir/cli"
git rev-parse HEAD > "$out_dir/commit.txt"
cli() { dotnet "$out_dir/cli/OnnxPrune.Cli.dll" "$@"; }
model=onnx-models/fmnist-multitask.onnx
tasks=onnx-models/fmnist-multitask.tasks.yaml
start=$(date +%s)
for seed in $seeds; do
  for ratio in $ratios; do
    for mode in $modes; do
      for criterion in $criteria; do
        name="${criterion}-${mode}-r${ratio}-s${seed}"
        if [[ -f "$out_dir/$name.json" ]]; then echo "== $name: done before, skipped"; continue; fi
        extra=()
        [[ $mode == reinit ]] && extra+=(--reinit)
        echo "== $name ($(date -u +%H:%M:%S))"
        t0=$(date +%s)
        cli prune-multitask "$model" "$out_dir/$name.onnx" --data fashion-mnist --tasks "$tasks" --criterion "$criterion" \
          --ratio "$ratio" --seed "$seed" --threads "$threads" "${extra[@]}" --json > "$out_dir/$name.json.tmp" 2> "$out_dir/$name.log"
        echo "{\"name\": \"$name\", \"seconds\": $(( $(date +%s) - t0 ))}" > "$out_dir/$name.time.json"
        mv "$out_dir/$name.json.tmp" "$out_dir/$name.json"
        grep -E "^(dense|pruned|round)" "$out_dir/$name.log" | tail -2
      done
    done
  done
done
echo "== study done in $(( ($(date +%s) - start) / 60 )) min"
