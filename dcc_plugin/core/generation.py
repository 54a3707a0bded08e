"""One Generate press: its request, its target, the results gathered so far, and the
worker-side step that polls the daemon and retargets what arrived."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from motionbridge.rigs import Clip

from . import targeting

# each event with what the worker prepared for it: (clip on the rig, metrics), the exception
# retargeting raised, or None (nothing to retarget)
Prepared = list[tuple[Any, Any]]


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
    direction: Any = None  # directing.Direction of a directed take, built on the worker
    handle: Any = None
    results: dict[int, Clip] = field(default_factory=dict)
    retargeted: dict[int, Any] = field(default_factory=dict)  # seed -> (clip on the rig, metrics)
    cancelled: bool = False
    finished: bool = False

    def poll(self, wait_s: float, timings: dict[str, list[float]]) -> tuple[Prepared, float, bool]:
        """Worker side: poll the handle once and retarget what arrived (pure numpy, so it
        stays off the main thread). Returns the prepared events, when they arrived, and
        whether the request is over."""
        events = self.handle.poll(wait_s)
        finished = bool(self.handle.done)
        if finished:  # done is set after the last event is queued: collect the stragglers
            events += self.handle.poll(0.0)
        arrived = time.perf_counter()
        previews = [e for e in events if e.kind == "preview" and e.clip is not None]
        prepared: Prepared = []
        for event in events:
            if event.kind == "result" and event.clip is not None:
                prepared.append((event, self._retarget(event.clip, timings)))
            elif event.kind == "preview" and event.clip is not None:
                if event is previews[-1]:  # only the newest preview is worth showing
                    prepared.append((event, self._retarget(event.clip, timings)))
            else:
                prepared.append((event, None))
        return prepared, arrived, finished or any(e.kind in ("error", "busy") for e in events)

    def _retarget(self, clip: Clip, timings: dict[str, list[float]]) -> tuple[Clip, dict[str, float]] | BaseException:
        t0 = time.perf_counter()
        try:
            out = targeting.to_target(clip, self.target, self.options)
        except Exception as exc:  # reported on the main thread with the event
            return exc
        timings.setdefault("retarget_ms", []).append((time.perf_counter() - t0) * 1000.0)
        return out
