"""GPU probe (issue 15): what a request of a shape nobody has met yet costs on each path, and
what a compile in a background thread costs the requests served meanwhile.

Random 1.0B weights of the real shapes, fixed random text features (14, 30 and 60 tokens),
bf16. Per path, the first call of a new (frames, text, rows) shape and a repeat of it:
  eager            buckets, no CUDA graphs, nothing compiled
  graphs           CUDA graphs of the uncompiled network (captured on the first call)
  static           the GPU default (graphs over blocks compiled per shape), cold caches, then
                   the same shape in a fresh engine after torch._dynamo.reset() (disk caches warm)
  dynamic          the GPU default with compile_dynamic=True (one compile for every shape?)
  dynamic_blocks   compile_dynamic=True with scope 'blocks' and no side stream, then a restart
and `background`: a second static engine compiles a new shape in a thread while this thread
serves a ready shape (static graphs) and a fallback shape (uncompiled graphs) in a loop.
JSON to $OUT/compile_probe.json. PROBE_MODEL=lite|1.0 (default 1.0); PROBE_SKIP=a,b skips paths;
PROBE_DYNAMIC_SHAPES and PROBE_ONE_ROW narrow dynamic_blocks (see below).
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import threading
import time
import traceback
from pathlib import Path

import torch

from motionbridge.daemon.bench.random_models import model_config, random_flow_model
from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.compile.dynamic_inputs import fixed_sizes
from motionbridge.daemon.engine.fast.config import FastConfig
from motionbridge.daemon.engine.fast.engine import FastEngine
from motionbridge.daemon.engine.text.cache import CachedText

# other threads may launch work and allocate while a graph is captured (the background compile)
torch.cuda.graph = functools.partial(torch.cuda.graph, capture_error_mode="thread_local")  # type: ignore[misc]

MODEL = os.environ.get("PROBE_MODEL", "1.0")
PROBE_STATIC = os.environ.get("PROBE_STATIC", "A")  # shapes compiled statically (each ~28 s from cold on an H100)
SKIP = set(filter(None, os.environ.get("PROBE_SKIP", "").split(",")))
# dynamic_blocks: the shapes met after the warm-up, and PROBE_ONE_ROW=1 to warm and meet one-row
# shapes only (a cold dynamic compile of each code variant takes minutes on an H100)
DYNAMIC_SHAPES = os.environ.get("PROBE_DYNAMIC_SHAPES", "ABCDEFGH")
ONE_ROW = os.environ.get("PROBE_ONE_ROW") == "1"
OUT = Path(os.environ.get("OUT", "/tmp/out"))
PROMPTS = {"p14": 14, "p30": 30, "p60": 60, "p120": 120}
SHAPES = {"A": (5.0, "p14", 1), "B": (8.0, "p14", 1), "C": (5.0, "p30", 1), "D": (5.0, "p14", 2), "E": (3.0, "p60", 4), "F": (11.0, "p30", 2),
          "G": (12.0, "p14", 1), "H": (12.0, "p60", 4)}
cfg = model_config(MODEL)
model = random_flow_model(cfg, "cuda", torch.bfloat16)
gen = torch.Generator().manual_seed(1)
FEATS = {p: CachedText(torch.randn(n, cfg.network.ctxt_input_dim, generator=gen), torch.randn(1, cfg.network.vtxt_input_dim, generator=gen))
         for p, n in PROMPTS.items()}
res: dict = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "model": MODEL}


def engine(**fast) -> FastEngine:
    e = FastEngine(model, cfg, None, FastConfig(dtype="bfloat16", buckets=True, **fast), device="cuda", model_name=MODEL)
    for p, f in FEATS.items():
        e.cache.put(p, f)
    return e


def call(e: FastEngine, shape: str, seed: int = 0) -> float:
    d, p, rows = SHAPES[shape]
    t = time.perf_counter()
    e.generate([GenerationRequest(p, d, tuple(range(seed, seed + rows)), 5.0, request_id=f"{shape}{seed}")])
    torch.cuda.synchronize()
    ms = round((time.perf_counter() - t) * 1000, 1)
    print(f"call {shape}{seed}: {ms} ms", flush=True)  # a run cut short by its time limit still shows these
    return ms


def path(name: str, fn) -> None:
    if name in SKIP:
        return
    t = time.perf_counter()
    try:
        res[name] = fn()
    except Exception as exc:
        res[name] = {"error": f"{type(exc).__name__}: {exc}"[:600]}
        traceback.print_exc()
    res[name]["probe_s"] = round(time.perf_counter() - t, 1)
    print(name, json.dumps(res[name]), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "compile_probe.json").write_text(json.dumps(res, indent=1))  # after each path: a run cut short keeps it
    torch.cuda.empty_cache()


def firsts_and_repeat(e: FastEngine, shapes: str, repeat_all: bool = False) -> dict:
    """The first call of each shape, then repeats: of A (median of 5), or with `repeat_all` of
    every shape (median of 3; what a padded bucket costs against a tight one)."""
    out = {f"first_{s}_ms": call(e, s) for s in shapes}
    for s in shapes if repeat_all else "A":
        out[f"repeat_{s}_ms"] = statistics.median(call(e, s, seed) for seed in range(1, 6 if s == "A" else 4))
    return out


path("eager", lambda: firsts_and_repeat(engine(), "AB"))
path("graphs", lambda: firsts_and_repeat(engine(cuda_graphs=True), "ABCD"))
path("static", lambda: firsts_and_repeat(engine(cuda_graphs=True, compile_blocks=True, compile_scope="stack", text_side_stream=True), PROBE_STATIC, True))


def static_warm_disk() -> dict:
    torch._dynamo.reset()  # the in-process compiled code is gone; Inductor's disk caches stay
    e = engine(cuda_graphs=True, compile_blocks=True, compile_scope="stack", text_side_stream=True)
    return {"first_A_warm_disk_ms": call(e, "A"), "repeat_A_ms": call(e, "A", 1)}


path("static_warm_disk", static_warm_disk)


def background() -> dict:
    ready = engine(cuda_graphs=True, compile_blocks=True, compile_scope="stack", text_side_stream=True)
    fallback = engine(cuda_graphs=True)
    call(ready, "A")
    call(fallback, "C")
    before = [call(ready, "A", s) for s in range(1, 8)]
    other = engine(cuda_graphs=True, compile_blocks=True, compile_scope="stack", text_side_stream=True)
    done: dict = {}

    def compile_b() -> None:
        t = time.perf_counter()
        try:
            call(other, "F")
            done["bg_compile_s"] = round(time.perf_counter() - t, 1)
        except Exception as exc:
            done["bg_error"] = f"{type(exc).__name__}: {exc}"[:600]

    th = threading.Thread(target=compile_b)
    th.start()
    during_ready, during_fallback, errors = [], [], []
    while th.is_alive():
        try:
            during_ready.append(call(ready, "A", len(during_ready) + 10))
            during_fallback.append(call(fallback, "C", len(during_fallback) + 10))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
            time.sleep(0.2)
    th.join()
    after = [call(ready, "A", s) for s in range(30, 37)]
    q = lambda xs: {"n": len(xs), "p50": statistics.median(xs), "max": max(xs)} if xs else {}  # noqa: E731
    return {**done, "ready_before": q(before), "ready_during": q(during_ready), "fallback_during": q(during_fallback),
            "ready_after": q(after), "main_errors": errors[:5], "bg_first_F_then": call(other, "F", 3)}


path("background", background)
path("dynamic", lambda: firsts_and_repeat(engine(cuda_graphs=True, compile_blocks=True, compile_scope="stack", text_side_stream=True,
                                                 compile_dynamic=True), "ABCDEFGH", True))


def warm_variants(e: FastEngine) -> float:
    """Runs the code variants serve's warm-up compiles for a 5 s take of 14 tokens
    (FastConfig.code_variants, FastEngine.warm_up); seconds."""
    prompt_of = {16: "p14", 32: "p30", 64: "p60", 128: "p120"}  # a prompt of each text bucket
    t = time.perf_counter()
    for d, tokens, seeds in e.fast.code_variants(5.0, 14, fixed_sizes(cfg.network, e._input_pad), cfg.pipeline.output_mesh_fps):
        if ONE_ROW and seeds > 1:
            continue
        e.generate([GenerationRequest(prompt_of[tokens], d, tuple(range(seeds)), 5.0, request_id="warm-up")])
        print(f"warm-up variant {d:.2f} s, {tokens} tokens, {seeds} seeds: done at {time.perf_counter() - t:.1f} s", flush=True)
    torch.cuda.synchronize()
    return round(time.perf_counter() - t, 1)


def dynamic_blocks() -> dict:
    """One dynamic compile of the blocks (regional, no side stream) for every shape: serve's
    warm-up of the code variants, then what a new shape costs once the code exists (warm-up runs
    and capture only; `graphs_compiled_after_warm_up` counts Dynamo graphs compiled after it:
    0 is the goal), then the same from warm disk caches in a fresh engine (a restart)."""
    from torch._dynamo.utils import counters

    kw = dict(cuda_graphs=True, compile_blocks=True, compile_scope="blocks", compile_dynamic=True)
    t = time.perf_counter()
    e = engine(**kw)
    out: dict = {"warm_up_s": warm_variants(e)}
    before = counters["stats"]["unique_graphs"]
    out.update(firsts_and_repeat(e, DYNAMIC_SHAPES, True))
    out["graphs_compiled_after_warm_up"] = counters["stats"]["unique_graphs"] - before
    out["cold_s"] = round(time.perf_counter() - t, 1)
    torch._dynamo.reset()
    e = engine(**kw)
    out["warm_disk_warm_up_s"] = warm_variants(e)
    out.update({f"warm_disk_first_{s}_ms": call(e, s, 7) for s in DYNAMIC_SHAPES[::-1][:3]})
    return out


path("dynamic_blocks", dynamic_blocks)
OUT.mkdir(parents=True, exist_ok=True)
(OUT / "compile_probe.json").write_text(json.dumps(res, indent=1))
