"""A deterministic stand-in engine for batch tests, used only when the real in-process
engine (`motionbridge.daemon.engine.reference`) is not in this checkout.

It honours the engine contract the batch code relies on: one take per (request, seed) in
request order, results that depend on (prompt, seed, duration, cfg) only and never on the
rest of the batch, SMPL-X clips at 30 fps. Its motion is seeded noise, smoothed.
"""

from __future__ import annotations

import hashlib
import os
from typing import Sequence

import numpy as np

from motionbridge.daemon import limits
from motionbridge.daemon.engine.api import Engine, GeneratedTake, GenerationRequest
from motionbridge.rigs import Clip, quat
from motionbridge.rigs.smplx import NUM_BODY_JOINTS, smplx_skeleton


def _rng(prompt: str, seed: int, cfg: float) -> np.random.Generator:
    digest = hashlib.sha256(f"{prompt}|{cfg!r}".encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


class StandinEngine(Engine):
    model_name = "standin"
    model_hash = "standin0"

    def __init__(self) -> None:
        self.calls: list[int] = []  # requests per call, to check grouping

    def generate(self, requests: Sequence[GenerationRequest], *, on_step=None, is_cancelled=None, preview_every=0):
        self.calls.append(len(requests))
        if os.environ.get("STANDIN_SLOW_S"):  # lets the kill test catch a run in the middle
            import time

            time.sleep(float(os.environ["STANDIN_SLOW_S"]))
        skel = smplx_skeleton()
        out = []
        for req in requests:
            frames = limits.num_frames(req.duration_s)
            for seed in req.seeds:
                rng = _rng(req.prompt, seed, req.cfg)
                t = np.linspace(0, 1, frames)[:, None]
                freq = rng.uniform(0.5, 2.0, (1, NUM_BODY_JOINTS))
                phase = rng.uniform(0, 2 * np.pi, (1, NUM_BODY_JOINTS))
                axis = quat.normalize(rng.normal(size=(NUM_BODY_JOINTS, 3)))
                angle = 0.4 * np.sin(2 * np.pi * freq * t + phase)  # (F, 22)
                rot = np.tile(skel.rest_rotations, (frames, 1, 1))
                half = angle[..., None] / 2
                rot[:, :NUM_BODY_JOINTS] = np.concatenate([axis[None] * np.sin(half), np.cos(half)], axis=-1)
                root = np.zeros((frames, 3))
                root[:, 1] = skel.rest_translations[0, 1]
                root[:, 2] = np.linspace(0, rng.uniform(0.5, 1.5), frames)
                clip = Clip(skel, rot, root, float(limits.FPS), {"prompt": req.prompt, "seed": seed, "cfg": req.cfg, "model": self.model_name, "hash": self.model_hash})
                out.append(GeneratedTake(req.request_id, seed, clip))
        return out


def make(device: str = "cpu", dtype: str = "float32") -> StandinEngine:
    return StandinEngine()
