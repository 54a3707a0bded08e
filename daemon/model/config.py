"""Hyperparameters of HY-Motion checkpoints, read from the official `config.yml` schema.

The official file has `network_module_args` (the MMDiT) and `train_pipeline_args` (text
encoder, sampler, guidance, frame count...). Keys we do not know are warned about and
ignored; missing required keys or impossible values raise ConfigError naming the file.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """The model's config.yml is missing, unreadable or describes an impossible model."""


@dataclass(frozen=True)
class RefinerConfig:
    num_layers: int = 2  # the class default; the real configs do not set it


@dataclass(frozen=True)
class NetworkConfig:
    input_dim: int
    feat_dim: int
    num_heads: int
    num_layers: int
    ctxt_input_dim: int = 4096
    vtxt_input_dim: int = 256
    output_dim: int | None = None
    mlp_ratio: float = 4.0
    mlp_act_type: str = "gelu_tanh"
    qk_norm_type: str = "rms"
    qkv_bias: bool = True
    dropout: float = 0.0
    mask_mode: str | None = None
    narrowband_length: float = 2.0  # seconds at 30 fps
    apply_rope_to_single_branch: bool = True
    time_factor: float = 1.0
    insert_start_token: bool = False
    with_long_skip_connection: bool = False
    norm_type: str = "layer"
    text_refiner: RefinerConfig = field(default_factory=RefinerConfig)
    final_layer_act: str = "silu"

    @property
    def head_dim(self) -> int:
        return self.feat_dim // self.num_heads

    @property
    def out_dim(self) -> int:
        return self.output_dim or self.input_dim

    @property
    def num_double_blocks(self) -> int:
        return self.num_layers // 3

    @property
    def num_single_blocks(self) -> int:
        return self.num_layers - self.num_layers // 3

    @property
    def mlp_hidden_dim(self) -> int:
        return int(self.feat_dim * self.mlp_ratio)

    @property
    def narrowband_frames(self) -> int:
        return int(round(self.narrowband_length * 30.0))


@dataclass(frozen=True)
class PipelineConfig:
    llm_type: str = "qwen3"
    max_length_llm: int = 128
    solver: str = "euler"
    validation_steps: int = 50
    mean_std_dir: str | None = None
    text_guidance_scale: float = 1.0
    train_frames: int = 360
    output_mesh_fps: int = 30
    enable_special_game_feat: bool = False
    enable_ctxt_null_feat: bool = False
    random_generator_on_gpu: bool = True
    uncondition_mode: bool = False


@dataclass(frozen=True)
class ModelConfig:
    network: NetworkConfig
    pipeline: PipelineConfig
    source: str = "<dict>"


_NETWORK_RENAMES = {"text_refiner_cfg": "text_refiner", "final_layer_cfg": "final_layer_act"}
# keys the official code accepts but that name modules, not hyperparameters
_NETWORK_IGNORED = {"text_refiner_module", "final_layer_module"}
_PIPELINE_KNOWN = {
    "text_encoder_module", "text_encoder_cfg", "noise_scheduler_cfg", "infer_noise_scheduler_cfg",
    "test_cfg", "train_cfg", "losses_cfg", "mean_std_dir", "motion_type",
    "train_frames", "output_mesh_fps", "enable_special_game_feat", "enable_ctxt_null_feat",
    "random_generator_on_gpu", "uncondition_mode",
}


def _warn_unknown(where: str, keys: set[str], source: str) -> None:
    if keys:
        warnings.warn(f"{source}: ignoring unknown {where} keys {sorted(keys)}", stacklevel=3)


def network_config_from_dict(args: Mapping[str, Any], source: str = "<dict>") -> NetworkConfig:
    fields = {f.name for f in dataclasses.fields(NetworkConfig)}
    kwargs: dict[str, Any] = {}
    unknown = set()
    for key, value in args.items():
        name = _NETWORK_RENAMES.get(key, key)
        if key in _NETWORK_IGNORED:
            continue
        if name not in fields:
            unknown.add(key)
            continue
        kwargs[name] = value
    _warn_unknown("network_module_args", unknown, source)
    missing = [k for k in ("input_dim", "feat_dim") if k not in kwargs]
    if missing:
        raise ConfigError(f"{source}: network_module_args lacks {', '.join(missing)}; use the config.yml shipped with the weights")
    refiner = kwargs.get("text_refiner") or {}
    if not isinstance(refiner, Mapping):
        raise ConfigError(f"{source}: text_refiner_cfg must be a mapping, got {refiner!r}")
    extra = set(refiner) - {"num_layers"}
    _warn_unknown("text_refiner_cfg", extra, source)
    kwargs["text_refiner"] = RefinerConfig(**{k: v for k, v in refiner.items() if k == "num_layers"})
    final = kwargs.get("final_layer_act", "silu")
    if isinstance(final, Mapping):
        final = final.get("act_type", "silu")
    kwargs["final_layer_act"] = final
    kwargs.setdefault("num_heads", 16)
    kwargs.setdefault("num_layers", 12)
    try:
        cfg = NetworkConfig(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{source}: bad network_module_args ({exc})") from None
    _check_network(cfg, source)
    return cfg


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_network(cfg: NetworkConfig, source: str) -> None:
    for name in ("input_dim", "feat_dim", "num_heads", "num_layers", "ctxt_input_dim", "vtxt_input_dim"):
        if not _positive_int(getattr(cfg, name)):
            raise ConfigError(f"{source}: network_module_args.{name} must be a positive integer, got {getattr(cfg, name)!r}")
    if cfg.feat_dim % cfg.num_heads or cfg.head_dim % 2:
        raise ConfigError(f"{source}: feat_dim {cfg.feat_dim} must split into {cfg.num_heads} heads of even size")
    if cfg.num_layers % 3:
        raise ConfigError(f"{source}: num_layers must be a multiple of 3 (double + single blocks), got {cfg.num_layers}")
    if not (isinstance(cfg.mlp_ratio, (int, float)) and math.isfinite(cfg.mlp_ratio) and cfg.mlp_ratio > 0):
        raise ConfigError(f"{source}: mlp_ratio must be a positive number, got {cfg.mlp_ratio!r}")
    if not _positive_int(cfg.text_refiner.num_layers):
        raise ConfigError(f"{source}: text_refiner_cfg.num_layers must be a positive integer")
    if cfg.mask_mode not in (None, "narrowband", "causal"):
        raise ConfigError(f"{source}: mask_mode must be narrowband, causal or null, got {cfg.mask_mode!r}")
    if cfg.qk_norm_type not in ("rms", "layer", "none", None):
        raise ConfigError(f"{source}: qk_norm_type must be rms or layer, got {cfg.qk_norm_type!r}")
    if cfg.mlp_act_type not in ("gelu", "gelu_tanh", "relu", "silu"):
        raise ConfigError(f"{source}: unknown mlp_act_type {cfg.mlp_act_type!r}")
    if cfg.insert_start_token or cfg.with_long_skip_connection:
        raise ConfigError(f"{source}: insert_start_token / with_long_skip_connection are not used by HY-Motion 1.0 and not supported")


def pipeline_config_from_dict(args: Mapping[str, Any], source: str = "<dict>") -> PipelineConfig:
    _warn_unknown("train_pipeline_args", set(args) - _PIPELINE_KNOWN, source)
    text = dict(args.get("text_encoder_cfg") or {})
    solver = dict(args.get("noise_scheduler_cfg") or {})
    infer = dict(args.get("infer_noise_scheduler_cfg") or {})
    test = dict(args.get("test_cfg") or {})
    kw: dict[str, Any] = dict(
        llm_type=text.get("llm_type", "qwen3"),
        max_length_llm=text.get("max_length_llm", 512),
        solver=solver.get("method", "euler"),
        validation_steps=infer.get("validation_steps", 50),
        mean_std_dir=args.get("mean_std_dir", test.get("mean_std_dir")),
        text_guidance_scale=test.get("text_guidance_scale", 1.0),
    )
    for key in ("train_frames", "output_mesh_fps", "enable_special_game_feat", "enable_ctxt_null_feat",
                "random_generator_on_gpu", "uncondition_mode"):
        if key in args:
            kw[key] = args[key]
    cfg = PipelineConfig(**kw)
    for name in ("max_length_llm", "validation_steps", "train_frames", "output_mesh_fps"):
        if not _positive_int(getattr(cfg, name)):
            raise ConfigError(f"{source}: {name} must be a positive integer, got {getattr(cfg, name)!r}")
    if cfg.solver != "euler":
        raise ConfigError(f"{source}: only the euler solver is supported, got {cfg.solver!r}")
    if cfg.llm_type != "qwen3":
        raise ConfigError(f"{source}: only llm_type qwen3 is supported, got {cfg.llm_type!r}")
    return cfg


def model_config_from_dict(raw: Mapping[str, Any], source: str = "<dict>") -> ModelConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    for key in ("network_module_args", "train_pipeline_args"):
        if not isinstance(raw.get(key), Mapping):
            raise ConfigError(f"{source}: missing '{key}'; use the config.yml shipped with the weights")
    _warn_unknown("top-level", set(raw) - {"network_module", "network_module_args", "train_pipeline", "train_pipeline_args"}, source)
    return ModelConfig(
        network=network_config_from_dict(raw["network_module_args"], source),
        pipeline=pipeline_config_from_dict(raw["train_pipeline_args"], source),
        source=source,
    )


def load_config(path: str | Path) -> ModelConfig:
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config.yml not found; run `motionbridge weights download`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return model_config_from_dict(raw, str(path))
