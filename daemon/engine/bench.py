"""`motionbridge bench`: reference vs fast engine on random weights of the real shapes.

The real weights are not needed: the DiT's cost depends only on its shapes. Text features
are random too (add the encoder's time separately). `--model tiny` is the CPU smoke test.
Reported: latency per request at several durations (fast and the untrimmed float32
reference, like the official code), throughput in clips/min per batch size, decode ms per
clip, engine build time and peak CUDA memory. Output: JSON plus a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HELP = "benchmark the engine on random weights (reference vs fast); --model tiny is a CPU smoke run"
CONFIG_DIR = Path(__file__).resolve().parent.parent / "model" / "configs"
CONFIGS = {"1.0": "HY-Motion-1.0.yml", "lite": "HY-Motion-1.0-Lite.yml"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="tiny", choices=("tiny", *CONFIGS), help="shapes to benchmark (default tiny)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--steps", type=int, help="Euler steps (default: the config's, 50)")
    parser.add_argument("--durations", type=float, nargs="+", default=[2.0, 5.0, 10.0], metavar="S")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64], metavar="N")
    parser.add_argument("--cfg", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions (after one warm-up)")
    parser.add_argument("--out", type=Path, help="write the JSON results here")


def _config(name: str, steps: int | None):
    import dataclasses

    from motionbridge.daemon.model.config import ModelConfig, NetworkConfig, PipelineConfig, RefinerConfig, load_config

    if name == "tiny":
        net = NetworkConfig(input_dim=201, feat_dim=64, num_heads=4, num_layers=6, ctxt_input_dim=64, vtxt_input_dim=32,
                            mask_mode="narrowband", apply_rope_to_single_branch=False, time_factor=1000.0,
                            text_refiner=RefinerConfig(1))
        cfg = ModelConfig(net, PipelineConfig(enable_ctxt_null_feat=True, text_guidance_scale=5.0, random_generator_on_gpu=False), "tiny")
    else:
        cfg = load_config(CONFIG_DIR / CONFIGS[name])
    if steps is not None:
        cfg = dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, validation_steps=steps))
    return cfg


def _build(cfg, device: str, dtype: str):
    import torch

    from motionbridge.daemon.model.loading import LoadedModel
    from motionbridge.daemon.model.mmdit import MotionFlowModel
    from motionbridge.daemon.model.pipeline import MotionPipeline, parse_dtype

    from .fast import FastEngine

    torch.manual_seed(0)
    with torch.device(device):
        model = MotionFlowModel(cfg.network)
        for p in model.parameters():  # random, non-zero everywhere (the stock init zeroes the modulations)
            torch.nn.init.normal_(p, std=0.02)
    model.eval().requires_grad_(False)
    loaded = LoadedModel(model, cfg, Path("random-weights"), "0" * 64, f"random-{cfg.source}")
    return FastEngine(MotionPipeline(loaded, None, device, parse_dtype(dtype)))


def _rows(engine, count: int, duration: float, cfg: float):
    import torch

    from .batching import RowSpec

    pipe = engine.pipeline
    net, p = pipe.config.network, pipe.config.pipeline
    g = torch.Generator().manual_seed(1)
    vtxt = torch.randn(1, net.vtxt_input_dim, generator=g).to(pipe.device)
    ctxt = torch.randn(p.max_length_llm, net.ctxt_input_dim, generator=g).to(pipe.device)
    return [RowSpec(i, f"r{i}", i, pipe.frames_for(duration), cfg, vtxt, ctxt, 24) for i in range(count)]


def _timed(fn, device: str, repeat: int) -> float:
    import torch

    fn()  # warm-up
    best = float("inf")
    for _ in range(max(1, repeat)):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


def run(args: argparse.Namespace) -> int:
    import torch

    from motionbridge.daemon.cli import CliError
    from motionbridge.daemon.model.text_encoder import TextFeatures

    if args.device == "cuda" and not torch.cuda.is_available():
        raise CliError("--device cuda but no CUDA GPU is visible")
    cfg = _config(args.model, args.steps)
    t0 = time.perf_counter()
    engine = _build(cfg, args.device, args.dtype)
    start_s = time.perf_counter() - t0
    pipe = engine.pipeline
    results: dict[str, object] = {
        "model": args.model, "device": args.device, "dtype": args.dtype, "steps": cfg.pipeline.validation_steps,
        "cfg": args.cfg, "engine_start_s": start_s, "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
    }
    latency: list[dict[str, object]] = []
    throughput: list[dict[str, object]] = []
    results["latency"], results["throughput"] = latency, throughput

    def reference(rows):
        r = rows[0]
        feats = TextFeatures(r.vtxt[None], r.ctxt[None], torch.tensor([r.ctxt_length], device=pipe.device))
        cond = pipe.conditioning(feats, r.frames, r.cfg)
        latent = pipe.sample(cond, pipe.noise([r.seed]))[:, : r.frames]
        return pipe.decode(latent)

    def fast(rows):
        latents = engine._sample(rows, None, None, 0)
        return pipe.decode(torch.stack([latents[i] for i in sorted(latents)]))

    for duration in args.durations:
        rows = _rows(engine, 1, duration, args.cfg)
        ref_s = _timed(lambda: reference(rows), args.device, args.repeat)
        fast_s = _timed(lambda: fast(rows), args.device, args.repeat)
        latents = engine._sample(rows, None, None, 0)
        latent = torch.stack([latents[0]])
        decode_s = _timed(lambda: pipe.decode(latent), args.device, args.repeat)
        latency.append({"duration_s": duration, "frames": rows[0].frames, "reference_s": ref_s, "fast_s": fast_s,
                                   "speedup": ref_s / fast_s, "decode_ms_per_clip": decode_s * 1e3})
    for batch in args.batches:
        rows = _rows(engine, batch, 5.0, args.cfg)
        if args.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        try:
            seconds = _timed(lambda: fast(rows), args.device, max(1, args.repeat // 2))
        except torch.cuda.OutOfMemoryError:
            throughput.append({"batch": batch, "error": "out of memory"})
            continue
        peak = torch.cuda.max_memory_allocated() / 2**30 if args.device == "cuda" else None
        throughput.append({"batch": batch, "seconds": seconds, "clips_per_min": 60 * batch / seconds, "peak_gib": peak})
    text = json.dumps(results, indent=1)
    if args.out:
        from motionbridge.exporters.atomic import atomic_path

        with atomic_path(args.out) as tmp:
            tmp.write_text(text)
    _table(results)
    return 0


def _table(results: dict) -> None:
    out = sys.stdout
    print(f"model {results['model']} on {results['gpu'] or results['device']} ({results['dtype']}), "
          f"{results['steps']} steps, cfg {results['cfg']}, engine start {results['engine_start_s']:.2f} s", file=out)
    print(f"{'duration':>9} {'frames':>6} {'reference':>10} {'fast':>9} {'speedup':>8} {'decode/clip':>12}", file=out)
    for r in results["latency"]:
        print(f"{r['duration_s']:>8.1f}s {r['frames']:>6} {r['reference_s'] * 1e3:>8.1f}ms {r['fast_s'] * 1e3:>7.1f}ms "
              f"{r['speedup']:>7.2f}x {r['decode_ms_per_clip']:>10.1f}ms", file=out)
    print(f"{'batch':>9} {'clips/min':>10} {'peak GiB':>9}", file=out)
    for r in results["throughput"]:
        if "error" in r:
            print(f"{r['batch']:>9} {r['error']}", file=out)
        else:
            peak = "-" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"
            print(f"{r['batch']:>9} {r['clips_per_min']:>10.1f} {peak:>9}", file=out)
