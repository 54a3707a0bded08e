"""Multi-GPU scaling on one host: clips/min of MultiGpuEngine with 1 and N workers (one per
GPU, random real-shape weights, bf16 + CUDA graphs + compiled blocks, text features cached).
Writes $OUT/multi_gpu.json."""

import json
import os
import time
from pathlib import Path

import torch

from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.multi_gpu import MultiGpuEngine

FACTORY = "motionbridge.daemon.engine.bench_models:random_engine"
PROMPT = "A person walks forward."
model = os.environ.get("SCALING_MODEL", "1.0")
seeds_per_request, requests = 16, 16
args = {"model": model, "prompts": [PROMPT], "dtype": "bfloat16", "cuda_graphs": True, "compile_blocks": True}
reqs = [GenerationRequest(PROMPT, 5.0, tuple(range(i * seeds_per_request, (i + 1) * seeds_per_request)), 5.0, request_id=str(i)) for i in range(requests)]
n_gpus = torch.cuda.device_count()
res = {"model": model, "gpus_on_host": n_gpus, "clips_per_call": seeds_per_request * requests, "runs": {}}
for n in sorted({1, n_gpus}):
    t0 = time.perf_counter()
    eng = MultiGpuEngine([f"cuda:{i}" for i in range(n)], FACTORY, args)
    start = time.perf_counter() - t0
    eng.generate(reqs[: 2 * n])  # warm-up: compile + capture on every worker
    t1 = time.perf_counter()
    takes = eng.generate(reqs)
    sec = time.perf_counter() - t1
    res["runs"][str(n)] = {"workers": n, "start_s": round(start, 1), "clips_per_min": round(60 * len(takes) / sec, 1), "wall_s": round(sec, 2), "takes": len(takes)}
    print(res["runs"][str(n)], flush=True)
    eng.close()
if len(res["runs"]) == 2:
    one, many = res["runs"]["1"]["clips_per_min"], res["runs"][str(n_gpus)]["clips_per_min"]
    res["scaling"] = round(many / one, 3)
    res["efficiency"] = round(many / one / n_gpus, 3)
print(json.dumps(res), flush=True)
if os.environ.get("OUT"):
    Path(os.environ["OUT"], "multi_gpu.json").write_text(json.dumps(res, indent=2))
