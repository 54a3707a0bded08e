"""Directed takes in the daemon's worker, in batch export and in the in-process CLI: the same
code (generate.py, extend.py) on the engine that was loaded.

A reference engine runs them on its float32 reference pipeline. A fast engine runs them on its
own Euler loop, in its own dtype and network path, with the same per-step imposition
(`engine/fast/directed.py`); its takes say `"engine": "fast"`. So a directed take is the same
bytes in-process and through a daemon on the same engine, device and thread count, and
`--engine reference` (`serve --engine reference`) still gives the reference's.
"""

from __future__ import annotations

from collections.abc import Callable

from motionbridge.daemon.engine.api import Cancelled, GeneratedTake, GenerationRequest, StepInfo

from .spec import Controls


def directed_engine(engine):
    """The engine directed takes run on: `engine` itself when it is a reference engine, the
    fast engine's directed view (engine/fast/directed.py) for a fast one. ValueError otherwise."""
    if hasattr(engine, "pipeline"):
        return engine
    from motionbridge.daemon.engine.fast.directed import fast_directed

    view = fast_directed(engine)
    if view is None:
        raise ValueError(f"this daemon's engine ({type(engine).__name__}) cannot run directed takes; serve the HY-Motion weights")
    return view


def generate_directed(
    engine, request: GenerationRequest, controls: Controls,
    on_step: Callable[[StepInfo], None] | None = None, is_cancelled: Callable[[str], bool] | None = None,
    preview_every: int = 0,
) -> list[GeneratedTake]:
    """One directed request, as `motionbridge generate` runs it in-process; raises Cancelled
    at the next Euler step once `is_cancelled` says so. on_step gets preview clips every
    `preview_every` steps (controls/previews.py)."""
    import torch

    from .extend import generate_extended
    from .generate import generate

    def step(info: StepInfo) -> None:
        if on_step is not None:
            on_step(info)
        if is_cancelled is not None and is_cancelled(request.request_id):
            raise Cancelled(f"request {request.request_id} was cancelled")

    on = directed_engine(engine)
    with torch.no_grad():
        if controls.timeline:
            return generate_extended(on, request, controls.extend_frames, controls.timeline, step, preview_every)
        return generate(on, request, controls, on_step=step, preview_every=preview_every)
