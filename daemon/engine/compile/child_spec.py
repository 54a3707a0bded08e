"""The compile child's spec: what the parent (compile/child_job.py) sends on the child's stdin
and how the child (compile/child.py) reads it back. Its own module, importing only the config
dataclasses, so the engine can build a spec without importing the child's entry point.
"""

from __future__ import annotations

import dataclasses
import os

ENV_KEYS = ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")  # where the compiled code lands


def spec_for(model_config, fast, device: str, shape: dict[str, int], compile_with: str | None) -> dict:
    """The child's spec (JSON-ready) for one shape of an engine with these configs."""
    return {
        "model_config": dataclasses.asdict(model_config), "fast_config": dataclasses.asdict(fast), "device": device,
        "shape": dict(shape), "compile_with": compile_with, "parent_pid": os.getpid(),
        "env": {k: os.environ[k] for k in ENV_KEYS if k in os.environ},
    }


def configs_from_spec(spec: dict):
    """(ModelConfig, FastConfig) exactly as the parent had them (JSON turned tuples into lists)."""
    from motionbridge.daemon.engine.fast.config import FastConfig
    from motionbridge.daemon.model.config import ModelConfig, NetworkConfig, PipelineConfig, RefinerConfig

    m = spec["model_config"]
    network = dict(m["network"], text_refiner=RefinerConfig(**m["network"]["text_refiner"]))
    model_config = ModelConfig(NetworkConfig(**network), PipelineConfig(**m["pipeline"]), m["source"])
    fast = FastConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec["fast_config"].items()})
    return model_config, fast
