#!/usr/bin/env bash
# The plots of docs/results/multitask.md: each task's metric vs the parameter share, one series per criterion × mode,
# mean ± std over the seeds (tools/PlotCsv). Input: the CSV that summarize.py --csv writes. Usage:
#   tools/experiments/multitask/plots.sh [RUNS_CSV] [OUT_DIR]    (defaults: docs/results/multitask/runs.csv, docs/results/multitask)
set -euo pipefail
cd "$(dirname "$0")/../../.."
csv=${1:-docs/results/multitask/runs.csv}
out=${2:-docs/results/multitask}
dotnet build tools/PlotCsv -c Release -v quiet -nologo >/dev/null
plot() { dotnet tools/PlotCsv/bin/Release/net10.0/PlotCsv.dll "$csv" --x share_mean --series criterion mode --xlabel "parameter share of the dense model (%, mean of the seeds)" --width 800 "$@"; }
plot --y class --ylabel "class accuracy (%)" --title "class (10-way): accuracy vs parameters (dense 90.61 %)" --out "$out/class.svg"
plot --y coarse --ylabel "coarse accuracy (%)" --title "coarse (4-way): accuracy vs parameters (dense 97.58 %)" --out "$out/coarse.svg"
plot --y reconstruction --ylabel "reconstruction MSE (lower is better)" --title "reconstruction: MSE vs parameters (dense 0.00331)" --out "$out/reconstruction.svg"
