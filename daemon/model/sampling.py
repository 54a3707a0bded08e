"""Flow-matching sampling as the official pipeline does it: free functions, no state.

t = 0 is noise, t = 1 data; Euler steps over float32 linspace(0, 1, steps + 1); classifier-
free guidance batches [uncond; cond] and mixes v = v_u + cfg (v_c - v_u).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from motionbridge.daemon.protocol.limits import FPS, MAX_FRAMES, MIN_FRAMES
from motionbridge.daemon.protocol.limits import num_frames as _limits_num_frames


def num_frames(duration_s: float, fps: int = FPS, train_frames: int = MAX_FRAMES) -> int:
    """round(duration * fps) (half to even), clamped to [min(train_frames, 20), train_frames]."""
    if fps == FPS and train_frames == MAX_FRAMES:
        return _limits_num_frames(duration_s)
    return max(min(train_frames, MIN_FRAMES), min(train_frames, int(round(duration_s * fps))))


def noise_for_seeds(seeds: Sequence[int], frames: int, dim: int, device: torch.device | str = "cpu") -> Tensor:
    """One CPU generator per seed draws randn(1, frames, dim); rows concatenated. The model
    always sees the full training window, so `frames` is train_frames, cropped later."""
    rows = [torch.randn((1, frames, dim), generator=torch.Generator().manual_seed(int(s))) for s in seeds]
    return (rows[0] if len(rows) == 1 else torch.cat(rows, dim=0)).to(device)


def time_grid(steps: int, device: torch.device | str = "cpu") -> Tensor:
    """The solver's grid, float32: some points are an ulp off (0.099999994), as in the official run."""
    return torch.linspace(0, 1, steps + 1, device=device)


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    if int(lengths.max()) > max_len:
        raise ValueError(f"length {int(lengths.max())} exceeds {max_len}")
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths.reshape(-1, 1)


@dataclass
class Conditioning:
    """Network inputs for one sampling batch, already CFG-doubled when guidance is on."""

    ctxt: Tensor  # (B', Lt, Dc)
    vtxt: Tensor  # (B', 1, Dv)
    ctxt_mask: Tensor  # (B', Lt) bool
    x_mask: Tensor  # (B', L) bool
    cfg: float
    guided: bool


def build_conditioning(
    vtxt: Tensor,
    ctxt: Tensor,
    ctxt_length: Tensor,
    frames: int,
    latent_frames: int,
    cfg: float,
    null_vtxt: Tensor,
    null_ctxt: Tensor,
    *,
    ctxt_null_feat: bool = True,
    game_vtxt: Tensor | None = None,
) -> Conditioning:
    """vtxt (B,1,Dv), ctxt (B,Lt,Dc), ctxt_length (B,). The uncond half keeps the cond mask."""
    b = vtxt.shape[0]
    if game_vtxt is not None:  # the game flag only shifts the pooled CLIP vector (see README 28)
        vtxt = vtxt + game_vtxt.to(vtxt)
    ctxt_mask = length_mask(ctxt_length, ctxt.shape[1])
    x_mask = length_mask(torch.full((b,), frames, dtype=torch.long, device=ctxt.device), latent_frames)
    guided = cfg > 1.0
    if guided:
        vtxt = torch.cat([null_vtxt.expand(*vtxt.shape), vtxt], dim=0)
        silent = null_ctxt.expand(*ctxt.shape) if ctxt_null_feat else ctxt
        ctxt = torch.cat([silent, ctxt], dim=0)
        ctxt_mask = torch.cat([ctxt_mask] * 2, dim=0)
        x_mask = torch.cat([x_mask] * 2, dim=0)
    return Conditioning(ctxt, vtxt, ctxt_mask, x_mask, float(cfg), guided)


Velocity = Callable[[Tensor, Tensor], Tensor]


def guided_velocity(network: Callable[..., Tensor], cond: Conditioning, **network_kwargs) -> Velocity:
    """v(t, x) for the ODE: one network call on the (doubled) batch, then the CFG mix."""

    def velocity(t: Tensor, x: Tensor) -> Tensor:
        x_in = torch.cat([x] * 2, dim=0) if cond.guided else x
        out = network(x_in, cond.ctxt, cond.vtxt, t.expand(x_in.shape[0]), cond.x_mask, cond.ctxt_mask, **network_kwargs)
        if not cond.guided:
            return out
        uncond, text = out.chunk(2, dim=0)
        return uncond + cond.cfg * (text - uncond)

    return velocity


# on_step(step, t_k, x_k, v_k, x_next) -> True to stop (cancellation); x_next None where the loop
# keeps the new state in a captured graph's buffers (engine/fast/directed.py)
StepCallback = Callable[[int, Tensor, Tensor, Tensor, Tensor | None], bool | None]
# project(t_{k+1}, x_{k+1}, x̂₁ from step k) -> x_{k+1} with constraints imposed (constraints.py)
Projection = Callable[[Tensor, Tensor, Tensor], Tensor]


def euler(
    velocity: Velocity, y0: Tensor, grid: Tensor, on_step: StepCallback | None = None, project: Projection | None = None,
) -> Tensor:
    """x_{k+1} = x_k + (t_{k+1} - t_k) v(t_k, x_k). `on_step` runs after each step (1-based);
    returning True stops early (cancellation) and returns the state reached so far. `project`
    (None: the official solver, untouched) imposes constraints on each new state."""
    x = y0
    for k in range(len(grid) - 1):
        t0, t1 = grid[k], grid[k + 1]
        v = velocity(t0, x)
        x_next = x + (t1 - t0) * v
        if project is not None:
            x_next = project(t1, x_next, predicted_data(x, t0, v))
        stop = on_step is not None and on_step(k + 1, t0, x, v, x_next)
        x = x_next
        if stop:
            break
    return x


def predicted_data(x_t: Tensor, t: Tensor | float, v: Tensor) -> Tensor:
    """x̂₁ = x_t + (1 - t) v: the clean-motion estimate used for previews."""
    return x_t + (1 - t) * v
