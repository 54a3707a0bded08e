"""Constrained sampling: known latent values imposed inside HY-Motion's Euler loop.

HY-Motion has no VAE: the sampler integrates the normalised motion itself, from t = 0
(noise) to t = 1 (data), on straight paths x_t = (1 - t)·ε + t·x₁. A constraint is a set of
known values (frames x channels) of the clean latent. After every Euler step the known part
of the state is replaced by where the known values would stand at that time: replacement
inpainting as in MDM's in-betweening (Tevet et al. 2023, `sample/edit.py`) and RePaint,
written for flow matching. The noise on that path is the model's own current estimate,
ε̂ = x̂ - v, not the seed's: the replaced state is x_t + t·(x_known - x̂), with
x̂ = x_t + (1 - t)·v the clean prediction. Measured on an analytic smooth prior (a Gaussian
process, tests/daemon/model/test_constraints.py), this keeps the known frames' noise coupled
to the free frames' and cuts the seam's velocity jump from about 3x to about 1x the clip's own
p95 (the acceleration jump from about 14x to 3.5x). At t = 1 the known part is exact.

A loop is a constraint whose values are the take's own: latent frames [period, period + k)
are kept equal to frames [0, k) (same state), root x/z shifted by the travel of one cycle,
estimated at each step from the clean prediction. The cycle then tiles: same heading, same
speed, the travel added per cycle.

Free functions and small frozen dataclasses; `projection` turns them into the callable the
Euler loop takes (`sampling.euler(..., project=...)`); without one the loop is untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .encode import LATENT_DIM, ROTATIONS, TRANSL

# latent channels 0 and 2, the root's ground-plane position; a slice, not a list: a view, with no
# index tensor made on the host, so a CUDA graph can capture the loop's projection (fast/directed.py)
ROOT_XZ = slice(0, 3, 2)


@dataclass(frozen=True)
class Known:
    """Known clean latent values: `values` and `mask` are (L, 201) over the latent window
    (normalised, as the sampler sees them); only masked entries are read."""

    values: Tensor
    mask: Tensor  # bool

    def __post_init__(self) -> None:
        if self.values.shape != self.mask.shape or self.values.shape[-1] != LATENT_DIM or self.mask.dtype != torch.bool:
            got = f"{tuple(self.values.shape)} / {tuple(self.mask.shape)} {self.mask.dtype}"
            raise ValueError(f"Known needs (L, {LATENT_DIM}) values and a bool mask of the same shape, got {got}")
        if not torch.isfinite(self.values[self.mask]).all():
            raise ValueError("known latent values contain NaN or infinity")


@dataclass(frozen=True)
class Loop:
    """Latent frames [period, period + frames) repeat frames [0, frames): the take is the
    first `period` frames and its frame `period` would be frame 0 again, moved by the travel."""

    period: int
    frames: int = 3


def noised(known: Tensor, x: Tensor, x_hat: Tensor, t: Tensor | float) -> Tensor:
    """Where known clean values stand at time t on the model's current path through x:
    (1 - t)·ε̂ + t·known with ε̂ the path's noise, i.e. x + t·(known - x̂)."""
    return x + t * (known - x_hat)


def impose_known(x: Tensor, t: Tensor, known: Known, x_hat: Tensor) -> Tensor:
    """x (B, L, 201) at time t with the known entries set to their noised values (every batch
    row); x_hat is the clean prediction the step that made x started from."""
    length = known.mask.shape[0]
    target = noised(known.values.to(x), x[:, :length], x_hat[:, :length], t)
    head = torch.where(known.mask.to(x.device), target, x[:, :length])
    return torch.cat([head, x[:, length:]], dim=1) if length < x.shape[1] else head


def loop_travel(x_hat: Tensor, loop: Loop) -> Tensor:
    """(B, 2) root x/z travel of one cycle from the clean prediction: frame `period`
    extrapolated from the last two free frames, minus frame 0."""
    xz = x_hat[:, :, ROOT_XZ]
    last, before = xz[:, loop.period - 1], xz[:, loop.period - 2]
    return 2 * last - before - xz[:, 0]


def impose_loop(x: Tensor, t: Tensor, x_hat: Tensor, loop: Loop) -> Tensor:
    """Frames [period, period + k) := frames [0, k), the root x/z moved by t · travel (the
    noised state of a clean value moved by the travel)."""
    p, k = loop.period, loop.frames
    out = x.clone()
    out[:, p : p + k] = x[:, :k]
    out[:, p : p + k, ROOT_XZ] += t * loop_travel(x_hat, loop)[:, None, :]
    return out


@dataclass(frozen=True, eq=False)
class ConstraintProjection:
    """The Euler loop's `project` hook for known values and/or a loop: x at time t, x_hat the
    clean prediction of the step that made it -> x with the constraints imposed. Its fields say
    what it imposes, so an engine can set the same constraints into buffers of its own
    (fast/directed.py, for a captured loop)."""

    known: Known | None
    loop: Loop | None

    def __call__(self, t: Tensor, x: Tensor, x_hat: Tensor) -> Tensor:
        if self.known is not None:
            x = impose_known(x, t, self.known, x_hat)
        if self.loop is not None:
            x = impose_loop(x, t, x_hat, self.loop)
        return x


def projection(known: Known | None = None, loop: Loop | None = None) -> ConstraintProjection | None:
    """The Euler loop's `project` hook for these constraints, or None when there are none
    (so an unconstrained take runs the official loop bit for bit)."""
    if known is None and loop is None:
        return None
    return ConstraintProjection(known, loop)


def reconstruction_guidance(velocity, known: Known, weight: float, after: float = 0.0):
    """v(t, x) nudged down the gradient of the known entries' error in the clean prediction
    x̂ = x + (1 - t)·v (CondMDI's reconstruction guidance, Cohan et al. 2024, for flow
    matching): one backward pass through the network per step. Kept for measurement: the
    bench compares it with replacement (daemon/controls/README.md). Steps before t = `after`
    run unguided (a guidance phase at the end of the loop only)."""

    def guided(t: Tensor, x: Tensor) -> Tensor:
        if float(t) < after:
            return velocity(t, x)
        length = known.mask.shape[0]
        with torch.enable_grad():
            x_in = x.detach().requires_grad_(True)
            v = velocity(t, x_in)
            x_hat = x_in[:, :length] + (1 - t) * v[:, :length]
            error = ((x_hat - known.values.to(x)) ** 2 * known.mask.to(x)).sum()
            (grad,) = torch.autograd.grad(error, x_in)
        return v.detach() - weight * grad

    return guided


# -- what the decoder must leave alone ----------------------------------------------------


@dataclass(frozen=True)
class Pinned:
    """Per frame of the decoded take: root translation channels pinned (L, 3), joint rotations
    pinned (L, 22). A path pins x and z only; a pose all three."""

    translation: Tensor
    rotations: Tensor


def pinned_from_mask(mask: Tensor) -> Pinned:
    """A translation channel is pinned when known; a joint's rotation when all six are."""
    joints = mask[:, ROTATIONS].reshape(mask.shape[0], -1, 6).all(-1)
    return Pinned(mask[:, TRANSL], joints)


def keep_pinned_rotations(smooth, pinned: Pinned):
    """Wrap a rot6d smoother (B, L, 22, 6) so pinned joints keep their unsmoothed values: the
    official smoothing removes the network's jitter, and a known pose has none to remove."""

    def smooth_rot(rot6d: Tensor) -> Tensor:
        keep = pinned.rotations[: rot6d.shape[1]].to(rot6d.device)[None, :, :, None]
        return torch.where(keep, rot6d, smooth(rot6d))

    return smooth_rot


def keep_pinned_translation(smooth, pinned: Pinned):
    def smooth_transl(transl: Tensor) -> Tensor:
        keep = pinned.translation[: transl.shape[1]].to(transl.device)[None]
        return torch.where(keep, transl, smooth(transl).to(transl))

    return smooth_transl
