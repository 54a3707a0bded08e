#!/usr/bin/env bash
# Device-side driver for a session's GPU checks (run from the repo root on the device machine;
# see bench/README.md). Each mode writes its log and JSON to $OUT.
#   bench/gpu_checks.sh tests            pytest -m gpu (the CUDA tests), log to $OUT/gpu-tests.log
#   bench/gpu_checks.sh mixed M [K=V..]  bench --scenario daemon-mixed for model M (1.0 or lite),
#                                        extra engine options K=V ($SETTLE_S: wait for the background
#                                        compiles before each mix); JSON to $OUT/daemon-mixed-M.json
#   bench/gpu_checks.sh overhead         bench --scenario daemon-overhead for 1.0 and lite ($OVERHEAD_MODELS): one repeated
#                                        take through serve and in-process, side by side; JSON to $OUT/daemon-overhead-M.json
#   bench/gpu_checks.sh probe            bench/compile_probe.py: the dynamic compile, then static shapes ($PROBE_STATIC)
#   bench/gpu_checks.sh batch            the farm's end-to-end overlap run and the bf16 batch-invariance bound
#   bench/gpu_checks.sh controls         daemon/bench/controls_cost.py: directed takes against a plain take, a 30 s extended take
#   bench/gpu_checks.sh parity           bench/parity_gpu.py: which fast mode breaks float32 exactness (one process per mode)
set -uo pipefail
mode=${1:-tests}
# shellcheck source=device_env.sh
source "$(dirname "$0")/device_env.sh"  # carried wheels (.whl), package symlinks, parity fixture (.parity)
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
case "$mode" in
  tests)  # one pytest process per file: a failed capture can leave CUDA state that fails every later test
    # GPU_TEST_FILES: a space-separated subset (a device call is at most 600 s; test_batch_invariant alone is ~90 s)
    for f in ${GPU_TEST_FILES:-$(grep -rl "mark.gpu" tests --include="test_*.py" | sort)}; do
      echo "=== $f" | tee -a "$OUT/gpu-tests.log"
      timeout "${TEST_FILE_S:-150}" python3 -m pytest -m gpu -q -p no:cacheprovider -p no:logging --tb=short "$f" 2>&1 \
        | grep -v "Warning\|warn(" >> "$OUT/gpu-tests.log"
      tail -3 "$OUT/gpu-tests.log"
    done
    ;;
  mixed)
    model=${2:-1.0}; shift; [ $# -gt 0 ] && shift
    opts=(--serve-warm-up "${SERVE_WARM_UP:-5}" --settle-s "${SETTLE_S:-0}"); tag=$model-w${SERVE_WARM_UP:-5}
    for kv in "$@"; do opts+=(--engine-option "$kv"); tag="$tag-$(echo "$kv" | tr '=,' '-.')"; done
    python3 -m motionbridge.daemon.cli bench --scenario daemon-mixed --device cuda --models "$model" "${opts[@]}" \
      --json "$OUT/daemon-mixed-$tag.json" 2>&1 | grep -v "Warning\|warn(" | tee "$OUT/daemon-mixed-$tag.log" | tail -80
    ;;
  overhead)
    for m in ${OVERHEAD_MODELS:-1.0 lite}; do
      timeout "${OVERHEAD_S:-280}" python3 -m motionbridge.daemon.cli bench --scenario daemon-overhead --device cuda --models "$m" \
        --takes "${TAKES:-40}" --json "$OUT/daemon-overhead-$m.json" 2>&1 | grep -v "Warning\|warn(" | tail -3
    done
    ;;
  probe)
    mkdir -p "$OUT/dynamic" "$OUT/static"
    OUT=$OUT/dynamic PROBE_SKIP=eager,graphs,static,static_warm_disk,background timeout ${DYNAMIC_S:-300} python3 bench/compile_probe.py 2>&1 | grep -v "Warning\|warn(" | tail -20
    OUT=$OUT/static PROBE_SKIP=eager,graphs,static_warm_disk,background,dynamic timeout ${STATIC_S:-200} python3 bench/compile_probe.py 2>&1 | grep -v "Warning\|warn(" | tail -20
    ;;
  controls)
    for m in ${COST_MODELS:-1.0}; do
      timeout "${COST_S:-280}" python3 -m motionbridge.daemon.bench.controls_cost --device cuda --model "$m" --json "$OUT/controls-cost-$m.json" 2>&1 \
        | grep -v "Warning\|warn(" | tail -25
    done
    ;;
  parity)
    python3 bench/parity_gpu.py 2>&1 | grep -v "Warning\|warn(" | tee "$OUT/parity_gpu.log" | grep '^{' | cut -c1-400
    ;;
  batch)
    timeout 330 python3 -m motionbridge.daemon.bench.batch --engine-factory motionbridge.daemon.bench.random_features:full --device cuda \
      --dtype bfloat16 --takes 1024 --batch-size 32 --duration 5 --format "${BATCH_FORMATS:-fbx,glb}" --rig mixamo --export-workers 8 \
      --json "$OUT/batch-overlap.json" 2>&1 | tail -30
    MB_BATCH_INVARIANCE_JSON="$OUT/batch-invariance.json" timeout 200 python3 -m pytest -m gpu -p no:cacheprovider -q -s \
      tests/daemon/engine/fast/test_batch_invariant.py 2>&1 | tail -15
    ;;
esac
