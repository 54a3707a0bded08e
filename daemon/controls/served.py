"""Directed takes in the daemon's worker: the same code the in-process CLI runs
(generate.py, extend.py) on the float32 reference pipeline of the weights the worker loaded.

A reference engine is used as it is. A fast engine gets a reference view over its own loaded
model and text encoders (no second copy of the weights): its `model` is the checkpoint as
loaded, in float32 (the fast engine casts or compiles a copy of the DiT, never the original),
and its text encoders are wrapped by `TextEncoder.from_modules`. So a directed take is the
same bytes in-process and through a daemon on the same device. The fast engine's own sampler
has no constraint hook: directed takes never run on it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from pathlib import Path

from motionbridge.daemon.engine.api import Cancelled, GeneratedTake, GenerationRequest, StepInfo

from .spec import Controls

_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # fast engine -> its reference view, built once


def reference_engine(engine):
    """The engine directed takes run on: `engine` itself when it is a reference engine, else
    a reference view over a fast engine's weights. ValueError when there is none."""
    if hasattr(engine, "pipeline"):
        return engine
    view = _views.get(engine)
    if view is None:
        view = _views[engine] = _reference_view(engine)
    return view


def _reference_view(engine):
    import torch

    from motionbridge.daemon.engine.reference import ReferenceEngine
    from motionbridge.daemon.model.loading import LoadedModel
    from motionbridge.daemon.model.pipeline import MotionPipeline
    from motionbridge.daemon.model.text_encoder import TextEncoder

    model, text = getattr(engine, "model", None), getattr(engine, "text", None)
    if model is None or text is None or not hasattr(engine, "checkpoint_sha256"):
        raise ValueError(f"this daemon's engine ({type(engine).__name__}) cannot run directed takes; serve the HY-Motion weights")
    if getattr(text, "streamer", None) is not None:
        raise ValueError("directed takes need the text encoders on the device; this daemon streams Qwen from CPU memory (low_vram)")
    if next(model.parameters()).dtype != torch.float32:
        raise ValueError("directed takes run on the float32 reference path; this daemon's weights are not float32")
    te = TextEncoder.from_modules(text.llm_tokenizer, text.llm, text.clip_tokenizer, text.clip, text.max_length, text.device)
    loaded = LoadedModel(model, engine.config, Path(), engine.checkpoint_sha256, engine.model_name)
    return ReferenceEngine(MotionPipeline(loaded, te, engine.device, torch.float32), model_name=engine.model_name)


def generate_directed(
    engine, request: GenerationRequest, controls: Controls,
    on_step: Callable[[StepInfo], None] | None = None, is_cancelled: Callable[[str], bool] | None = None,
) -> list[GeneratedTake]:
    """One directed request, as `motionbridge generate` runs it in-process; raises Cancelled
    at the next Euler step once `is_cancelled` says so."""
    import torch

    from .extend import generate_extended
    from .generate import generate

    def step(info: StepInfo) -> None:
        if on_step is not None:
            on_step(info)
        if is_cancelled is not None and is_cancelled(request.request_id):
            raise Cancelled(f"request {request.request_id} was cancelled")

    ref = reference_engine(engine)
    with torch.no_grad():
        if controls.timeline:
            return generate_extended(ref, request, controls.extend_frames, controls.timeline, step)
        return generate(ref, request, controls, on_step=step)
