"""Text -> latent -> decoded motion: the float32 reference path, identical to the official.

The latent always spans `train_frames` (360); frames past the requested length are masked
and cropped after sampling, exactly as the official pipeline does (no trimming here: the
fast engine does that and is tested against this path).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from . import sampling
from .decode import BodyModel, DecodedMotion, decode_latent
from .loading import LoadedModel, WeightsError, load_model
from .text_encoder import TextEncoder, TextFeatures

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def parse_dtype(name: str | torch.dtype) -> torch.dtype:
    if isinstance(name, torch.dtype):
        return name
    if name not in DTYPES:
        raise ValueError(f"unknown dtype {name!r}; pass one of {', '.join(DTYPES)}")
    return DTYPES[name]


@dataclass
class GenerationOutput:
    latent: Tensor  # (B, L, input_dim) final Euler state, cropped to L
    decoded: DecodedMotion
    features: TextFeatures
    frames: int
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)


class MotionPipeline:
    def __init__(
        self,
        loaded: LoadedModel,
        text_encoder: TextEncoder | None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.config = loaded.config
        self.text_encoder = text_encoder
        self.device = torch.device(device)
        self.dtype = dtype
        self.body = BodyModel(device=self.device)  # decode stays on the device
        net = self.config.network
        if text_encoder is not None and (text_encoder.ctxt_dim, text_encoder.vtxt_dim) != (net.ctxt_input_dim, net.vtxt_input_dim):
            raise WeightsError(
                f"text encoders give ctxt {text_encoder.ctxt_dim} / vtxt {text_encoder.vtxt_dim} features but "
                f"{loaded.config.source} expects {net.ctxt_input_dim} / {net.vtxt_input_dim}; pass the matching --qwen/--clip"
            )

    @classmethod
    def from_dirs(
        cls,
        checkpoint_dir: str | Path,
        qwen_dir: str | Path | None,
        clip_dir: str | Path | None,
        device: str = "cpu",
        dtype: str | torch.dtype = "float32",
        llm_dtype: str | torch.dtype = "bfloat16",
    ) -> MotionPipeline:
        loaded = load_model(checkpoint_dir, device=device)
        text = None
        if qwen_dir is not None and clip_dir is not None:
            text = TextEncoder(qwen_dir, clip_dir, loaded.config.pipeline.max_length_llm, device, parse_dtype(llm_dtype))
        return cls(loaded, text, device, parse_dtype(dtype))

    # -- stages -----------------------------------------------------------------------------

    def encode_text(self, prompts: Sequence[str]) -> TextFeatures:
        if self.text_encoder is None:
            raise WeightsError("this pipeline was built without text encoders; pass qwen_dir and clip_dir")
        return self.text_encoder.encode(prompts)

    def frames_for(self, duration_s: float) -> int:
        p = self.config.pipeline
        return sampling.num_frames(duration_s, p.output_mesh_fps, p.train_frames)

    def noise(self, seeds: Sequence[int]) -> Tensor:
        return sampling.noise_for_seeds(seeds, self.config.pipeline.train_frames, self.config.network.input_dim, self.device)

    def conditioning(self, features: TextFeatures, frames: int, cfg: float, game_feat: bool = False) -> sampling.Conditioning:
        p = self.config.pipeline
        game = self.model.special_game_vtxt_feat if (game_feat and p.enable_special_game_feat) else None
        return sampling.build_conditioning(
            features.vtxt.to(self.device), features.ctxt.to(self.device), features.ctxt_length.to(self.device),
            frames, p.train_frames, cfg, self.model.null_vtxt_feat, self.model.null_ctxt_input,
            ctxt_null_feat=p.enable_ctxt_null_feat, game_vtxt=game,
        )

    def network(self, x: Tensor, ctxt: Tensor, vtxt: Tensor, t: Tensor, x_mask: Tensor, ctxt_mask: Tensor, **kw) -> Tensor:
        """The DiT; bfloat16 runs under autocast (weights stay float32, the ODE state too)."""
        ctx = (
            torch.autocast(self.device.type, dtype=self.dtype) if self.dtype != torch.float32 else contextlib.nullcontext()
        )
        with ctx:
            out = self.model.motion_transformer(x, ctxt, vtxt, t, x_mask, ctxt_mask, **kw)
        return out.float()

    def velocity(self, cond: sampling.Conditioning) -> sampling.Velocity:
        # rotary tables and the attention mask do not change between steps: build them once
        dit = self.model.motion_transformer
        rope = dit.rope(cond.x_mask.shape[1], cond.ctxt_mask.shape[1], None, self.device)
        mask = dit.mask(cond.x_mask, cond.ctxt_mask)
        return sampling.guided_velocity(self.network, cond, rope=rope, attn_mask=mask)

    @torch.no_grad()
    def sample(
        self, cond: sampling.Conditioning, y0: Tensor, on_step: sampling.StepCallback | None = None,
        project: sampling.Projection | None = None,
    ) -> Tensor:
        grid = sampling.time_grid(self.config.pipeline.validation_steps, self.device)
        return sampling.euler(self.velocity(cond), y0, grid, on_step, project)

    @torch.no_grad()
    def decode(self, latent: Tensor, smooth: bool = True) -> DecodedMotion:
        mean, std = self.model.get_buffer("mean"), self.model.get_buffer("std")
        return decode_latent(latent.float(), mean, std, self.body, smooth=smooth)

    # -- all together -----------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        prompt: str,
        seeds: Sequence[int],
        duration_s: float,
        cfg: float | None = None,
        game_feat: bool = False,
        on_step: sampling.StepCallback | None = None,
    ) -> GenerationOutput:
        timings = {}
        t0 = time.perf_counter()
        cfg = self.config.pipeline.text_guidance_scale if cfg is None else cfg
        features = self.encode_text([prompt] * len(seeds))  # the official code encodes one row per seed
        timings["text_s"] = time.perf_counter() - t0
        frames = self.frames_for(duration_s)
        cond = self.conditioning(features, frames, cfg, game_feat)
        t1 = time.perf_counter()
        latent = self.sample(cond, self.noise(seeds), on_step)[:, :frames].clone()
        timings["sample_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        decoded = self.decode(latent)
        timings["decode_s"] = time.perf_counter() - t2
        return GenerationOutput(latent, decoded, features, frames, features.warnings, timings)
