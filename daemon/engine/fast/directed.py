"""Directed takes on the fast engine: the controls' own code over the fast engine's Euler loop.

Directed takes are made by `daemon/controls/generate.py` (and `extend.py` on top of it), which
drive an engine (`pipeline`, `_metadata`) and its pipeline's stages as the float32 reference
`MotionPipeline` names them: `encode_text`, `frames_for`, `noise`, `conditioning`, `sample`,
`model`, `body`, `config`, `device`. `FastDirected` gives them those stages over a FastEngine:
the text from the engine's cache, and `sample` runs the engine's own loop (trimmed rows, its
dtype and network path, one seed per call when batch-invariant) with the constraints' per-step
projection (`model/constraints.projection`, built by generate.sample) applied after every
step (`sampler.euler_step`), as the reference solver applies it. One method, one home: this
module imposes nothing itself.

The loop runs the projection on `ConstraintBuffers`: the same constraints, their known values
and mask copied into buffers of the batch's latent length (zero and unmasked past the window,
which `torch.where` leaves bit for bit as the state). So with CUDA graphs the projection is
captured inside the loop's graphs, keyed apart from plain takes' graphs of the same shape
(`graph_key`: a loop's period is part of the captured code), and each run copies its take's
constraints into the buffers before the replay; on the CPU the same code runs eagerly. Padding
frames of static buckets lie after the latent window the constraints cover and are masked
keys for the valid frames, padding rows are dropped: neither reaches a constrained frame.
The take is decoded by the reference decoder (generate.decode_directed keeps pinned frames
out of the smoothing), and its metadata says `"engine": "fast"` with the engine's dtype.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from motionbridge.daemon.engine.fast.sampler import Row
from motionbridge.daemon.engine.fast.takes import _metadata
from motionbridge.daemon.engine.text.cache import CachedText
from motionbridge.daemon.model import constraints as C
from motionbridge.daemon.model import sampling
from motionbridge.daemon.model.decode import BodyModel
from motionbridge.daemon.model.encode import LATENT_DIM

_bodies: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> the reference decoder's body on its device


@dataclass(frozen=True)
class Text:
    """The encoded prompts, one per seed (what the stage `encode_text` returns)."""

    rows: tuple[CachedText, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Conditioning:
    """What the stage `conditioning` returns: the network inputs of every row are built by
    the engine's own batching (sampler.build_batch) when the loop runs."""

    text: Text
    frames: int  # latent frames sampled
    cfg: float
    game_feat: bool


class FastDirected:
    """A FastEngine seen as the engine `controls.generate` drives. Made per directed request
    (`noise` remembers the seeds, which the engine's batches draw their noise from)."""

    def __init__(self, engine) -> None:
        if engine.sticky_error:
            raise RuntimeError(f"engine is unhealthy after a device error ({engine.sticky_error}); restart it")
        self.engine = engine
        self.pipeline = self  # generate.py reaches the stages through `engine.pipeline`
        self.config = engine.config
        self.model = engine.model
        self.device = engine.device
        self._seeds: tuple[int, ...] = ()
        # the seeds' rows (indices) the loop is sampling now: one seed at a time when batch-
        # invariant, so on_step's x_k holds those rows only (controls/previews.py reads it)
        self.sampling_rows: tuple[int, ...] = ()

    @property
    def body(self) -> BodyModel:
        body = _bodies.get(self.engine)
        if body is None:
            body = _bodies[self.engine] = BodyModel(device=self.device)
        return body

    def _metadata(self, req, seed: int, frames: int, warnings, timings) -> dict:
        return _metadata(self.engine, req, seed, frames, warnings, timings)

    # -- the pipeline stages generate.sample calls -------------------------------------------

    def encode_text(self, prompts: Sequence[str]) -> Text:
        feats = self.engine.text_features(list(dict.fromkeys(prompts)))
        warnings = tuple(dict.fromkeys(w for p in prompts for w in feats[p].warnings))
        return Text(tuple(feats[p] for p in prompts), warnings)

    def frames_for(self, duration_s: float) -> int:
        p = self.config.pipeline
        return sampling.num_frames(duration_s, p.output_mesh_fps, p.train_frames)

    def noise(self, seeds: Sequence[int]) -> Tensor:
        """The seeds' noise as the reference draws it, left on the CPU: `sample` only checks its
        rows, the engine's batches draw each row's again from its seed (sampler.build_batch)."""
        self._seeds = tuple(int(s) for s in seeds)
        return sampling.noise_for_seeds(self._seeds, self.config.pipeline.train_frames, self.config.network.input_dim)

    def conditioning(self, features: Text, frames: int, cfg: float, game_feat: bool = False) -> Conditioning:
        return Conditioning(features, frames, float(cfg), bool(game_feat))

    def velocity(self, cond: Conditioning):
        raise NotImplementedError("reconstruction guidance (controls.generate.GUIDANCE) runs on the reference engine only")

    @torch.no_grad()
    def sample(self, cond: Conditioning, y0: Tensor, on_step: sampling.StepCallback | None = None,
               project: sampling.Projection | None = None) -> Tensor:
        """(B, cond.frames, 201) on the engine's device: the engine's loop from the seeds' noise,
        with `project` (constraints.projection's) after every step. on_step is called after
        every step, or every graph segment of a captured loop, with x_next None: the projected
        state stays in the loop's buffers (controls/generate.py reads x_k and v_k only)."""
        engine, p = self.engine, self.config.pipeline
        if len(self._seeds) != y0.shape[0] or len(cond.text.rows) != y0.shape[0]:
            raise ValueError(f"{y0.shape[0]} noise rows for {len(self._seeds)} seeds and {len(cond.text.rows)} prompts")
        game = engine.model.special_game_vtxt_feat.detach().float().reshape(1, -1)
        rows = []
        for j, (seed, feat) in enumerate(zip(self._seeds, cond.text.rows)):
            vtxt = feat.vtxt.reshape(1, -1).float()
            if cond.game_feat and p.enable_special_game_feat:
                vtxt = vtxt + game.to(vtxt)
            rows.append(Row(seed, cond.frames, cond.cfg, feat.ctxt, vtxt, (0, j)))
        if project is not None and not isinstance(project, C.ConstraintProjection):
            raise TypeError(f"the fast engine imposes constraints.projection's constraints, not {type(project).__name__}")

        def hook_for(chunk):
            if on_step is None:
                return None
            self.sampling_rows = tuple(r.key[1] for r in chunk)
            return lambda k, t_k, x_k, v_k: bool(on_step(k, t_k, x_k, v_k, None))

        per_call = 1 if engine.fast.batch_invariant else engine.fast.max_rows
        latents: list[Tensor] = []
        for start in range(0, len(rows), per_call):
            latents += engine._sample_split(rows[start : start + per_call], hook_for, project=project)
        return torch.stack(latents)


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


def fast_directed(engine) -> FastDirected | None:
    """The view directed takes run on when `engine` is a FastEngine, else None."""
    from motionbridge.daemon.engine.fast.engine import FastEngine

    return FastDirected(engine) if isinstance(engine, FastEngine) else None
