"""A small numpy engine with the real Engine contract, for scheduler tests that need
control the tiny model cannot give: a fixed time per Euler step and a simulated OOM.

Takes are deterministic per (prompt, duration, seed, cfg) and independent of the batch,
like the real engine's. Loaded by the daemon through `--engine-factory toy_engine:make_engine`.
"""

from __future__ import annotations

import time
import zlib

import numpy as np

from motionbridge.daemon.engine.api import Cancelled, Engine, GeneratedTake
from motionbridge.daemon.protocol import limits
from motionbridge.rigs import Clip, quat
from motionbridge.rigs.smplx import smplx_skeleton

STEPS = 10


class OutOfMemoryError(RuntimeError):
    """Named like torch.cuda.OutOfMemoryError, which is how the worker recognises OOM."""


class ToyEngine(Engine):
    model_name = "toy"
    model_hash = "0" * 12

    def __init__(self, step_s: float = 0.02, oom_rows: int = 0):
        self.step_s = step_s
        self.oom_rows = oom_rows
        self.batches: list[int] = []
        self.sticky_error = ""  # set by a prompt containing STICKY, like a CUDA device-side assert

    def _clip(self, req, seed: int, t: float) -> Clip:
        key = zlib.crc32(f"{req.prompt}|{req.duration_s}|{req.cfg}".encode())
        rng = np.random.default_rng([key, seed])
        frames = limits.num_frames(req.duration_s)
        aa = rng.normal(scale=0.3, size=(frames, 55, 3)) * t
        root = np.cumsum(rng.normal(scale=0.01, size=(frames, 3)), axis=0) + [0.0, 0.9, 0.0]
        meta = {"prompt": req.prompt, "seed": seed, "cfg": req.cfg, "model": self.model_name}
        return Clip(smplx_skeleton(), quat.from_axis_angle(aa), root, limits.FPS, meta)

    def generate(self, requests, *, on_step=None, is_cancelled=None, preview_every=0):
        rows = sum(len(r.seeds) for r in requests)
        self.batches.append(rows)
        if self.oom_rows and rows > self.oom_rows:
            raise OutOfMemoryError(f"CUDA out of memory (toy: {rows} rows > {self.oom_rows})")
        if any("STICKY" in r.prompt for r in requests):
            self.sticky_error = "device-side assert triggered (toy)"
            raise RuntimeError(f"CUDA error: {self.sticky_error}")
        live = list(requests)
        for step in range(1, STEPS + 1):
            time.sleep(self.step_s)
            if is_cancelled is not None:
                live = [r for r in live if not is_cancelled(r.request_id)]
                if not live:
                    raise Cancelled
            if on_step is not None:
                previews = None
                if preview_every and step % preview_every == 0:
                    previews = {r.request_id: [self._clip(r, s, step / STEPS) for s in r.seeds] for r in live}
                on_step(_step_info(step, live, previews))
        return [GeneratedTake(r.request_id, s, self._clip(r, s, 1.0)) for r in live for s in r.seeds]

    def health(self):
        return {"ok": not self.sticky_error, "reason": self.sticky_error}


def _step_info(step, live, previews):
    from motionbridge.daemon.engine.api import StepInfo

    return StepInfo(step, STEPS, tuple(r.request_id for r in live), previews)


def make_engine(device: str = "cpu", step_s: str = "0.02", oom_rows: str = "0") -> ToyEngine:
    return ToyEngine(float(step_s), int(oom_rows))
