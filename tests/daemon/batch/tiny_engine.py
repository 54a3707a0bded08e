"""The real in-process engines (fast by default, as `motionbridge batch` uses) on the tiny
parity fixture, with fewer Euler steps.

Batch tests check plumbing (grouping, files, manifest, resume, backends), not the sampler,
so they run the reference engine with MB_BATCH_TEST_STEPS (default 3) steps instead of 50:
same code path, same determinism per seed, a fraction of the CPU time.
Subprocesses (CLI, daemon, Ray actors, OpenJD tasks) load it as `tiny_engine:make`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from motionbridge.daemon.engine.fast.engine import FastEngine
from motionbridge.daemon.engine.reference import ReferenceEngine

REPO = Path(__file__).resolve().parents[3]


def parity_dir() -> Path:
    return Path(os.environ.get("MOTIONBRIDGE_PARITY_DIR", REPO.parent / "shared" / "parity")).resolve()


def make(device: str = "cpu", dtype: str = "float32", kind: str = "fast", **_: object) -> ReferenceEngine:
    cls = FastEngine if kind == "fast" else ReferenceEngine
    engine = cls.from_parity(parity_dir(), device=device, dtype=dtype)
    steps = int(os.environ.get("MB_BATCH_TEST_STEPS", "3"))
    if isinstance(engine, FastEngine):
        return engine.with_steps(steps)
    config = engine.pipeline.config
    engine.pipeline.config = dataclasses.replace(config, pipeline=dataclasses.replace(config.pipeline, validation_steps=steps))
    return engine
