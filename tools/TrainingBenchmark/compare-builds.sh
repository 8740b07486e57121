#!/usr/bin/env bash
# Times two builds of TrainingBenchmark in alternating rounds (A B, B A, A B, ...) in one run, so drift of a shared
# machine hits both alike. Usage: compare-builds.sh DIR_A DIR_B [ROUNDS] [-- benchmark args]
# Each DIR holds a built TrainingBenchmark (e.g. `dotnet build tools/TrainingBenchmark -c Release -o DIR` in two
# worktrees). Prints every run's table lines tagged with the build's label.
set -uo pipefail
a=$1; b=$2; rounds=${3:-3}; shift 3 || true
[ "${1:-}" = "--" ] && shift
args=("$@"); [ ${#args[@]} -eq 0 ] && args=(--threads 1 --iterations 10 --batches 64)
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then order=("A:$a" "B:$b"); else order=("B:$b" "A:$a"); fi
  for item in "${order[@]}"; do
    label=${item%%:*}; dir=${item#*:}
    echo "== round $r build $label ($dir)"
    dotnet "$dir/TrainingBenchmark.dll" "${args[@]}" 2>&1 | sed "s/^/[$label r$r] /"
  done
done
