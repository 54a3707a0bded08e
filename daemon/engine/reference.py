"""ReferenceEngine: the engine contract on top of the float32 reference pipeline.

Simple and exact: requests run one after the other, each exactly as the official pipeline
would (360-frame latent, one text-encoder row per seed). The fast engine is tested against it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from motionbridge.daemon.model.pipeline import MotionPipeline
from motionbridge.daemon.model.sampling import predicted_data
from motionbridge.daemon.protocol import limits
from motionbridge.daemon.tracks import clips_from_decoded

from .api import Cancelled, Engine, GeneratedTake, GenerationRequest, StepInfo


def validate_request(req: GenerationRequest) -> tuple[GenerationRequest, tuple[str, ...]]:
    """Checked copy of a request plus its warnings; ValueError on bad input."""
    checks = [limits.check_prompt(req.prompt), limits.check_duration(req.duration_s), limits.check_seeds(list(req.seeds)), limits.check_cfg(req.cfg)]
    prompt, duration, seeds, cfg = (c.value for c in checks)
    warnings = tuple(w for c in checks for w in c.warnings)
    return GenerationRequest(prompt, duration, seeds, cfg, bool(req.game_feat), req.request_id), warnings


class ReferenceEngine(Engine):
    def __init__(self, pipeline: MotionPipeline, model_name: str | None = None) -> None:
        self.pipeline = pipeline
        self.model_name = model_name or pipeline.loaded.name
        self.model_hash = pipeline.loaded.sha256[:16]

    @classmethod
    def from_dirs(
        cls, checkpoint_dir, qwen_dir, clip_dir, device: str = "cpu", dtype: str = "float32", llm_dtype: str = "bfloat16"
    ) -> ReferenceEngine:
        """`dtype` is the DiT's (bfloat16 = autocast); the LLM runs in bf16 like the official code
        unless `llm_dtype="float32"`."""
        return cls(MotionPipeline.from_dirs(checkpoint_dir, qwen_dir, clip_dir, device=device, dtype=dtype, llm_dtype=llm_dtype))

    @classmethod
    def from_parity(cls, parity_dir, device: str = "cpu", dtype: str = "float32", llm_dtype: str = "bfloat16") -> ReferenceEngine:
        d = Path(parity_dir)
        te = d / "text_encoders"
        return cls(
            MotionPipeline.from_dirs(d / "model", te / "qwen3", te / "clip", device=device, dtype=dtype, llm_dtype=llm_dtype),
            model_name="parity-fixture",
        )

    def _metadata(self, req: GenerationRequest, seed: int, frames: int, warnings: Sequence[str], timings: dict) -> dict:
        return {
            "prompt": req.prompt,
            "seed": int(seed),
            "cfg": float(req.cfg),
            "duration_s": float(req.duration_s),
            "frames": int(frames),
            "game_feat": bool(req.game_feat),
            "request_id": req.request_id,
            "model": self.model_name,
            "checkpoint_sha256": self.pipeline.loaded.sha256,
            "engine": "reference",
            "device": str(self.pipeline.device),
            "dtype": str(self.pipeline.dtype).removeprefix("torch."),
            "torch_version": torch.__version__,
            "timings": dict(timings),
            "warnings": list(warnings),
        }

    @torch.no_grad()
    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        on_step: Callable[[StepInfo], None] | None = None,
        is_cancelled: Callable[[str], bool] | None = None,
        preview_every: int = 0,
    ) -> list[GeneratedTake]:
        checked = [validate_request(r) for r in requests]  # all or nothing: validate first
        pipe = self.pipeline
        total = pipe.config.pipeline.validation_steps
        takes: list[GeneratedTake] = []
        cancelled = 0
        for index, (req, warnings) in enumerate(checked):
            rid = req.request_id
            pending = tuple(r.request_id for r, _ in checked[index:])
            if is_cancelled is not None and is_cancelled(rid):
                cancelled += 1
                continue
            t0 = time.perf_counter()
            features = pipe.encode_text([req.prompt] * len(req.seeds))
            t_text = time.perf_counter() - t0
            frames = pipe.frames_for(req.duration_s)
            cond = pipe.conditioning(features, frames, req.cfg, req.game_feat)
            stopped = [False]

            def step(k, t_k, x_k, v_k, x_next, rid=rid, frames=frames, req=req, pending=pending, stopped=stopped):
                previews = None
                if preview_every and (k % preview_every == 0 or k == total):
                    guess = predicted_data(x_k, t_k, v_k)[:, :frames]
                    clips = clips_from_decoded(pipe.decode(guess, smooth=False), [{"preview_step": k, "seed": s} for s in req.seeds])
                    previews = {rid: clips}
                if on_step is not None:
                    on_step(StepInfo(k, total, pending, previews))
                if is_cancelled is not None and is_cancelled(rid):
                    stopped[0] = True
                    return True
                return False

            t1 = time.perf_counter()
            latent = pipe.sample(cond, pipe.noise(req.seeds), step)
            if stopped[0]:
                cancelled += 1
                continue
            latent = latent[:, :frames].clone()
            t_sample = time.perf_counter() - t1
            t2 = time.perf_counter()
            decoded = pipe.decode(latent)
            timings = {"text_s": t_text, "sample_s": t_sample, "decode_s": time.perf_counter() - t2}
            all_warnings = tuple(warnings) + tuple(features.warnings)
            metas = [self._metadata(req, s, frames, all_warnings, timings) for s in req.seeds]
            for i, (seed, clip) in enumerate(zip(req.seeds, clips_from_decoded(decoded, metas))):
                takes.append(GeneratedTake(rid, int(seed), clip, latent[i].cpu().numpy(), all_warnings, dict(timings)))
        if requests and cancelled == len(requests):
            raise Cancelled("every request of the batch was cancelled")
        return takes
