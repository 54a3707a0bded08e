"""The compile child's spec (compile/child.py): the parent's ModelConfig and FastConfig come
back exactly as they were after the trip through JSON."""

from __future__ import annotations

import dataclasses
import json

from motionbridge.daemon.bench.random_models import model_config
from motionbridge.daemon.engine.compile.child_spec import configs_from_spec, spec_for
from motionbridge.daemon.engine.fast.config import FastConfig


def test_the_spec_round_trips_the_configs_exactly():
    for name, fast in (("1.0", FastConfig.for_device("cuda")), ("lite", FastConfig(text_cache_dir="/x", compile_dynamic=None)),
                       ("tiny-random", FastConfig(frame_buckets=(30, 90), compile_child_timeout_s=7.5, compile_in_child=True))):
        cfg = model_config(name)
        cfg = dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, validation_steps=7))
        shape = {"frames": 90, "text_tokens": 16, "rows": 2}
        spec = json.loads(json.dumps(spec_for(cfg, fast, "cuda:1", shape, "m:f")))
        got_cfg, got_fast = configs_from_spec(spec)
        assert got_cfg == cfg and got_fast == fast, name
        assert spec["device"] == "cuda:1" and spec["shape"] == shape and spec["compile_with"] == "m:f"
