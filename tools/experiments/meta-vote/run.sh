#!/usr/bin/env bash
# Reproduction study of one-shot pruning from similar tasks (issue 11, item 7). Seeded and resumable: every finished cell
# is a line of $OUT/results.csv and is skipped when the script runs again; libraries are filled with `library fill`,
# which skips tasks already present. Run it detached and follow the log:
#   nohup tools/experiments/meta-vote/run.sh > meta-vote.log 2>&1 &
# Scale with environment variables (defaults = the issue's full study):
#   MODELS="onnx-models/fmnist-resnet.onnx onnx-models/fmnist-vit.onnx"  POOL=40  NEW=10  SEEDS="1 2"  RATIOS="0.5 0.8"
#   BUDGETS="25 50 100 200"  ROUNDS=3  STEPS_PER_ROUND=100  METHODS="k1 k3 k5 random3 l2 taylor random iterative dense"
#   OUT=results/meta-vote   TASK_SEED=11   LIBDIR=$OUT (where the libraries live; share them between runs)
#   FILL_CRITERION=l2 (criterion of the library's iterative pruning: l2 or taylor)
#   RECAL=0 (BatchNormalization recalibration batches after pruning, for every method: adapt and finetune --recalibrate-bn)
# Each budget is its own fine-tuning run (the CLI evaluates at the end of a run only).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/../../.."
MODELS=${MODELS:-"onnx-models/fmnist-resnet.onnx onnx-models/fmnist-vit.onnx"}
POOL=${POOL:-40}; NEW=${NEW:-10}; SEEDS=${SEEDS:-"1 2"}; RATIOS=${RATIOS:-"0.5 0.8"}; BUDGETS=${BUDGETS:-"25 50 100 200"}
ROUNDS=${ROUNDS:-3}; STEPS_PER_ROUND=${STEPS_PER_ROUND:-100}; TASK_SEED=${TASK_SEED:-11}
METHODS=${METHODS:-"k1 k3 k5 random3 l2 taylor random iterative dense"}
OUT=${OUT:-results/meta-vote}; LIBDIR=${LIBDIR:-$OUT}; RECAL=${RECAL:-0}; FILL_CRITERION=${FILL_CRITERION:-l2}
CLI=${CLI:-src/OnnxPrune.Cli/bin/Release/net10.0/OnnxPrune.Cli}
[ -x "$CLI" ] || dotnet build src/OnnxPrune.Cli -c Release -v q
mkdir -p "$OUT/tmp"
CSV="$OUT/results.csv"
[ -f "$CSV" ] || echo "model,seed,ratio,task,method,steps,accuracy,accuracy_before,params,macs,wall_s,cpu_s" > "$CSV"
START=$(date +%s)

# All 120 three-class subsets of the 10 classes, in a seeded order: the first POOL fill the library, the next NEW are new tasks.
ALL="$OUT/all-tasks.txt"
awk -v seed="$TASK_SEED" 'BEGIN { n = 0; for (a = 0; a < 10; a++) for (b = a + 1; b < 10; b++) for (c = b + 1; c < 10; c++) t[n++] = a "," b "," c;
  s = seed; for (i = n - 1; i > 0; i--) { s = (s * 1103515245 + 12345) % 2147483648; j = s % (i + 1); x = t[i]; t[i] = t[j]; t[j] = x }
  for (i = 0; i < n; i++) print t[i] }' > "$ALL"
head -n "$POOL" "$ALL" > "$OUT/pool-tasks.txt"
tail -n +"$((POOL + 1))" "$ALL" | head -n "$NEW" > "$OUT/new-tasks.txt"

done_cell() { grep -q "^$1,$2,$3,\"$4\",$5,$6," "$CSV"; }
# timed CMD...: runs CMD with its stdout in $OUT/tmp/out, sets WALL and CPU.
timed() {
  local t0; t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$OUT/tmp/time" "$@" > "$OUT/tmp/out" 2> "$OUT/tmp/err" || { cat "$OUT/tmp/err" >&2; return 1; }
  WALL=$(echo "$(date +%s.%N) - $t0" | bc); CPU=$(awk '{ print $1 + $2 }' "$OUT/tmp/time")
}
row() { echo "$1,$2,$3,\"$4\",$5,$6,$7,$8,$9,${10},${WALL},${CPU}" >> "$CSV"; echo "[$(date +%T)] $*"; }

for MODEL in $MODELS; do
  M=$(basename "$MODEL" .onnx)
  for RATIO in $RATIOS; do
    LIB="$LIBDIR/lib-$M-$RATIO"
    echo "[$(date +%T)] filling $LIB ($POOL tasks, $ROUNDS rounds × $STEPS_PER_ROUND steps)"
    "$CLI" library fill "$LIB" --model "$MODEL" --tasks "$OUT/pool-tasks.txt" --ratio "$RATIO" --rounds "$ROUNDS" --steps-per-round "$STEPS_PER_ROUND" --criterion "$FILL_CRITERION" --seed 1 > /dev/null
    for SEED in $SEEDS; do
      while read -r TASK; do
        for METHOD in $METHODS; do
          if [ "$METHOD" = iterative ]; then
            STEPS=$((ROUNDS * STEPS_PER_ROUND))
            done_cell "$M" "$SEED" "$RATIO" "$TASK" iterative "$STEPS" && continue
            rm -rf "$OUT/tmp/lib"
            timed "$CLI" library add "$OUT/tmp/lib" --model "$MODEL" --classes "$TASK" --ratio "$RATIO" --rounds "$ROUNDS" --steps-per-round "$STEPS_PER_ROUND" --seed "$SEED"
            J=$("$CLI" library list "$OUT/tmp/lib" --json)
            row "$M" "$SEED" "$RATIO" "$TASK" iterative "$STEPS" "$(echo "$J" | jq '.[0].accuracy')" "" "" ""
            continue
          fi
          for STEPS in $BUDGETS; do
            done_cell "$M" "$SEED" "$RATIO" "$TASK" "$METHOD" "$STEPS" && continue
            case "$METHOD" in
              k*|random3)
                if [ "$METHOD" = random3 ]; then EXTRA="--neighbors 3 --random-neighbors"; else EXTRA="--neighbors ${METHOD#k}"; fi
                # shellcheck disable=SC2086
                timed "$CLI" adapt "$MODEL" "$OUT/tmp/m.onnx" --library "$LIB" --classes "$TASK" --ratio "$RATIO" --steps "$STEPS" --seed "$SEED" --json --recalibrate-bn "$RECAL" $EXTRA
                J=$(cat "$OUT/tmp/out")
                row "$M" "$SEED" "$RATIO" "$TASK" "$METHOD" "$STEPS" "$(echo "$J" | jq .accuracyAfter)" "$(echo "$J" | jq .accuracyBefore)" "$(echo "$J" | jq .after.parameters)" "$(echo "$J" | jq .after.macs)" ;;
              l2|taylor|random|dense)
                t0=$(date +%s.%N)
                if [ "$METHOD" = dense ]; then cp "$MODEL" "$OUT/tmp/p.onnx"; P=""; C=""
                else
                  DATA=""; [ "$METHOD" = taylor ] && DATA="--data fashion-mnist --classes $TASK"
                  # shellcheck disable=SC2086
                  "$CLI" prune "$MODEL" "$OUT/tmp/p.onnx" --criterion "$METHOD" --ratio "$RATIO" --seed "$SEED" $DATA --report "$OUT/tmp/r.json" > /dev/null
                  P=$(jq .after.parameters "$OUT/tmp/r.json"); C=$(jq .after.macs "$OUT/tmp/r.json")
                fi
                timed "$CLI" finetune "$OUT/tmp/p.onnx" "$OUT/tmp/m.onnx" --classes "$TASK" --steps "$STEPS" --seed "$SEED" --recalibrate-bn "$RECAL"
                WALL=$(echo "$(date +%s.%N) - $t0" | bc)
                ACC=$(grep -oP 'accuracy \K[0-9.]+ % → [0-9.]+' "$OUT/tmp/out" | head -1)
                B=$(echo "$ACC" | awk '{ printf "%.4f", $1 / 100 }'); A=$(echo "$ACC" | awk '{ printf "%.4f", $4 / 100 }')
                row "$M" "$SEED" "$RATIO" "$TASK" "$METHOD" "$STEPS" "$A" "$B" "$P" "$C" ;;
              *) echo "unknown method $METHOD" >&2; exit 2 ;;
            esac
          done
        done
      done < "$OUT/new-tasks.txt"
    done
  done
done
echo "[$(date +%T)] finished in $(( $(date +%s) - START )) s"
python3 "$HERE/summarize.py" "$CSV" > "$OUT/summary.md"
