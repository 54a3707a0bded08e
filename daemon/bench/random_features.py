"""Random weights of the real shapes, for batch throughput runs where the weights are not
at hand (a benchmark box with no internet).

The DiT's cost depends only on its shapes, so `motionbridge bench` builds it with random
weights (daemon/bench/random_models.py); this wraps that build as an engine the batch command can
drive end to end. Text features are random too (one fixed draw per prompt, seeded by the
prompt), so Qwen3-8B and CLIP are not loaded and their time (once per distinct prompt) is
left out of the figures; the takes are noise, retargeted and exported like real ones.

    python -m motionbridge.daemon.bench.batch --engine-factory motionbridge.daemon.bench.random_features:full ...
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

import torch

from motionbridge.daemon.bench.random_models import model_config, random_flow_model
from motionbridge.daemon.engine.fast.config import FastConfig
from motionbridge.daemon.engine.fast.engine import FastEngine
from motionbridge.daemon.engine.text.cache import CachedText


class RandomTextEngine(FastEngine):
    """A FastEngine whose text features are a fixed random draw per prompt (no encoders)."""

    def text_features(self, prompts: Sequence[str]) -> dict[str, CachedText]:
        net = self.config.network
        out = {}
        for prompt in dict.fromkeys(prompts):
            seed = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:8], "little") >> 1
            g = torch.Generator().manual_seed(seed)
            out[prompt] = CachedText(torch.randn(24, net.ctxt_input_dim, generator=g), torch.randn(1, net.vtxt_input_dim, generator=g))
        return out


def _make(model: str, device: str, dtype: str, steps: int | None = None) -> RandomTextEngine:
    cfg = model_config(model)
    if steps is not None:
        cfg = dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, validation_steps=steps))
    fast = FastConfig.for_device(device, dtype)  # the production mode for the device
    return RandomTextEngine(random_flow_model(cfg, device), cfg, None, fast, device=device, model_name=f"random-{model}")


def full(device: str = "cuda", dtype: str = "bfloat16", **_: object) -> RandomTextEngine:
    """HY-Motion-1.0 shapes (1.0B DiT)."""
    return _make("1.0", device, dtype)


def lite(device: str = "cuda", dtype: str = "bfloat16", **_: object) -> RandomTextEngine:
    """HY-Motion-1.0-Lite shapes."""
    return _make("lite", device, dtype)


def tiny(device: str = "cpu", dtype: str = "float32", **_: object) -> RandomTextEngine:
    """The fixture's tiny shapes and 5 Euler steps: a CPU smoke run of the same path."""
    return _make("tiny-random", device, dtype, steps=5)
