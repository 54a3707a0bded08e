"""Engine contract shared by the CLI, the daemon server and batch export.

An engine takes a batch of requests (each with its own prompt, duration, seeds and cfg) and
returns one GeneratedTake per (request, seed), in request order then seed order. Results for a
given seed are deterministic and do not depend on what else is in the batch.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from motionbridge.rigs import Clip


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    duration_s: float = 5.0
    seeds: tuple[int, ...] = (0,)
    cfg: float = 5.0
    game_feat: bool = False  # HY-Motion's "special game feature" flag
    request_id: str = ""  # echoed in results and step events
    # model name and checkpoint come from the engine, not the request


@dataclass
class GeneratedTake:
    request_id: str
    seed: int
    clip: Clip  # SMPL-X skeleton, 30 fps, Y-up, metres; metadata: prompt, seed, cfg, model, hash, versions
    latent: np.ndarray | None = None  # (L, 201) final flow-matching state, for tests and caching
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class StepInfo:
    step: int  # 1..total, after that Euler step
    total: int
    request_ids: tuple[str, ...]  # rows still running
    # request_id -> one preview Clip per seed (x_hat_1 = x_t + (1 - t) v, decoded cheaply);
    # only filled on steps where previews were asked for
    previews: dict[str, list[Clip]] | None = None
    # '' on the engine's fast path; 'compiling': this batch's shape is compiling in the
    # background and the batch runs on a slower path meanwhile; 'compile_failed': it runs there
    # for good (fast/engine.py, compile/paths.py). `queued`: other shapes waiting to compile.
    stage: str = ""
    queued: int = 0


class Cancelled(Exception):
    """Raised inside an engine call when every request of the batch was cancelled."""


class Engine(abc.ABC):
    model_name: str  # "HY-Motion-1.0" or "HY-Motion-1.0-Lite" (or the fixture's)
    model_hash: str  # sha256 prefix of the loaded checkpoint

    @abc.abstractmethod
    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        on_step: Callable[[StepInfo], None] | None = None,
        is_cancelled: Callable[[str], bool] | None = None,
        preview_every: int = 0,
    ) -> list[GeneratedTake]:
        """Generate every seed of every request. Cancelled requests are dropped from the
        batch between Euler steps and produce no takes."""

    def health(self) -> dict[str, object]:
        """{'ok': bool, 'reason': str, ...}: a sticky device error sets ok False."""
        return {"ok": True, "reason": ""}
