"""Knobs that might take the last per-step microseconds off (a diagnostic, not the benchmark).

For each model and variant: one 5 s clip with the text cached, CFG 5, 50 steps; the wall
latency of `generate` (median), the GPU time of one captured step, and the first call (the
compile). Variants are the GPU default plus one knob each: Inductor's coordinate-descent
tuning of its Triton kernels, PyTorch's TunableOp (times every cuBLAS/cuBLASLt candidate per
GEMM shape and keeps the fastest), the 'stack' compile scope, and FastConfig fields given as
JSON. The default also gets a cProfile of one call (host time outside the loop).
Run on the device: python3 bench/tune_probe.py [--models 1.0,lite] [--variants a,b] [--json out]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch._dynamo

sys.path.insert(0, os.path.dirname(__file__))
from profile_step import graph_step_us, host_profile, wall_ms

from motionbridge.daemon.bench.random_models import random_engine
from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.fast.config import FastConfig

PROMPT = "A person walks forward."

VARIANTS: dict[str, dict] = {
    "default": {},
    "coordinate_descent": {"inductor": {"coordinate_descent_tuning": True}},
    "tunableop": {"tunableop": True},
    "stack": {"fast": {"compile_scope": "stack"}},
    "blocks": {"fast": {"compile_scope": "blocks"}},
    "stack_cd_tunable": {"fast": {"compile_scope": "stack"}, "inductor": {"coordinate_descent_tuning": True}, "tunableop": True},
}


def timeline(engine, req, runs: int = 11) -> dict:
    """Where the time outside the loop goes, without a profiler: host clocks at the engine's
    stage boundaries and CUDA events around the loop's GPU work (medians over `runs` calls)."""
    from motionbridge.daemon.engine.compile import graphs
    from motionbridge.daemon.engine.fast import engine as fast_engine

    marks: dict[str, list[float]] = {}
    t_host: dict[str, float] = {}
    ev: dict[str, torch.cuda.Event] = {}

    def mark(name: str) -> None:
        t_host[name] = time.perf_counter()

    def event(name: str) -> None:
        ev[name] = torch.cuda.Event(enable_timing=True)
        ev[name].record()

    run, takes = graphs.CapturedStep.run, fast_engine.assemble_takes

    def run_marked(self, *a, **kw):
        mark("loop_call")
        event("loop_start")
        out = run(self, *a, **kw)
        event("loop_end")
        mark("loop_queued")
        return out

    def takes_marked(*a, **kw):
        mark("takes_start")
        out = takes(*a, **kw)
        mark("takes_end")
        return out

    graphs.CapturedStep.run, fast_engine.assemble_takes = run_marked, takes_marked
    try:
        for _ in range(runs):
            torch.cuda.synchronize()
            mark("start")
            event("start")
            engine.generate(req)
            event("end")
            mark("end")
            torch.cuda.synchronize()
            gpu_loop = ev["loop_start"].elapsed_time(ev["loop_end"])
            rows = {
                "host_before_loop_ms": (t_host["loop_call"] - t_host["start"]) * 1000,
                "gpu_loop_ms": gpu_loop,
                "host_queue_loop_ms": (t_host["loop_queued"] - t_host["loop_call"]) * 1000,
                "gpu_start_to_loop_ms": ev["start"].elapsed_time(ev["loop_start"]),
                "gpu_loop_end_to_return_ms": ev["loop_end"].elapsed_time(ev["end"]),
                "takes_ms": (t_host["takes_end"] - t_host["takes_start"]) * 1000,
                "after_takes_ms": (t_host["end"] - t_host["takes_end"]) * 1000,
                "total_ms": (t_host["end"] - t_host["start"]) * 1000,
            }
            for k, v in rows.items():
                marks.setdefault(k, []).append(v)
    finally:
        graphs.CapturedStep.run, fast_engine.assemble_takes = run, takes
    return {k: round(statistics.median(v), 3) for k, v in marks.items()}


def probe(model: str, name: str, spec: dict, repeats: int, profile_host: bool, trace_dir: str | None = None, timeline_on: bool = False) -> dict:
    import torch._inductor.config as inductor_config

    saved = {k: getattr(inductor_config, k) for k in spec.get("inductor", {})}
    for k, v in spec.get("inductor", {}).items():
        setattr(inductor_config, k, v)
    if spec.get("tunableop"):
        torch.cuda.tunable.enable(True)
        torch.cuda.tunable.tuning_enable(True)
        torch.cuda.tunable.set_filename(f"/tmp/tunableop_{model}_{name}.csv")
    if spec.get("inductor"):
        torch._dynamo.reset()  # else a knob-free compile of the same block code is reused
    blas = torch.backends.cuda.preferred_blas_library()
    if spec.get("blas"):
        torch.backends.cuda.preferred_blas_library(spec["blas"])
    try:
        fast = {**FastConfig.for_device("cuda").__dict__, **spec.get("fast", {})}
        engine = random_engine("cuda:0", model, prompts=(PROMPT,), **fast)
        req = [GenerationRequest(PROMPT, spec.get("duration", 5.0), (0,), 5.0)]
        if spec.get("no_table_reuse"):  # every call replays the tables' prologue
            generate = engine.generate

            def fresh_tables(*a, **kw):
                for entry in engine.graphs.entries.values():
                    entry.forget_conditioning()
                return generate(*a, **kw)

            engine.generate = fresh_tables
        t0 = time.perf_counter()
        engine.generate(req)
        first_s = round(time.perf_counter() - t0, 2)
        engine.generate(req)
        out = {"model": model, "variant": name, "first_call_s": first_s, "generate_ms": wall_ms(lambda: engine.generate(req), repeats)}
        out["graph_step_us"] = graph_step_us(next(reversed(engine.graphs.entries.values())), repeats=5)
        out["outside_loop_ms"] = round(out["generate_ms"] - 50 * out["graph_step_us"] / 1000, 2)
        if timeline_on:
            out["timeline"] = timeline(engine, req)
        if spec.get("tunableop"):
            out["tunableop_results"] = len(torch.cuda.tunable.get_results())
        if trace_dir:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                engine.generate(req)
                torch.cuda.synchronize()
            prof.export_chrome_trace(os.path.join(trace_dir, f"trace_{model}_{name}.json"))
        takes = engine.generate(req)
        out["timings_ms"] = {k: round(v * 1000, 3) for k, v in takes[0].timings.items()}
        if profile_host:
            out["host_profile"] = host_profile(lambda: engine.generate(req), top=30)
        engine = None  # drops the last reference (its GPU memory) before the next variant
        torch.cuda.empty_cache()
        return out
    finally:
        torch.backends.cuda.preferred_blas_library(blas)
        for k, v in saved.items():
            setattr(inductor_config, k, v)
        if spec.get("tunableop"):
            torch.cuda.tunable.tuning_enable(False)
            torch.cuda.tunable.enable(False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="1.0,lite")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--extra", default="{}", help='more variants as JSON: {"name": {"fast": {...}}}')
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--json", default=None)
    ap.add_argument("--trace-dir", default=None, help="a Chrome trace of one generate per run here")
    ap.add_argument("--host-profile", action="store_true")
    ap.add_argument("--timeline", action="store_true", help="host/GPU split of one call, no profiler")
    args = ap.parse_args()
    variants = {**VARIANTS, **json.loads(args.extra)}
    names = args.variants.split(",") + [n for n in json.loads(args.extra) if n not in args.variants.split(",")]
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "runs": []}
    for model in args.models.split(","):
        for name in names:
            r = probe(model, name, variants[name], args.repeats, profile_host=args.host_profile and name == "default", trace_dir=args.trace_dir,
                      timeline_on=args.timeline)
            print(json.dumps({k: v for k, v in r.items() if k != "host_profile"}), flush=True)
            for line in r.get("host_profile", []):
                print("   ", line[:170], flush=True)
            res["runs"].append(r)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
