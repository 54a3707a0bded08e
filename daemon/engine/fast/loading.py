"""The parts a FastEngine is built from, loaded from the official folder layouts: the
checkpoint (config.yml + weights), Qwen3 and CLIP (FastEngine.from_dirs)."""

from __future__ import annotations

import dataclasses

import torch

from motionbridge.daemon.engine.fast.config import FastConfig
from motionbridge.daemon.engine.text.encoder import FastTextEncoder, encoder_identity


def load_parts(checkpoint_dir, qwen_dir, clip_dir, fast: FastConfig | None, device: str, memory: str, llm_dtype: str,
               dtype: str | None, low_vram_text: str):
    """(the loaded model, its FastTextEncoder, the FastConfig to use); see FastEngine.from_dirs."""
    if fast is None:
        fast = FastConfig.for_device(device, dtype)
    elif dtype is not None:
        fast = dataclasses.replace(fast, dtype=dtype)
    from motionbridge.daemon.model.loading import load_model
    from motionbridge.daemon.model.pipeline import parse_dtype
    from motionbridge.daemon.model.text_encoder import TextEncoder

    if memory not in ("resident", "low_vram"):
        raise ValueError(f"unknown memory mode {memory!r}; pass 'resident' or 'low_vram'")
    loaded = load_model(checkpoint_dir, device=device)
    te = TextEncoder(qwen_dir, clip_dir, loaded.config.pipeline.max_length_llm, "cpu" if memory == "low_vram" else device, parse_dtype(llm_dtype))
    # static-shape text encoders (CUDA graphs on the GPU) go with the DiT's graphs
    text = FastTextEncoder.from_text_encoder(
        te, encoder_identity(qwen_dir, clip_dir), device=device, low_vram=memory == "low_vram", low_vram_text=low_vram_text,
        static_graphs=fast.cuda_graphs and torch.device(device).type == "cuda",
    )
    return loaded, text, fast
