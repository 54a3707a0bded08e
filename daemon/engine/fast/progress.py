"""The fast engine's per-step callback: Euler steps -> progress events, previews, cancellation.

The sampler calls the hook once per step (a captured loop once per graph segment) with the
step index and the batch's current state; this turns that into the engine contract's
`on_step(StepInfo)` and `is_cancelled(request_id)` for the requests whose rows are in the chunk.
"""

from __future__ import annotations

from collections.abc import Callable

from motionbridge.daemon.engine.api import StepInfo
from motionbridge.daemon.engine.fast.takes import preview_clips


def step_hook(engine, chunk, checked, cancelled: set[int], total: int,
              on_step: Callable[[StepInfo], None] | None, is_cancelled: Callable[[str], bool] | None, preview_every: int):
    """The hook for one chunk of rows, or None when nobody listens. It adds the requests found
    cancelled to `cancelled` and returns True (stop) once every request of the chunk is."""
    if on_step is None and is_cancelled is None:
        return None
    live = sorted({r.key[0] for r in chunk})
    last = [0]  # the step of the previous call: a captured loop calls once per segment

    def hook(k, t_k, x_k, v_k) -> bool:
        previews = None
        crossed = preview_every and (k // preview_every > last[0] // preview_every or k == total)
        last[0] = k
        if crossed and on_step is not None:
            previews = preview_clips(engine, chunk, checked, t_k, x_k, v_k, k)
        if on_step is not None:
            on_step(StepInfo(k, total, tuple(checked[i][0].request_id for i in live if i not in cancelled), previews,
                             engine.choice.stage, engine.choice.queued))
        if is_cancelled is not None:
            cancelled.update(i for i in live if is_cancelled(checked[i][0].request_id))
        return all(i in cancelled for i in live)

    return hook
