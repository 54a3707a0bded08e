"""GPU smoke of the background compile (issue 15): random Lite weights, the GPU default config.
A new shape runs uncompiled while it compiles (stage 'compiling'), then compiled; latencies of
each and the compile time. JSON to $OUT/background_smoke.json."""

import dataclasses
import json
import os
import time
from pathlib import Path

import torch

from motionbridge.daemon.bench.random_models import random_engine
from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.fast.config import FastConfig

e = random_engine("cuda", os.environ.get("SMOKE_MODEL", "lite"), **dataclasses.asdict(FastConfig.for_device("cuda")))
res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "model": os.environ.get("SMOKE_MODEL", "lite")}


def take(seed: int, duration: float = 5.0) -> tuple[float, list]:
    stages = []
    t = time.perf_counter()
    e.generate([GenerationRequest("A person walks forward.", duration, (seed,), 5.0)], on_step=lambda i: stages.append(i.stage))
    torch.cuda.synchronize()
    return round((time.perf_counter() - t) * 1000, 1), sorted(set(stages))


res["first"] = take(0)
res["while_compiling"] = [take(s) for s in (1, 2, 3)]
t = time.perf_counter()
e.compiler.wait_idle(300)
res["waited_for_compile_s"] = round(time.perf_counter() - t, 1)
res["compiled_first"] = take(4)
res["compiled"] = [take(s) for s in (5, 6, 7)]
res["events"] = e.compile_events
print(json.dumps(res, indent=1))
Path(os.environ.get("OUT", "/tmp")).joinpath("background_smoke.json").write_text(json.dumps(res, indent=1))
