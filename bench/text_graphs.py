"""Text encoding for one new prompt: the HF path vs the static path (CUDA graphs).

Random bf16 weights of the real shapes (Qwen3-8B + CLIP-L) on CUDA, the parity fixture's
tokenizers. Times `FastTextEncoder.encode` for a new prompt each call (median of --repeats)
with the HF forward, with the static forward run eagerly, and with it replayed from CUDA
graphs; splits it into tokenize / Qwen / CLIP; prints the first-call (capture) cost per user
bucket, the GPU time of one graph replay, and the max abs difference of ctxt and vtxt between
the HF and graph paths.
Run on the device from the repo root: source bench/device_env.sh && python3 bench/text_graphs.py
(`--smoke`: tiny random shapes on the CPU, no graphs; checks the script itself.)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import time

import torch

from motionbridge.daemon.bench.random_models import TINY_RANDOM, fixture_tokenizers, random_clip, random_qwen3
from motionbridge.daemon.engine.text.encoder import FastTextEncoder

WORDS = ["walks", "runs", "jumps", "waves", "turns", "sits", "kicks", "spins", "crouches", "bows", "claps", "hops"]
LENGTHS = [  # user parts of 7, 24, 63, 99 and 213 (cut to 128) tokens with the fixture tokenizer
    "A person walks forward.",
    "A person walks forward slowly, then turns left, stops, and waves with the right hand.",
    "Someone dances slowly, arms raised high above the head, then spins around twice. " * 2,
    "A person runs in a circle, jumps over an obstacle, lands softly, and bows to the crowd. " * 3,
    "A person stands still for a moment with both arms relaxed, then walks forward. " * 10,
]


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def median_ms(fn, prompts, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        p = next(prompts)
        sync()
        t = time.perf_counter()
        fn(p)
        sync()
        times.append(time.perf_counter() - t)
    return round(1000 * statistics.median(times), 3)


def new_prompts(batch: int):
    """A different prompt (batch) every call, all in the first user bucket."""
    for i in itertools.count():
        yield [f"A person {WORDS[(i + j) % len(WORDS)]} {i * batch + j} times." for j in range(batch)]


def profile(enc: FastTextEncoder, batch: int, repeats: int) -> dict:
    enc.encode(next(new_prompts(batch)))  # warm-up (prefix KV, capture of the first shape)
    gen = new_prompts(batch)
    return {
        "encode_ms": median_ms(enc.encode, gen, repeats),
        "tokenize_ms": median_ms(enc.tokenize, gen, repeats),
        "llm_ms": median_ms(enc.encode_llm, gen, repeats),
        "clip_ms": median_ms(enc.encode_clip, gen, repeats),
    }


def first_call_ms(enc: FastTextEncoder) -> dict:
    """Wall time of the first encode of each user bucket (graph capture included)."""
    out = {}
    for i, text in enumerate(LENGTHS):
        ids, mask, _ = enc.tokenize([text])
        n = int(mask.sum()) - enc.crop_start
        sync()
        t = time.perf_counter()
        enc.encode([text])
        sync()
        out[f"{i}:{n}_tokens"] = round(1000 * (time.perf_counter() - t), 1)
    return out


def replay_gpu_ms(enc: FastTextEncoder, repeats: int = 20) -> dict:
    out = {}
    for key, entry in enc.static.cache.entries.items():
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        entry.graph.replay()
        a.record()
        for _ in range(repeats):
            entry.graph.replay()
        b.record()
        sync()
        out["/".join(map(str, key))] = round(a.elapsed_time(b) / repeats, 3)
    return out


def differences(old: FastTextEncoder, new: FastTextEncoder) -> dict:
    prompts = [*LENGTHS, "A person jumps twice."]
    out = {"single": [], "batch": {}}
    for text in prompts:
        (a,), (b,) = old.encode([text]), new.encode([text])
        out["single"].append({
            "rows": a.ctxt.shape[0],
            "ctxt_max_abs": float((a.ctxt - b.ctxt).abs().max()), "ctxt_scale": float(a.ctxt.abs().max()),
            "vtxt_max_abs": float((a.vtxt - b.vtxt).abs().max()), "vtxt_scale": float(a.vtxt.abs().max()),
        })
    a, b = old.encode(prompts), new.encode(prompts)  # mixed lengths, one batch (row bucket 8)
    out["batch"] = {
        "ctxt_max_abs": max(float((x.ctxt - y.ctxt).abs().max()) for x, y in zip(a, b)),
        "vtxt_max_abs": max(float((x.vtxt - y.vtxt).abs().max()) for x, y in zip(a, b)),
        "shapes_equal": all(x.ctxt.shape == y.ctxt.shape for x, y in zip(a, b)),
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--batches", default="1,4")
    ap.add_argument("--json", default=None)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    parity = os.environ.get("MOTIONBRIDGE_PARITY_DIR", "parity")
    tok_llm, tok_clip = fixture_tokenizers(parity)
    device = "cpu" if args.smoke else "cuda"
    qwen = random_qwen3(device, torch.bfloat16, TINY_RANDOM["qwen"] if args.smoke else None)
    clip = random_clip(device, torch.bfloat16, TINY_RANDOM["clip"] if args.smoke else None)
    kw = dict(device=device, encoder_id="random")
    hf = FastTextEncoder(tok_llm, qwen, tok_clip, clip, **kw)
    eager = FastTextEncoder(tok_llm, qwen, tok_clip, clip, static_graphs=True, **kw)
    eager.static.graphs = False
    graphs = FastTextEncoder(tok_llm, qwen, tok_clip, clip, static_graphs=True, **kw)
    res: dict = {"device": "cpu (smoke)" if args.smoke else torch.cuda.get_device_name(0), "torch": torch.__version__, "crop_start": hf.crop_start}
    print(json.dumps(res), flush=True)
    memory = torch.cuda.memory_allocated if device == "cuda" else (lambda: 0)
    mem0 = memory()
    res["graphs_first_call_ms"] = first_call_ms(graphs)
    print("first encode per user bucket (graphs, capture included):", json.dumps(res["graphs_first_call_ms"]), flush=True)
    for batch in (int(b) for b in args.batches.split(",")):
        for name, enc in (("hf", hf), ("static_eager", eager), ("static_graphs", graphs)):
            r = profile(enc, batch, args.repeats)
            res[f"{name}_b{batch}"] = r
            print(f"batch {batch:2d} {name:14s}", json.dumps(r), flush=True)
    if graphs.static.graphs:
        res["graph_replay_gpu_ms"] = replay_gpu_ms(graphs)
        print("GPU time of one replay per graph (model/rows/length):", json.dumps(res["graph_replay_gpu_ms"]), flush=True)
    res["graph_memory_mib"] = round((memory() - mem0) / 2**20, 1)
    res["graphs_captured"] = graphs.static.cache.captures
    print(f"graphs captured: {res['graphs_captured']}, memory held since the first capture: {res['graph_memory_mib']} MiB", flush=True)
    res["hf_vs_graphs_bf16"] = differences(hf, graphs)
    print("HF vs static graphs, bf16, max abs difference:", flush=True)
    for row in res["hf_vs_graphs_bf16"]["single"]:
        print("  ", json.dumps(row), flush=True)
    print("   batch of mixed lengths:", json.dumps(res["hf_vs_graphs_bf16"]["batch"]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
