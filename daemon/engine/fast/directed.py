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

The engine's loop runs the projection on buffers of the batch's shape (constraint_buffers.py),
so with CUDA graphs it is captured inside the loop's graphs as a plain take's loop is. Padding
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


def fast_directed(engine) -> FastDirected | None:
    """The view directed takes run on when `engine` is a FastEngine, else None."""
    from motionbridge.daemon.engine.fast.engine import FastEngine

    return FastDirected(engine) if isinstance(engine, FastEngine) else None
