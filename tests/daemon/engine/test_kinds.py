"""Engine defaults per device: the fast modes on a GPU, the exact float32 path elsewhere."""

from __future__ import annotations

import pytest

from motionbridge.daemon.engine.fast.config import FastConfig
from motionbridge.daemon.engine.fast.engine import FastEngine
from motionbridge.daemon.engine.kinds import resolve_dtype


@pytest.mark.parametrize(
    ("kind", "device", "dtype", "expected"),
    [
        ("fast", "cuda", "auto", "bfloat16"),
        ("fast", "cuda:1", None, "bfloat16"),
        ("fast", "cpu", "auto", "float32"),
        ("reference", "cuda", "auto", "float32"),  # the reference is the exact port, always
        ("fast", "cuda", "float32", "float32"),  # an explicit choice wins
        ("fast", "cpu", "bfloat16", "bfloat16"),
    ],
)
def test_resolve_dtype(kind, device, dtype, expected):
    assert resolve_dtype(kind, device, dtype) == expected


def test_gpu_default_config_uses_graphs_and_compiled_blocks():
    gpu = FastConfig.for_device("cuda:0")
    assert (gpu.dtype, gpu.cuda_graphs, gpu.compile_blocks, gpu.compile_scope, gpu.compile_dynamic) == ("bfloat16", True, True, "stack", False)
    assert FastConfig.for_device("cuda", "float32").dtype == "float32"  # the exact fast modes
    cpu = FastConfig.for_device("cpu")
    assert (cpu.dtype, cpu.cuda_graphs, cpu.compile_blocks) == ("float32", False, False)


def test_from_parity_without_a_config_takes_the_device_default(parity):
    engine = FastEngine.from_parity(parity, device="cpu")
    assert engine.fast == FastConfig.for_device("cpu")
    assert FastEngine.from_parity(parity, device="cpu", dtype="bfloat16").fast.dtype == "bfloat16"


def test_warm_up_runs_a_request_per_length(parity):
    engine = FastEngine.from_parity(parity, device="cpu").with_steps(2)
    seen = []
    original = engine.generate
    engine.generate = lambda reqs, **kw: seen.extend(r.duration_s for r in reqs) or original(reqs, **kw)
    warmed_text = []
    engine.text.warm_up_graphs = lambda prompt: warmed_text.append(prompt) or []
    assert engine.warm_up(durations=(1.0, 2.0)) > 0
    assert seen == [1.0, 2.0]
    assert warmed_text == ["A person walks forward."]  # each prompt bucket's text graphs, once


@pytest.mark.parametrize("bad", [dict(compile_scope="everything"), dict(compile_mode="turbo"), dict(dtype="float16")])
def test_bad_fast_config_says_what_to_pass(bad):
    with pytest.raises(ValueError, match="pass"):
        FastConfig(**bad)
