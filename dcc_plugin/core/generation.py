"""One Generate press: its request, its target, and the results gathered so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from motionbridge.rigs import Clip


@dataclass
class Generation:
    """One Generate press: its request, target, and the results gathered so far."""

    number: int
    prompt: str
    duration_s: float
    seeds: tuple[int, ...]
    cfg: float
    model: str
    options: dict[str, Any]
    target: Any = None  # targeting.Target, resolved on the worker (detection can take a while)
    handle: Any = None
    results: dict[int, Clip] = field(default_factory=dict)
    retargeted: dict[int, Any] = field(default_factory=dict)  # seed -> (clip on the rig, metrics)
    cancelled: bool = False
    finished: bool = False
