#!/usr/bin/env bash
# The project's test command: installs what the tests need, builds, runs every test, and prints
# "N passed, N failed[, N skipped]" as its last line. Exit code 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."

# System packages the tests read: ONNX's backend test models, the onnx Python package (an independent
# checker), Fashion-MNIST. Installed only when missing.
need=()
[ -d /usr/share/libonnx-testdata/data ] || need+=(libonnx-testdata)
/usr/bin/python3 -c 'import onnx' 2>/dev/null || need+=(python3-onnx)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}" >/dev/null \
    || echo "warning: could not install ${need[*]}; tests that need them will fail"
fi

# Real third-party models live in ../shared/onnx-models beside the checkout (never copied into the repository). A
# clone made elsewhere (e.g. in a temp folder) finds them beside the repository it was cloned from; the tests fail
# loudly when neither has them.
if [ -z "${ONNXPRUNE_SHARED_MODELS:-}" ] && [ ! -d ../shared/onnx-models ]; then
  origin=$(git remote get-url origin 2>/dev/null || true)
  if [ -n "$origin" ] && [ -d "$origin/../shared/onnx-models" ]; then
    export ONNXPRUNE_SHARED_MODELS="$(cd "$origin/../shared/onnx-models" && pwd)"
    echo "Shared models: $ONNXPRUNE_SHARED_MODELS (beside the repository this clone came from)"
  fi
fi

results=$(mktemp -d)
log="$results/test.log"
dotnet test OnnxPrune.sln -c Release --logger "trx;LogFileName=results.trx" --results-directory "$results" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=0; failed=0; skipped=0
while read -r line; do
  f=$(sed -E 's/.*Failed: *([0-9]+).*/\1/' <<<"$line")
  p=$(sed -E 's/.*Passed: *([0-9]+).*/\1/' <<<"$line")
  s=$(sed -E 's/.*Skipped: *([0-9]+).*/\1/' <<<"$line")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done < <(grep -E '^(Passed|Failed)! +- Failed: ' "$log")

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "dotnet test exited with $status (build error or crashed test host)"
  failed=$((failed + 1))
fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
  echo "no tests ran"
  failed=1
fi
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
