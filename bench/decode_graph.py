"""The take decode on CUDA: eager `decode_batched` against the graph-replayed `GraphedDecoder`.

For each batch size at one clip length: median wall time of each (after warm-up, synchronised),
the first call of the graphed decoder (warm-up + capture of a new shape), scipy's translation
filter alone (the CPU work the graphed decode overlaps with the GPU's), and the largest
difference between the two outputs (0 when the replay is exact). Then the same at the level of
`fast/takes.assemble_takes` (decode + clip assembly) on a tiny random engine with and without CUDA
graphs. Latents and statistics come from the parity fixture when present, random otherwise.
Run on the device (after `source bench/device_env.sh`):
    python3 bench/decode_graph.py [--frames 150] [--batches 1,8] [--repeats 50]
writes $OUT/decode_graph.json (OUT defaults to /tmp/out).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from motionbridge.daemon.bench.random_models import tiny_random_engine
from motionbridge.daemon.bench.timing import timed
from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.compile.decode_graphs import GraphedDecoder
from motionbridge.daemon.engine.fast.decode import LevelBody, decode_batched, savgol_translation
from motionbridge.daemon.engine.fast.sampler import Row
from motionbridge.daemon.engine.fast.takes import assemble_takes
from motionbridge.daemon.engine.reference import validate_request
from motionbridge.daemon.model.decode import BodyModel

FIELDS = ("latent_denorm", "rot6d", "transl", "keypoints3d", "root_rotations_mat", "min_y")
PROMPT = "A person walks."


def timed_ms(fn, repeats: int) -> float:
    """Median wall milliseconds of `repeats` synchronised calls on the GPU."""
    return round(1000 * timed(fn, torch.device("cuda"), repeats)[0], 3)


def cpu_ms(fn) -> float:
    t = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - t)


def stats_and_latents(frames: int, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, str]:
    """mean, std (201,) and `count` latents (count, frames, 201) on the CPU."""
    parity = Path(os.environ.get("MOTIONBRIDGE_PARITY_DIR", ".parity"))
    stats = parity / "model" / "stats"
    if (stats / "Mean.npy").is_file() and (parity / "expected.npz").is_file():
        mean = torch.from_numpy(np.load(stats / "Mean.npy")).float()
        std = torch.from_numpy(np.load(stats / "Std.npy")).float()
        with np.load(parity / "expected.npz") as data:
            pool = [torch.from_numpy(data[k][i, :frames]) for k in data.files if k.endswith("/latent")
                    for i in range(data[k].shape[0]) if data[k].shape[1] >= frames]
        if pool:
            return mean, std, torch.stack([pool[i % len(pool)] for i in range(count)]), f"parity fixture ({len(pool)} latents of >= {frames} frames, cycled)"
    g = torch.Generator().manual_seed(0)
    mean, std = torch.randn(201, generator=g) * 0.5, torch.rand(201, generator=g) + 0.5
    return mean, std, torch.randn(count, frames, 201, generator=g), "random"


def max_abs_diff(a, b) -> float:
    return max(float((getattr(a, n).double() - getattr(b, n).double()).abs().max()) for n in FIELDS)


def decode_times(frames: int, batches: list[int], repeats: int) -> dict:
    mean, std, latents, source = stats_and_latents(frames, max(batches) * 2)
    mean, std, latents = mean.cuda(), std.cuda(), latents.cuda()
    body = LevelBody(BodyModel(), "cuda")
    decoder = GraphedDecoder(mean, std, body, "cuda")
    out: dict = {"latents": source, "frames": frames, "repeats": repeats, "batches": {}}
    for b in batches:
        latent, other = latents[:b].contiguous(), latents[b : 2 * b].contiguous()
        for _ in range(5):  # warm-up of the eager path (lazy CUDA inits are not the capture's)
            decode_batched(latent, mean, std, body)
        first_ms = timed_ms(functools.partial(decoder, latent), 1)  # warm-up + capture of the shape
        for _ in range(5):
            decoder(latent)
        eager_ms = timed_ms(functools.partial(decode_batched, latent, mean, std, body), repeats)
        graph_ms = timed_ms(functools.partial(decoder, latent), repeats)
        # the CPU's share: scipy's filter, which the graphed decode overlaps with graph 2
        transl = latent[..., :3].float().cpu().numpy()
        savgol_ms = statistics.median(cpu_ms(functools.partial(savgol_translation, transl)) for _ in range(repeats))
        # exactness, also for a second latent of the same shape (static buffers reused)
        diff = max(max_abs_diff(decoder(x), decode_batched(x, mean, std, body)) for x in (latent, other))
        out["batches"][str(b)] = {
            "eager_ms": eager_ms, "graphed_ms": graph_ms, "eager_ms_per_clip": round(eager_ms / b, 3),
            "graphed_ms_per_clip": round(graph_ms / b, 3), "speedup": round(eager_ms / graph_ms, 2),
            "graphed_first_call_ms": round(first_ms, 1), "savgol_cpu_ms": round(savgol_ms, 3), "max_abs_diff": diff,
        }
        print(f"batch {b}: eager {eager_ms:.3f} ms, graphed {graph_ms:.3f} ms ({eager_ms / graph_ms:.2f}x), "
              f"first graphed call {first_ms:.1f} ms, savgol alone {savgol_ms:.3f} ms, max abs diff {diff:g}", flush=True)
    out["captures"] = decoder.cache.captures
    return out


def takes_times(frames: int, batches: list[int], repeats: int) -> dict:
    """`fast/takes.assemble_takes` (what `generate` runs after sampling) with the engine's decode: wall
    time synchronised, and its own `decode_s` (host time; the graphed decode leaves the tail of
    the GPU work to the clip copies, so `decode_s` alone would flatter it)."""
    engines = {"eager": tiny_random_engine("cuda", 2, (PROMPT,)), "graphed": tiny_random_engine("cuda", 2, (PROMPT,), cuda_graphs=True)}
    assert engines["eager"].decoder is None and engines["graphed"].decoder is not None
    out: dict = {}
    for b in batches:
        req, warnings = validate_request(GenerationRequest(PROMPT, frames / 30, tuple(range(b))))
        checked = [(req, warnings)]
        feat = engines["eager"].cache.get(PROMPT)
        rows = [Row(s, frames, req.cfg, feat.ctxt, feat.vtxt, (0, j)) for j, s in enumerate(req.seeds)]
        gen = torch.Generator().manual_seed(b)
        latents = [torch.randn(frames, 201, generator=gen).cuda() for _ in rows]
        res = {}
        for name, engine in engines.items():
            call = functools.partial(assemble_takes, engine, rows, latents, checked, set(), {PROMPT: ()}, {})
            for _ in range(5):
                call()
            wall = timed_ms(call, repeats)
            decode_ms = statistics.median(1000 * call()[0].timings["decode_s"] for _ in range(repeats))
            res[name] = {"takes_ms": wall, "decode_s_ms": round(decode_ms, 3)}
        out[str(b)] = res
        print(f"_takes batch {b}: " + ", ".join(f"{k} {v['takes_ms']:.3f} ms (decode_s {v['decode_s_ms']:.3f})" for k, v in res.items()), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--json", default=os.path.join(os.environ.get("OUT", "/tmp/out"), "decode_graph.json"))
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cpu_threads": torch.get_num_threads()}
    res["decode"] = decode_times(args.frames, batches, args.repeats)
    res["takes"] = takes_times(args.frames, batches, args.repeats)
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
