"""`motionbridge bench`'s low-VRAM line, for each way low-VRAM mode keeps Qwen3
(engine/text/quantized.py: `stream`, `int8`, `int4`): the latency of a take with a new prompt
and with the text cached, the text encoding alone, the peak GPU memory while serving, and the
deviation of the text features from the bf16 ones over the same random real-shape weights.

The deviation compares the eager HF forward before and after quantising (static graphs off
on both sides), so it measures the weights' rounding alone; the README quotes it next to the
fixture's bound in tests/daemon/engine/text/test_quantized.py. Random weights have no outlier
channels, so the real Qwen3-8B may deviate more: measure it there before trusting int4.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence

import torch

from motionbridge.daemon.bench.timing import peak_gib, peak_reset, sync, timed
from motionbridge.daemon.engine.text.cache import CachedText
from motionbridge.daemon.engine.text.quantized import LOW_VRAM_TEXT

DEVIATION_PROMPTS = (
    "A person walks forward, then turns left and waves.",
    "A person jumps twice.",
    "Someone dances slowly, arms raised high above the head, then spins around twice.",
)


def feature_deviation(got: Sequence[CachedText], reference: Sequence[CachedText]) -> dict:
    """Largest absolute difference of the ctxt rows, the largest reference value (for scale),
    and the largest per-prompt relative Frobenius norm of the difference."""
    return {
        "ctxt_max_abs": round(max(float((a.ctxt - b.ctxt).abs().max()) for a, b in zip(got, reference)), 5),
        "ctxt_reference_max_abs": round(max(float(b.ctxt.abs().max()) for b in reference), 4),
        "ctxt_relative_norm": round(max(float((a.ctxt - b.ctxt).norm() / b.ctxt.norm()) for a, b in zip(got, reference)), 5),
        "vtxt_max_abs": round(max(float((a.vtxt - b.vtxt).abs().max()) for a, b in zip(got, reference)), 5),
    }


def _encoder(bench, text: str):
    """The bench's random real-shape Qwen3 + CLIP (bf16), kept as `text` says, and the deviation
    of its features from the same weights in bf16."""
    from motionbridge.daemon.bench.random_models import TINY_RANDOM, fixture_tokenizers, random_clip, random_qwen3
    from motionbridge.daemon.engine.text.encoder import FastTextEncoder
    from motionbridge.daemon.engine.text.offload import LayerStreamer
    from motionbridge.daemon.engine.text.quantized import quantize_qwen

    tiny = bench.name == "tiny-random"
    tok_llm, tok_clip = fixture_tokenizers(bench.parity)
    dev = str(bench.device)
    qwen = random_qwen3(dev, torch.bfloat16, TINY_RANDOM["qwen"] if tiny else None)
    clip = random_clip(dev, torch.bfloat16, TINY_RANDOM["clip"] if tiny else None)

    def encoder(**kw):
        return FastTextEncoder(tok_llm, qwen, tok_clip, clip, device=bench.device, encoder_id=f"random-{bench.name}-{text}", **kw)

    reference = encoder().encode(list(DEVIATION_PROMPTS))
    kept: dict = {}
    if text == "stream":
        kept["streamer"] = LayerStreamer(qwen, bench.device)
    else:
        quantize_qwen(qwen, text, bench.device)
        kept["weights"] = text
    deviation = feature_deviation(encoder(**kept).encode(list(DEVIATION_PROMPTS)), reference)
    return encoder(static_graphs=bench.cuda and text != "stream", **kept), deviation


def measure(bench, fast, prompt: str, text: str) -> dict:
    """One low-VRAM engine (bf16 DiT in the fast mode `fast`, a FastConfig) with Qwen3 kept as
    `text`; `prompt` is the bench's (new prompts are it with a counter appended)."""
    from motionbridge.daemon.engine.fast.engine import FastEngine

    peak_reset(bench.device)
    t0 = time.perf_counter()
    model, cfg = bench._random_model(torch.bfloat16)
    encoder, deviation = _encoder(bench, text)
    engine = FastEngine(model, cfg, encoder, fast, device=bench.device, model_name=bench.name)
    sync(bench.device)
    start = time.perf_counter() - t0
    peak_reset(bench.device)  # random weights are made on the device; real ones load to the CPU first
    with_text = bench._latencies(engine, lambda d, k: f"{prompt} (low-vram {text} {d:g} {k})")
    cached = bench._latencies(engine)
    counter = iter(range(10**6))
    encoder.encode([f"{prompt} warm"])
    encode_s, _ = timed(lambda: encoder.encode([f"{prompt} ({text} {next(counter)})"]), bench.device, bench.args.repeats)
    res = {"engine_start_s": round(start, 2), "latency_ms_with_text": with_text, "latency_ms_text_cached": cached,
           "text_encode_ms_new_prompt": round(encode_s * 1000, 2), "peak_vram_gib": peak_gib(bench.device),
           "feature_deviation_vs_bf16": deviation}
    engine = encoder = model = None  # drops the last references (their GPU memory) before the next way
    gc.collect()
    return res


def low_vram(bench, fast, prompt: str, texts: Sequence[str] = LOW_VRAM_TEXT) -> dict:
    """The low-VRAM line of one model (a suite.ModelBench, its last mode's FastConfig `fast`):
    {'mode': that mode's name, 'text': {text: measure}}."""
    return {"mode": bench.modes[-1], "text": {text: measure(bench, fast, prompt, text) for text in texts}}
