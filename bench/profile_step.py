"""Where the time of one 5 s clip goes on the GPU (a diagnostic, not the benchmark).

For each model: wall latency of `generate` with the text cached, its split into sampling and
decode, GPU time of one captured Euler step, and a kernel-level profile of one eager step
(count, summed GPU time, the busiest kernels). Then the same for the text encoders.
Run on the device: python3 bench/profile_step.py [--models 1.0,lite] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict

import torch

from motionbridge.daemon.bench.random_models import fixture_tokenizers, random_clip, random_engine, random_qwen3
from motionbridge.daemon.bench.timing import timed
from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.fast.sampler import make_step
from motionbridge.daemon.engine.text.encoder import FastTextEncoder

PROMPT = "A person walks forward."


def wall_ms(fn, repeats: int = 7) -> float:
    """Median wall milliseconds of `repeats` synchronised calls on the GPU."""
    return round(1000 * timed(fn, torch.device("cuda"), repeats)[0], 3)


def graph_step_us(entry, repeats: int = 1) -> float:
    """GPU time per Euler step of a captured entry (graphs.CapturedStep): its loop segments
    replayed, or its one step graph replayed 50 times, `repeats` times over."""
    graphs = [g for _, _, g in entry.segments] if entry.segments else [entry.graph] * 50
    steps = entry.steps if entry.segments else 50
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        for graph in graphs:
            graph.replay()
    end.record()
    torch.cuda.synchronize()
    return round(start.elapsed_time(end) * 1000 / (repeats * steps), 1)


def kernel_profile(fn, top: int = 25) -> dict:
    from torch.profiler import ProfilerActivity, profile

    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    by_name: dict[str, list[float]] = defaultdict(list)
    for e in kernels:
        by_name[e.name[:90]].append(e.device_time)
    busy = sum(e.device_time for e in kernels)
    starts = [e.time_range.start for e in kernels]
    ends = [e.time_range.end for e in kernels]
    span = (max(ends) - min(starts)) if kernels else 0
    rows = sorted(by_name.items(), key=lambda kv: -sum(kv[1]))[:top]
    return {
        "kernels": len(kernels), "gpu_busy_us": round(busy, 1), "gpu_span_us": round(span, 1),
        "top": [{"name": n, "count": len(v), "total_us": round(sum(v), 1), "mean_us": round(sum(v) / len(v), 2)} for n, v in rows],
    }


VARIANTS = {
    "eager": dict(),
    "blocks_per_step_mod": dict(compile_blocks=True, precompute_modulation=False),
    "blocks": dict(compile_blocks=True),
    "model": dict(compile_blocks=True, compile_scope="model"),
    "model_static": dict(compile_blocks=True, compile_scope="model", compile_dynamic=False),
    "blocks_autotune": dict(compile_blocks=True, compile_mode="max-autotune-no-cudagraphs"),
    "model_autotune": dict(compile_blocks=True, compile_scope="model", compile_mode="max-autotune-no-cudagraphs"),
    "blocks_side_stream": dict(compile_blocks=True, text_side_stream=True),
}


def host_profile(fn, top: int = 22) -> list[str]:
    """cProfile of one call (cumulative ms per function): where the time outside the sampling
    loop goes (batch building, modulation table, decode, clip assembly)."""
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    torch.cuda.synchronize()
    prof.enable()
    fn()
    torch.cuda.synchronize()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
    return [line for line in buf.getvalue().splitlines() if line.strip()][-top:]


def dit_profile(model: str, variant: str) -> dict:
    fast = dict(dtype="bfloat16", cuda_graphs=True, **VARIANTS[variant])
    engine = random_engine("cuda:0", model, prompts=(PROMPT,), **fast)
    req = [GenerationRequest(PROMPT, 5.0, (0,), 5.0)]
    # 2 s compiles static, 3 s is the second shape (automatic dynamic recompiles), 5 s is a
    # third shape: what a daemon serves after warm-up
    calls = {}
    for d in (2.0, 3.0, 5.0):
        t0 = time.perf_counter()
        engine.generate([GenerationRequest(PROMPT, d, (0,), 5.0)])
        calls[f"{d:g}s"] = round(time.perf_counter() - t0, 2)
    engine.generate(req)
    out: dict = {"model": model, "variant": variant, "first_calls_s": calls}
    out["generate_ms"] = wall_ms(lambda: engine.generate(req))
    takes = engine.generate(req)
    out["timings_ms"] = {k: round(v * 1000, 3) for k, v in takes[0].timings.items()}
    entry = next(reversed(engine.graphs.entries.values()))  # the 5 s shape, captured last
    out["graph_step_us"] = graph_step_us(entry)
    batch = entry.batch
    plan = engine.tables.plan(batch, 50)  # what the engine runs for this shape
    joint_rope = engine.rope(batch.x0.shape[1], batch.ctxt.shape[1])
    input_pad, out_dim = engine.projection_padding
    step = make_step(engine.network, batch, engine.tables.rope(joint_rope, batch.x0.shape[1], plan), engine.tables.mask(batch, plan),
                     uncond_all=True, split_mods=engine.dit.split_modulations, input_pad=input_pad, out_dim=out_dim,
                     input_dtype=engine.dtype, text_kw="text_kv" if plan.text_kv else "refined_text")
    x, t0_, dt = batch.x0.clone(), torch.tensor(0.5, device="cuda"), torch.tensor(0.02, device="cuda")
    tables = engine.tables.make(batch, 50, plan, joint_rope)
    args = tuple(None if t is None else t[0] for t in tables)
    out["eager_step_ms"] = wall_ms(lambda: step(x, t0_, dt, *args))
    out["eager_profile"] = kernel_profile(lambda: step(x, t0_, dt, *args))
    out["overhead_ms"] = round(out["generate_ms"] - 50 * out["graph_step_us"] / 1000, 2)
    out["host_profile"] = host_profile(lambda: engine.generate(req))
    out["shapes"] = {"x0": list(batch.x0.shape), "ctxt": list(batch.ctxt.shape)}
    engine = None  # drops the last reference (its GPU memory) before the next variant
    torch.cuda.empty_cache()
    return out


def text_profile(parity: str) -> dict:
    tok_llm, tok_clip = fixture_tokenizers(parity)
    qwen = random_qwen3("cuda", torch.bfloat16)
    clip = random_clip("cuda", torch.bfloat16)
    text = FastTextEncoder(tok_llm, qwen, tok_clip, clip, device="cuda", encoder_id="random")
    counter = iter(range(10_000))
    prompt = lambda: f"{PROMPT} {next(counter)}"  # noqa: E731
    text.encode([prompt()])
    out = {
        "encode_ms": wall_ms(lambda: text.encode([prompt()])),
        "tokenize_ms": wall_ms(lambda: text.tokenize([prompt()])),
        "llm_ms": wall_ms(lambda: text.encode_llm([prompt()])),
        "clip_ms": wall_ms(lambda: text.encode_clip([prompt()])),
    }
    out["llm_profile"] = kernel_profile(lambda: text.encode_llm([prompt()]), top=12)
    out["clip_profile"] = kernel_profile(lambda: text.encode_clip([prompt()]), top=8)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="1.0,lite")
    ap.add_argument("--variants", default="blocks", help=", ".join(VARIANTS))
    ap.add_argument("--text", action="store_true")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "dit": []}
    for model in args.models.split(","):
        for variant in args.variants.split(","):
            r = dit_profile(model, variant)
            print(json.dumps({k: v for k, v in r.items() if k != "eager_profile"}), flush=True)
            p = r["eager_profile"]
            print(f"  eager step: {p['kernels']} kernels, busy {p['gpu_busy_us']} us, span {p['gpu_span_us']} us", flush=True)
            for row in p["top"][: args.top]:
                print(f"    {row['count']:4d} x {row['mean_us']:8.2f} us = {row['total_us']:9.1f}  {row['name']}", flush=True)
            for line in r["host_profile"]:
                print("   ", line[:160], flush=True)
            res["dit"].append(r)
    if args.text:
        res["text"] = text_profile(os.environ.get("MOTIONBRIDGE_PARITY_DIR", "parity"))
        print(json.dumps({k: v for k, v in res["text"].items() if not k.endswith("profile")}), flush=True)
        for key in ("llm_profile", "clip_profile"):
            p = res["text"][key]
            print(f"  {key}: {p['kernels']} kernels, busy {p['gpu_busy_us']} us, span {p['gpu_span_us']} us", flush=True)
            for row in p["top"]:
                print(f"    {row['count']:4d} x {row['mean_us']:8.2f} us = {row['total_us']:9.1f}  {row['name']}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
