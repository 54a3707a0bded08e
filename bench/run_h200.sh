#!/usr/bin/env bash
# Device-side driver for the H200 benchmark (run from the copied tree; see bench/README.md).
#   bench/run_h200.sh smoke   imports, CUDA, a tiny and a short Lite run
#   bench/run_h200.sh full    the full benchmark, JSON + table to $OUT
set -uo pipefail
mode=${1:-smoke}
# shellcheck source=device_env.sh
source "$(dirname "$0")/device_env.sh"  # carried wheels (.whl), package symlinks, parity fixture (.parity)
python3 -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0), 'transformers', transformers.__version__)"
nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm --format=csv
OUT=${OUT:-/tmp/out}
if [ "$mode" = smoke ]; then
  python3 -m motionbridge.daemon.cli bench --device cuda --models tiny-random --steps 3 --durations 5 --batches 1,8 --repeats 1 --reference-batch 2 2>&1 | tail -25
  python3 -m motionbridge.daemon.cli bench --device cuda --models lite --steps 5 --durations 5 --batches 8 --repeats 1 --reference-batch 2 --json "$OUT/smoke.json" 2>&1 | tee "$OUT/smoke.log" | tail -30
  python3 bench/parity_gpu.py 2>&1 | tee "$OUT/parity_gpu.log"
elif [ "$mode" = exact ]; then  # the exact fast modes (float32 + graphs / compiled blocks) next to bf16
  python3 -m motionbridge.daemon.cli bench --device cuda --models 1.0,lite --modes fp32_graphs,fp32_compiled,bf16_compiled --durations 5 --batches 64 --json "$OUT/h200_exact.json" --table "$OUT/h200_exact.md" 2>&1 | grep -v "Warning\|warn(" | tee "$OUT/bench_exact.log" | tail -40
elif [ "$mode" = main ]; then  # exact fp32 eager (check) + the fastest mode, both models, full sizes
  python3 bench/parity_gpu.py 2>&1 | grep -v Warning | tee "$OUT/parity_gpu.log"
  python3 -m motionbridge.daemon.cli bench --device cuda --models 1.0,lite --modes fp32,bf16_compiled --json "$OUT/h200_main.json" --table "$OUT/h200_main.md" 2>&1 | grep -v "Warning\|warn(" | tee "$OUT/bench_main.log" | tail -40
else  # full-<model>: one model per call, to stay inside the 10-minute command limit
  model=${mode#full-}
  [ "$model" = 1.0 ] && python3 bench/parity_gpu.py 2>&1 | grep -v Warning | tee "$OUT/parity_gpu.log"
  python3 -m motionbridge.daemon.cli bench --device cuda --models "$model" --json "$OUT/h200_$model.json" --table "$OUT/h200_$model.md" 2>&1 | grep -v "Warning\|warn(" | tee "$OUT/bench_$model.log" | tail -40
fi
