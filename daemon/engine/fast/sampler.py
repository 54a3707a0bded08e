"""Batched Euler sampling over rows of different length, prompt and cfg.

Exact speed-ups against the reference path (README items 14, 15, 18-21):
- the latent is trimmed to the longest take of the batch (or its length bucket) instead of
  360 frames, and the text to the longest prompt; padded frames and tokens are masked keys,
  so valid outputs do not change, provided the text tokens keep RoPE positions 360.. ;
- rows with different prompts / lengths / cfg share one network call per step: the
  unconditional half is built only for guided rows, each row mixes with its own cfg;
- rotary tables and masks are built once per batch, on the device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from motionbridge.daemon.model.sampling import Projection, length_mask, noise_for_seeds, predicted_data, time_grid

# one per second (little padding, few shapes), each rounded up to a multiple of 8: on a GPU the
# compiled attention guards on its sequence length (frames + text bucket) being a multiple of 8,
# so a dynamic compile met 30/60/90-frame buckets as new code (Inductor's is_aligned_realized_tensor,
# TORCH_LOGS=recompiles on an H100, session 10); the text buckets are multiples of 8 already
DEFAULT_FRAME_BUCKETS = tuple(-(-seconds * 30 // 8) * 8 for seconds in range(1, 13))  # 32, 64, 96, 120, 152, ..., 360
DEFAULT_TEXT_BUCKETS = (16, 32, 64, 128)
DEFAULT_ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


def bucket_up(value: int, buckets: Sequence[int] | None) -> int:
    """Smallest bucket >= value; the value itself when there are no buckets or it is larger."""
    if not buckets:
        return value
    for b in buckets:
        if b >= value:
            return b
    return value


@dataclass
class Row:
    """One seed of one request, with its text features (valid rows only)."""

    seed: int
    frames: int
    cfg: float
    ctxt: Tensor  # (n_tokens, Dc) float32, n_tokens = ctxt_length
    vtxt: Tensor  # (1, Dv) float32, game feature already added
    key: object = None  # caller's handle (request index, seed index)


@dataclass
class Batch:
    """Network inputs of one sampling batch. `n` real rows (padding rows copy row 0)."""

    n: int
    x0: Tensor  # (N, L, D) float32 noise, trimmed
    ctxt: Tensor  # (N', Lt, Dc) network rows: [uncond rows; cond rows]
    vtxt: Tensor  # (N', 1, Dv)
    x_mask: Tensor  # (N', L) bool
    ctxt_mask: Tensor  # (N', Lt) bool
    guided_index: Tensor  # (G,) long: rows with an unconditional twin, in order
    cfg: Tensor  # (G, 1, 1) float32
    guided_rows: Tensor  # (N, 1, 1) bool: rows whose unconditional twin counts
    frames: list[int]
    seeds: list[int] = field(default_factory=list)  # per row, padding rows included
    train_frames: int = 0

    def to(self, device: torch.device | str) -> Batch:
        moved = {f: getattr(self, f).to(device) for f in ("x0", "ctxt", "vtxt", "x_mask", "ctxt_mask", "guided_index", "cfg", "guided_rows")}
        return Batch(self.n, frames=list(self.frames), seeds=list(self.seeds), train_frames=self.train_frames, **moved)

    def noise(self) -> Tensor:
        """The rows' starting noise on the CPU (what `x0` holds when built with noise)."""
        return trimmed_noise(self.seeds, self.train_frames, self.x0.shape[-1], self.x0.shape[1])


def trimmed_noise(seeds: list[int], train_frames: int, input_dim: int, length: int) -> Tensor:
    """The first `length` frames of the reference's 360-frame noise per seed, contiguous: the
    loop's states are, and a dynamic compile guards on strides (a strided first state made the
    first step compile again)."""
    return noise_for_seeds(seeds, train_frames, input_dim)[:, :length].contiguous()


def build_batch(
    rows: Sequence[Row],
    *,
    input_dim: int,
    train_frames: int,
    null_ctxt: Tensor,
    null_vtxt: Tensor,
    ctxt_null_feat: bool,
    device: torch.device,
    frame_buckets: Sequence[int] | None = None,
    text_buckets: Sequence[int] | None = None,
    pad_rows_to: int | None = None,
    uncond_all: bool = False,
    draw_noise: bool = True,
) -> Batch:
    """`uncond_all` gives every row an unconditional twin (static shapes for CUDA graphs);
    unguided rows then ignore it and use the conditional output as it is. `draw_noise` False
    leaves `x0` unset (zeros) for a caller that draws `batch.noise()` later, while the device
    is busy with the batch's other inputs."""
    if not rows:
        raise ValueError("a batch needs at least one row")
    rows = list(rows)
    n = len(rows)
    if pad_rows_to is not None and pad_rows_to > n:
        rows = rows + [rows[0]] * (pad_rows_to - n)
    frames = [r.frames for r in rows]
    length = min(bucket_up(max(frames), frame_buckets), train_frames)
    text_len = bucket_up(max(r.ctxt.shape[0] for r in rows), text_buckets)
    dc = rows[0].ctxt.shape[1]
    # the reference draws 360-frame noise per seed; its first L frames are our noise
    seeds = [r.seed for r in rows]
    if draw_noise:
        x0 = trimmed_noise(seeds, train_frames, input_dim, length).to(device)
    else:
        x0 = torch.zeros(len(rows), length, input_dim, device=device)
    ctxt = torch.zeros(len(rows), text_len, dc, device=device)
    for i, r in enumerate(rows):
        ctxt[i, : r.ctxt.shape[0]] = r.ctxt.to(device)
    ctxt_len = torch.tensor([r.ctxt.shape[0] for r in rows], device=device)
    vtxt = torch.stack([r.vtxt.reshape(1, -1) for r in rows]).to(device)
    ctxt_mask = length_mask(ctxt_len, text_len)
    x_mask = length_mask(torch.tensor(frames, device=device), length)
    guided = [i for i, r in enumerate(rows) if uncond_all or r.cfg > 1.0]
    g = torch.tensor(guided, dtype=torch.long, device=device)
    cfg = torch.tensor([rows[i].cfg if rows[i].cfg > 1.0 else 1.0 for i in guided], dtype=torch.float32, device=device).view(-1, 1, 1)
    guided_rows = torch.tensor([r.cfg > 1.0 for r in rows], device=device).view(-1, 1, 1)
    if guided:
        silent = null_ctxt.to(device, torch.float32).expand(len(guided), text_len, dc) if ctxt_null_feat else ctxt[g]
        ctxt = torch.cat([silent, ctxt])
        vtxt = torch.cat([null_vtxt.to(device, torch.float32).expand(len(guided), 1, vtxt.shape[-1]), vtxt])
        ctxt_mask = torch.cat([ctxt_mask[g], ctxt_mask])
        x_mask = torch.cat([x_mask[g], x_mask])
    return Batch(n, x0, ctxt.contiguous(), vtxt.contiguous(), x_mask, ctxt_mask, g, cfg, guided_rows, frames[:n], seeds, train_frames)


Network = Callable[..., Tensor]


def make_step(
    network: Network, batch: Batch, rope: tuple[Tensor, Tensor], attn_mask: Tensor | None, mask_fn=None,
    uncond_all: bool = False, split_mods: Callable[[Tensor], list[Tensor]] | None = None,
    compile_fn: Callable | None = None, input_pad: int = 0, out_dim: int | None = None, input_dtype: torch.dtype | None = None,
    text_kw: str = "refined_text",
):
    """step(x, t0, dt, mod_row=None, text_row=None) -> (x_next, v). Without `attn_mask` the
    mask is rebuilt from the batch's bool masks inside the step. `uncond_all`: every row has a
    twin and `batch.guided_rows` picks where it counts. `mod_row`: this step's row of a
    precomputed modulation table, cut up by `split_mods`; `text_row`: this step's row of a text
    table, passed to the network as keyword `text_kw`: the refined text tokens
    (MotionDiT.refined_text_table) or the fast engine's text keys and values (fast/text_stream.py).
    `compile_fn` compiles the glue around the network (the guided input rows; the cfg mix and
    the Euler update), a few dozen tiny kernels per step otherwise. `input_pad` zero columns go
    on the network input and the network output is cut to `out_dim` columns (the fast engine
    pads the 201-wide projections to aligned widths); `input_dtype`: the network's input dtype,
    cast here so that the cast fuses with the glue."""
    g = batch.guided_index
    n_g = int(g.numel())

    def guided_input(x: Tensor) -> Tensor:
        x_in = torch.cat([x[g], x]) if n_g else x
        x_in = torch.nn.functional.pad(x_in, (0, input_pad)) if input_pad else x_in
        return x_in.to(input_dtype) if input_dtype is not None else x_in

    def guided_update(out: Tensor, x: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
        out = out[..., :out_dim].float() if out_dim is not None else out.float()
        cond = out[n_g:]
        if not n_g:
            v = cond
        else:
            uncond = out[:n_g]
            mixed = uncond + batch.cfg * (cond[g] - uncond)  # the official v_u + cfg (v_c - v_u)
            if uncond_all:
                v = torch.where(batch.guided_rows, mixed, cond)
            else:
                v = cond.index_copy(0, g, mixed)
        return x + dt * v, v

    if compile_fn is not None:
        guided_input, guided_update = compile_fn(guided_input), compile_fn(guided_update)

    def step(x: Tensor, t0: Tensor, dt: Tensor, mod_row: Tensor | None = None, text_row: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x_in = guided_input(x)
        mask = attn_mask if attn_mask is not None else mask_fn(batch.x_mask, batch.ctxt_mask)
        extra = {} if mod_row is None else {"mods": split_mods(mod_row)}
        if text_row is not None:
            extra[text_kw] = text_row
        out = network(x_in, batch.ctxt, batch.vtxt, t0.expand(x_in.shape[0]), batch.x_mask, batch.ctxt_mask, rope=rope, attn_mask=mask, **extra)
        return guided_update(out, x, dt)

    return step


StepHook = Callable[[int, Tensor, Tensor, Tensor], bool]  # (k, t_k, x_k, v_k) -> stop


def euler_step(step, x: Tensor, t0: Tensor, dt: Tensor, t1: Tensor, rows: tuple, project: Projection | None = None) -> tuple[Tensor, Tensor]:
    """(x_next, v): `step` (make_step's) from x at t0 to t1 = t0 + dt with this step's table
    `rows`, and with `project` the new state projected as the reference solver does
    (sampling.euler). t1 is the grid's own point, passed rather than summed (t0 + dt may be an
    ulp off it). Tensor ops only, so a CUDA graph captures it whole (compile/graphs.py)."""
    x_next, v = step(x, t0, dt, *rows)
    if project is not None:
        x_next = project(t1, x_next, predicted_data(x, t0, v))
    return x_next, v


def run_euler(
    step, x0: Tensor, steps: int, on_step: StepHook | None = None, tables: tuple[Tensor | None, ...] = (), project: Projection | None = None,
) -> Tensor:
    """`tables`: per-step inputs precomputed for the loop, (steps, ...) each or None, passed to
    the step in order (the modulations, the refined text; see make_step). `project`: a directed
    take's constraints (model/constraints.projection), applied to each new state exactly as the
    reference solver does (sampling.euler); None runs the plain loop."""
    grid = time_grid(steps, x0.device)
    x = x0
    for k in range(steps):
        t0, t1 = grid[k], grid[k + 1]
        x_next, v = euler_step(step, x, t0, t1 - t0, t1, tuple(None if t is None else t[k] for t in tables), project)
        if on_step is not None and on_step(k + 1, t0, x, v):
            return x_next
        x = x_next
    return x
