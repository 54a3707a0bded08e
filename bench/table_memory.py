"""What the text-table mode costs in device memory: for the GPU default with and without the
table (`text_kv_mib` 0), the memory the engine holds after one clip of each length (the
captured graphs and their tables stay in the graph pool) and the peak while making it, both
over the memory held by the freshly built engine. A diagnostic for bench/README.md.
Run on the device: python3 bench/table_memory.py [--model 1.0] [--durations 5,10] [--json out]
"""

from __future__ import annotations

import argparse
import gc
import json

import torch

from motionbridge.daemon.bench.random_models import random_engine
from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.fast.config import FastConfig

PROMPT = "A person walks forward."
GIB = 2**30


def measure(model: str, kv_mib: int, durations: list[float]) -> dict:
    gc.collect()
    torch.cuda.empty_cache()
    engine = random_engine("cuda:0", model, prompts=(PROMPT,), **{**FastConfig.for_device("cuda").__dict__, "text_kv_mib": kv_mib})
    base = torch.cuda.memory_allocated()
    rows = []
    for d in durations:
        torch.cuda.reset_peak_memory_stats()
        engine.generate([GenerationRequest(PROMPT, d, (0,), 5.0)])
        torch.cuda.synchronize()
        rows.append({"duration_s": d, "held_gib": round((torch.cuda.memory_allocated() - base) / GIB, 3),
                     "peak_over_base_gib": round((torch.cuda.max_memory_allocated() - base) / GIB, 3)})
    entry = next(reversed(engine.graphs.entries.values()))
    tables = [t for t in getattr(entry, "tables", ()) if t is not None]
    out = {"model": model, "text_kv_mib": kv_mib, "engine_gib": round(base / GIB, 3), "per_length": rows,
           "last_shape_tables_mb": round(sum(t.numel() * t.element_size() for t in tables) / 1e6, 1)}
    del engine, entry, tables
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="1.0")
    ap.add_argument("--durations", default="5,10")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    durations = [float(d) for d in args.durations.split(",")]
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "runs": []}
    for kv_mib in (512, 0):
        r = measure(args.model, kv_mib, durations)
        print(json.dumps(r), flush=True)
        res["runs"].append(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
