"""Random weights of the real shapes, for batch throughput runs where the weights are not
at hand (a benchmark box with no internet).

The DiT's cost depends only on its shapes, so the runtime's `motionbridge bench` builds it
with random weights; this wraps that build as an engine the batch command can drive
end to end. Text features are random too (one fixed draw per prompt, seeded by the
prompt), so Qwen3-8B and CLIP are not loaded and their time (once per distinct prompt) is
left out of the figures; the takes are noise, retargeted and exported like real ones.

    python -m motionbridge.daemon.batch.bench --engine-factory motionbridge.daemon.batch.random_engine:full ...
"""

from __future__ import annotations

import hashlib

import torch

from motionbridge.daemon.engine.fast import FastEngine
from motionbridge.daemon.engine.text_cache import CachedText


class RandomTextEngine(FastEngine):
    def _encode(self, prompts: list[str]) -> dict[str, CachedText]:
        pipe = self.pipeline
        net, p = pipe.config.network, pipe.config.pipeline
        out = {}
        for prompt in prompts:
            seed = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:8], "little") >> 1
            g = torch.Generator().manual_seed(seed)
            vtxt = torch.randn(1, net.vtxt_input_dim, generator=g).to(pipe.device)
            ctxt = torch.randn(p.max_length_llm, net.ctxt_input_dim, generator=g).to(pipe.device)
            out[prompt] = CachedText(vtxt, ctxt, 24, ())
        return out


def _make(model: str, device: str, dtype: str, steps: int | None = None) -> RandomTextEngine:
    # the runtime's bench owns the random build of the real shapes; reuse it, do not fork it
    from motionbridge.daemon.engine import bench as engine_bench

    built = engine_bench._build(engine_bench._config(model, steps), device, dtype)
    return RandomTextEngine(built.pipeline, model_name=f"random-{model}")


def full(device: str = "cuda", dtype: str = "bfloat16", **_: object) -> RandomTextEngine:
    """HY-Motion-1.0 shapes (1.0B DiT)."""
    return _make("1.0", device, dtype)


def lite(device: str = "cuda", dtype: str = "bfloat16", **_: object) -> RandomTextEngine:
    """HY-Motion-1.0-Lite shapes."""
    return _make("lite", device, dtype)


def tiny(device: str = "cpu", dtype: str = "float32", **_: object) -> RandomTextEngine:
    """The fixture's tiny shapes and 5 Euler steps: a CPU smoke run of the same path."""
    return _make("tiny", device, dtype, steps=5)
