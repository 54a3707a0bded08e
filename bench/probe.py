"""GPU probe: per-step time of one captured Euler step by shape, eager vs compiled blocks;
decode time and memory by batch. Prints a short table; JSON to $OUT/probe.json."""

import functools
import json
import os
import time
from pathlib import Path

import torch

from motionbridge.daemon.bench.random_models import model_config, random_flow_model
from motionbridge.daemon.engine.compile.graphs import CapturedStep
from motionbridge.daemon.engine.fast.config import FastConfig
from motionbridge.daemon.engine.fast.decode import decode_batched
from motionbridge.daemon.engine.fast.engine import FastEngine
from motionbridge.daemon.engine.fast.sampler import Row, make_step
from motionbridge.daemon.engine.fast.step_tables import TablePlan

dev = torch.device("cuda")
res = {}
for name in os.environ.get("PROBE_MODELS", "lite,1.0").split(","):
    cfg = model_config(name)
    model = random_flow_model(cfg, "cuda", torch.bfloat16)
    for comp in (False, True):
        eng = FastEngine(model, cfg, None, FastConfig(dtype="bfloat16", cuda_graphs=True, compile_blocks=comp), device=dev)
        for rows in (1, 64):
            for frames in (150,):
                rr = [Row(s, frames, 5.0, torch.randn(14, 4096), torch.randn(1, 768)) for s in range(rows)]
                t0 = time.perf_counter()
                from motionbridge.daemon.engine.fast.sampler import bucket_up, build_batch
                f = eng.fast
                batch = build_batch(rr, input_dim=201, train_frames=360, null_ctxt=model.null_ctxt_input, null_vtxt=model.null_vtxt_feat,
                                    ctxt_null_feat=True, device=dev, frame_buckets=f.frame_buckets, text_buckets=f.text_buckets,
                                    pad_rows_to=bucket_up(rows, f.row_buckets), uncond_all=True)
                rope = eng.rope(batch.x0.shape[1], batch.ctxt.shape[1])
                input_pad, out_dim = eng.projection_padding
                step_for = lambda b, mask: make_step(eng.network, b, rope, mask, uncond_all=True, input_pad=input_pad, out_dim=out_dim)  # noqa: E731
                # one step replayed per step (no tables, no captured loop), so any step count runs
                joint = functools.partial(eng.tables.mask, plan=TablePlan(False, 0))  # the joint loop: no tables here
                cap = eng.graphs.get(("p", rows, frames), lambda pool: CapturedStep(batch, step_for, pool, capture_tables=False, make_mask=joint))
                torch.cuda.synchronize()
                setup = time.perf_counter() - t0
                cap.run(batch, 5)
                torch.cuda.synchronize()
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                e0.record()
                cap.run(batch, 50)
                e1.record()
                torch.cuda.synchronize()
                ms = e0.elapsed_time(e1) / 50
                key = f"{name} compile={comp} rows={rows} frames={frames}"
                res[key] = {"ms_per_step": round(ms, 3), "ms_per_clip_50_steps": round(ms * 50 / rows, 2), "setup_s": round(setup, 1)}
                print(key, res[key], flush=True)
        eng = None  # drops the last reference (its GPU memory) before the next shape
        torch.cuda.empty_cache()
    for b in (1, 8, 64):
        lat = torch.randn(b, 150, 201, device=dev)
        body = FastEngine(model, cfg, None, FastConfig(dtype="bfloat16"), device=dev).body
        decode_batched(lat, model.mean, model.std, body)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        t = time.perf_counter()
        decode_batched(lat, model.mean, model.std, body)
        torch.cuda.synchronize()
        key = f"decode batch={b}"
        res[key] = {"ms_per_clip": round((time.perf_counter() - t) * 1000 / b, 3),
                    "extra_peak_gib": round((torch.cuda.max_memory_allocated() - base) / 2**30, 3)}
        print(key, res[key], flush=True)
    del model
    torch.cuda.empty_cache()
if os.environ.get("OUT"):
    Path(os.environ["OUT"], "probe.json").write_text(json.dumps(res, indent=1))
