"""Previews of directed takes: what a client that asked for `preview_every` sees while one samples.

As for a plain take (engine/reference.py, engine/fast/progress.py), a preview is the step's
clean estimate x̂₁ = x_t + (1 − t)·v, decoded without smoothing, one clip per seed being
sampled. A directed take's preview also gets what its final latent and decode give the take:
the constraints as they stand at t = 1 (the sampler's own projection evaluated at t = 1 on x̂:
the known frames' values, a loop's repeated frames), the placement in the constraints' world
(generate.placed: a pinned root's height, the start's ground-plane position) and the crop to
the take's frames (its layout). So from the first preview on, the take starts in its start
pose and passes through its keys. The final decode's seam blend (blend.py) is left out: it
smooths the free frames next to pinned ones, which a glance at the motion does not need.

An extended take (extend.py) samples its pieces one after another, and each piece's Euler
loop counts its steps from 1 again. Its preview is the pieces already made (final frames)
followed by the estimate of the piece being sampled, at its frames: it grows piece by piece
and has the take's length during the last piece.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from torch import Tensor

from motionbridge.daemon.engine.api import StepInfo
from motionbridge.daemon.model.decode import DecodedMotion, decode_latent
from motionbridge.daemon.model.sampling import Projection, predicted_data
from motionbridge.daemon.tracks import clips_from_decoded
from motionbridge.rigs import Clip

from .spec import Layout


def due(step: int, every: int, total: int, previous: int | None = None) -> bool:
    """Whether step `step` (1-based) sends a preview: when the loop has passed a multiple of
    `every` since the `previous` call back (default step - 1: a loop that calls back after every
    step; a captured loop calls back once per graph segment) and at the last step, as a plain
    take's previews (engine/fast/progress.py)."""
    previous = step - 1 if previous is None else previous
    return bool(every) and (step // every > previous // every or step == total)


def preview_clips(
    pipe, seeds: Sequence[int], lay: Layout, project: Projection | None, place: Callable[[DecodedMotion], DecodedMotion] | None,
    step: int, t_k: Tensor, x_k: Tensor, v_k: Tensor,
) -> list[Clip]:
    """One clip per seed of the rows `x_k` holds (the first len(seeds) rows; a fast engine's
    batch may hold padding rows after them and padding frames after the latent window).
    `project`: the sampler's projection; `place`: the final decode's placement (generate.placed)."""
    x_hat = predicted_data(x_k[: len(seeds)].float(), t_k, v_k[: len(seeds)].float())[:, : lay.latent_frames]
    if project is not None:  # at t = 1 the projection leaves x̂'s free part and sets the rest
        x_hat = project(1.0, x_hat, x_hat)
    mean, std = pipe.model.get_buffer("mean"), pipe.model.get_buffer("std")
    decoded = decode_latent(x_hat, mean, std, pipe.body, smooth=False)
    if place is not None:
        decoded = place(decoded)
    clips = clips_from_decoded(decoded, [{"preview_step": step, "seed": int(s)} for s in seeds])
    crop = slice(lay.offset, lay.offset + lay.frames)
    return [c.replace(rotations=c.rotations[crop], root_translation=c.root_translation[crop]) for c in clips]


def after_parts(on_step: Callable[[StepInfo], None] | None, parts: list[Clip], first: int, length: int):
    """on_step for a piece of an extended take whose frames [first, length) are kept: its
    previews become the kept pieces `parts` followed by those frames of the preview."""
    if on_step is None:
        return None

    def step(info: StepInfo) -> None:
        if info.previews:
            joined = {rid: [_joined(parts, c, first, length) for c in clips] for rid, clips in info.previews.items()}
            info = StepInfo(info.step, info.total, info.request_ids, joined, info.stage, info.queued)
        on_step(info)

    return step


def _joined(parts: list[Clip], preview: Clip, first: int, length: int) -> Clip:
    rotations = np.concatenate([*(c.rotations for c in parts), preview.rotations[first:length]])
    root = np.concatenate([*(c.root_translation for c in parts), preview.root_translation[first:length]])
    return preview.replace(rotations=rotations, root_translation=root)
