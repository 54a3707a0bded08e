"""`motionbridge generate ... --server tcp://HOST:PORT`: the same requests, run by a daemon.

The in-process CLI calls `generate_via_server` instead of `engine.generate`; the progress
callable receives the same StepInfo objects, so one progress bar serves both paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from motionbridge.daemon.controls.spec import Controls
from motionbridge.daemon.controls.wire import to_wire
from motionbridge.daemon.engine.api import GenerationRequest, StepInfo
from motionbridge.daemon.protocol.client import ClientError, MotionBridgeClient
from motionbridge.rigs import Clip

__all__ = ["generate_via_server", "ClientError"]


def generate_via_server(
    endpoint: str,
    requests: Sequence[GenerationRequest],
    *,
    progress: Callable[[StepInfo], None] | None = None,
    model: str | None = None,
    priority: str = "interactive",
    server_public_key: Any = None,
    client_keys: Any = None,
    timeout_s: float = 5.0,
    retries: int = 3,
    take_timeout_s: float | None = None,
    controls: Controls | None = None,
) -> list[Clip]:
    """Clips in request order, then seed order (like Engine.generate). With `controls`, every
    request is a directed take with them (the daemon runs each alone, on its engine).

    Raises ValueError for bad input (nothing is sent) and ClientError (stable `.code`) when
    the daemon is unreachable, refuses the key, is busy or fails; Ctrl-C cancels the requests.
    """
    if not requests:
        raise ValueError("no requests; pass at least one GenerationRequest")
    wire = to_wire(controls) if controls else None
    with MotionBridgeClient(endpoint, server_public_key=server_public_key, client_keys=client_keys,
                            timeout_s=timeout_s, retries=retries) as client:
        handles = [client.generate(r.prompt, duration_s=r.duration_s, seeds=r.seeds, cfg=r.cfg, model=model,
                                   priority=priority, game_feat=bool(r.game_feat), controls=wire) for r in requests]
        deadline = None if take_timeout_s is None else time.monotonic() + take_timeout_s
        try:
            while True:
                pending = [h for h in handles if not h.done]  # checked before draining, so nothing is missed
                # block on the first unfinished request's events instead of sleeping a fixed 50 ms:
                # its last take wakes this at once
                first = pending[0].poll(0.05) if pending else []
                for req, handle in zip(requests, handles):  # drained even once done: no step is lost
                    for event in (first if pending and handle is pending[0] else []) + handle.poll(0.0):
                        if progress is not None and event.kind in ("progress", "preview"):
                            progress(StepInfo(int(event.data["step"]), int(event.data["total"]), (req.request_id,)))
                if not pending:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise ClientError("timeout", f"no result after {take_timeout_s:g} s; pass a longer timeout")
        except BaseException:
            for handle in handles:
                handle.cancel()
            raise
        clips: list[Clip] = []
        for handle in handles:
            clips += handle.wait(0)
        return clips
