"""A directed take's constraints in the form a captured Euler loop reads: buffers of one batch shape.

The fast engine's loop (engine._sample_rows) runs a directed take's projection
(`model/constraints.projection`) on `ConstraintBuffers`: the same code over the take's known
values and mask copied into buffers of the batch's latent length, zero and unmasked past the
take's window (`torch.where` leaves those entries bit for bit as the state: NaN, infinity and
-0.0 included). So with CUDA graphs the projection is captured inside the loop's graphs
(compile/graphs.py CapturedStep), under a key of its own beside the plain take's graphs of the
same shape (`graph_key`: a loop's period and frames are indices in the captured code), and each
run copies its take's constraints in before the replay (`load_into`). On the CPU the same code
runs eagerly: the latents of the constraints' own projection called back after each step, bit
for bit (tests/daemon/engine/fast/test_directed.py).
"""

from __future__ import annotations

import torch
from torch import Tensor

from motionbridge.daemon.model import constraints as C
from motionbridge.daemon.model.encode import LATENT_DIM


class ConstraintBuffers:
    """A directed take's projection on buffers of one batch shape: constraints.projection's
    code over known values and a mask of the batch's `frames` latent frames, and the loop fixed
    at construction (its period and frames are indices in the captured code: graph_key). A
    captured loop reads the buffers in place; `load` copies a take's constraints in."""

    def __init__(self, frames: int, loop: C.Loop | None, device: torch.device) -> None:
        self.values = torch.zeros(frames, LATENT_DIM, device=device)
        self.mask = torch.zeros(frames, LATENT_DIM, dtype=torch.bool, device=device)
        self.loop = loop
        self._project = C.ConstraintProjection(C.Known(self.values, self.mask), loop)

    def load(self, projection: C.ConstraintProjection) -> ConstraintBuffers:
        """`projection`'s known values and mask into the buffers (past its window: unmasked)."""
        if projection.loop != self.loop:
            raise ValueError(f"these buffers impose the loop {self.loop}, not {projection.loop}")
        self.mask.zero_()
        known = projection.known
        if known is not None:
            length = known.mask.shape[0]
            if length > self.mask.shape[0]:
                raise ValueError(f"constraints over {length} latent frames do not fit a batch of {self.mask.shape[0]}")
            self.values[:length].copy_(known.values)
            self.mask[:length].copy_(known.mask)
        return self

    def __call__(self, t: Tensor, x: Tensor, x_hat: Tensor) -> Tensor:
        return self._project(t, x, x_hat)


def graph_key(projection: C.ConstraintProjection | None) -> tuple:
    """What a batch's graphs key adds for its constraints: nothing for a plain take; a directed
    take's graphs hold the projection, and a loop's period and frames."""
    if projection is None:
        return ()
    return ("directed",) + (() if projection.loop is None else ("loop", projection.loop.period, projection.loop.frames))


def on_buffers(projection: C.ConstraintProjection | None, frames: int, device: torch.device) -> ConstraintBuffers | None:
    """`projection` on new buffers of `frames` latent frames on `device` (None: no projection)."""
    return None if projection is None else ConstraintBuffers(frames, projection.loop, device).load(projection)


def load_into(captured, projection: C.ConstraintProjection | None):
    """`captured` (a CapturedStep of graph_key(projection)'s key) with this take's constraints
    in its buffers, for its next replay."""
    if projection is not None:
        if not isinstance(captured.project, ConstraintBuffers):
            raise TypeError("these graphs were captured without a projection")
        captured.project.load(projection)
    return captured
