"""Random-weight models of the real shapes, for benchmarking where the weights are absent.

Built directly on the target device (no CPU init, no copy) with `normal_(std=0.02)`-style
initialisation; the tokenizers are the parity fixture's tiny ones (ids stay below the real
vocabulary, which is all timing needs).
"""

from __future__ import annotations

from pathlib import Path

import torch

from motionbridge.daemon.model.config import ModelConfig, network_config_from_dict, pipeline_config_from_dict
from motionbridge.daemon.model.random_weights import default_dtype as _default_dtype
from motionbridge.daemon.model.random_weights import random_flow_model

# network_module_args of the published checkpoints (see the parity fixture's state_dict_keys.json)
NETWORKS = {
    "1.0": dict(feat_dim=1280, num_heads=20, num_layers=27),
    "lite": dict(feat_dim=1024, num_heads=16, num_layers=18),
}
COMMON = dict(
    input_dim=201, ctxt_input_dim=4096, vtxt_input_dim=768, mlp_ratio=4.0, mask_mode="narrowband",
    apply_rope_to_single_branch=False, time_factor=1000.0, dropout=0.0, text_refiner_cfg={"num_layers": 2},
)
PIPELINE = dict(
    text_encoder_cfg={"llm_type": "qwen3", "max_length_llm": 128}, noise_scheduler_cfg={"method": "euler"},
    infer_noise_scheduler_cfg={"validation_steps": 50}, test_cfg={"text_guidance_scale": 5.0},
    train_frames=360, output_mesh_fps=30, enable_special_game_feat=True, enable_ctxt_null_feat=True,
)
QWEN3_8B = dict(
    hidden_size=4096, num_hidden_layers=36, num_attention_heads=32, num_key_value_heads=8, head_dim=128,
    intermediate_size=12288, vocab_size=151936, rms_norm_eps=1e-6, rope_theta=1000000.0, max_position_embeddings=40960,
)
CLIP_L = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, max_position_embeddings=77, vocab_size=49408)


TINY_RANDOM = {
    "network": dict(feat_dim=64, num_heads=4, num_layers=6, ctxt_input_dim=64, vtxt_input_dim=32),
    "qwen": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16, intermediate_size=128, vocab_size=2176),
    "clip": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128),
}


def model_config(name: str) -> ModelConfig:
    """'1.0', 'lite', or 'tiny-random' (CPU smoke test of the random-weight path)."""
    if name == "tiny-random":
        args = {**COMMON, **TINY_RANDOM["network"], "text_refiner_cfg": {"num_layers": 1}}
    elif name in NETWORKS:
        args = {**COMMON, **NETWORKS[name]}
    else:
        raise ValueError(f"unknown model {name!r}; pass one of {', '.join(NETWORKS)}")
    net = network_config_from_dict(args, f"random:{name}")
    return ModelConfig(network=net, pipeline=pipeline_config_from_dict(PIPELINE, f"random:{name}"), source=f"random:{name}")


@torch.no_grad()
def random_qwen3(device: str, dtype: torch.dtype = torch.bfloat16, overrides: dict | None = None):
    from transformers import Qwen3Config, Qwen3Model

    cfg = Qwen3Config(**{**QWEN3_8B, **(overrides or {})})
    cfg._attn_implementation = "sdpa"
    with torch.device(device), _default_dtype(dtype):
        model = Qwen3Model(cfg)
    return model.eval().requires_grad_(False)


@torch.no_grad()
def random_clip(device: str, dtype: torch.dtype = torch.bfloat16, overrides: dict | None = None):
    from transformers import CLIPTextConfig, CLIPTextModel

    cfg = CLIPTextConfig(**{**CLIP_L, **(overrides or {})}, eos_token_id=2, bos_token_id=0, pad_token_id=1)
    cfg._attn_implementation = "sdpa"
    with torch.device(device), _default_dtype(dtype):
        model = CLIPTextModel(cfg)
    return model.eval().requires_grad_(False)


def fixture_tokenizers(parity_dir: str | Path):
    from transformers import AutoTokenizer, CLIPTokenizer

    d = Path(parity_dir) / "text_encoders"
    return AutoTokenizer.from_pretrained(d / "qwen3", local_files_only=True), CLIPTokenizer.from_pretrained(d / "clip", local_files_only=True)


def tiny_random_engine(device: str = "cpu", steps: int = 3, prompts: tuple[str, ...] = ("A person walks.", "A person jumps."),
                       compile_with=None, **fast):
    """A tiny random engine whose text cache holds fixed random features for `prompts` (no
    text encoder): the same weights and features in every process. For tests and workers.
    `compile_with`: see FastEngine."""
    import dataclasses

    from motionbridge.daemon.engine.fast.config import FastConfig
    from motionbridge.daemon.engine.fast.engine import FastEngine
    from motionbridge.daemon.engine.text.cache import CachedText

    cfg = model_config("tiny-random")
    cfg = dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, validation_steps=steps))
    engine = FastEngine(random_flow_model(cfg, device), cfg, None, FastConfig(**fast), device=device, model_name="tiny-random", compile_with=compile_with)
    gen = torch.Generator().manual_seed(5)
    for i, p in enumerate(prompts):
        engine.cache.put(p, CachedText(torch.randn(4 + 3 * i, 64, generator=gen), torch.randn(1, 32, generator=gen)))
    return engine


def random_engine(device: str = "cuda:0", model: str = "1.0", prompts: tuple[str, ...] = ("A person walks forward.",), seed: int = 0, **fast):
    """A real-shape random engine with fixed random text features for `prompts` (the text
    encoders are timed separately): the worker factory of the multi-GPU scaling run."""
    from motionbridge.daemon.engine.fast.config import FastConfig
    from motionbridge.daemon.engine.fast.engine import FastEngine
    from motionbridge.daemon.engine.text.cache import CachedText

    cfg = model_config(model)
    engine = FastEngine(random_flow_model(cfg, device, seed=seed), cfg, None, FastConfig(**fast), device=device, model_name=f"random-{model}")
    gen = torch.Generator().manual_seed(seed + 1)
    for p in prompts:
        engine.cache.put(p, CachedText(torch.randn(14, cfg.network.ctxt_input_dim, generator=gen), torch.randn(1, cfg.network.vtxt_input_dim, generator=gen)))
    return engine


def _option(text: str, annotation, default):
    """An engine option's string as its FastConfig field's type: bools from 1/true/yes, tuples
    (the buckets) from comma lists of ints, None from 'none' where the field allows it."""
    if "None" in str(annotation) and text.lower() == "none":
        return None
    if "bool" in str(annotation):
        return text.lower() in ("1", "true", "yes")
    if isinstance(default, tuple):
        return tuple(int(x) for x in text.split(",") if x.strip())
    return type(default)(text)


def random_text_engine(device: str = "cuda", model: str = "1.0", parity: str | None = None, steps: str | int | None = None, **fast):
    """A real-shape random engine with random real-shape text encoders (Qwen3-8B, CLIP-L; the
    parity fixture's tokenizers), so that every prompt is encoded as in production: the engine
    that `motionbridge bench --scenario daemon-mixed` serves (`serve --engine-factory`). `model`
    '1.0', 'lite' or 'tiny-random' (its tiny encoders; CPU tests). `fast`: FastConfig fields
    as strings (engine options) over FastConfig.for_device; `steps`: fewer Euler steps (tests)."""
    import dataclasses
    import os

    from motionbridge.daemon.engine.fast.config import FastConfig
    from motionbridge.daemon.engine.fast.engine import FastEngine
    from motionbridge.daemon.engine.text.encoder import FastTextEncoder

    base = FastConfig.for_device(device)
    types = {f.name: f.type for f in dataclasses.fields(FastConfig)}
    parsed = {k: _option(v, types[k], getattr(base, k)) if isinstance(v, str) else v for k, v in fast.items()}
    config = dataclasses.replace(base, **parsed)
    parity = parity or os.environ.get("MOTIONBRIDGE_PARITY_DIR") or str(Path(__file__).resolve().parents[2].parent / "shared" / "parity")
    tiny = model == "tiny-random"
    tok_llm, tok_clip = fixture_tokenizers(parity)
    torch.manual_seed(0)  # the same encoders in every process: a take is the same in-process and served
    qwen = random_qwen3(device, torch.bfloat16, TINY_RANDOM["qwen"] if tiny else None)
    clip = random_clip(device, torch.bfloat16, TINY_RANDOM["clip"] if tiny else None)
    text = FastTextEncoder(tok_llm, qwen, tok_clip, clip, device=torch.device(device), encoder_id=f"random-{model}",
                           static_graphs=config.cuda_graphs)
    cfg = model_config(model)
    if steps is not None:
        cfg = dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, validation_steps=int(steps)))
    return FastEngine(random_flow_model(cfg, device), cfg, text, config, device=device, model_name=f"random-{model}")
