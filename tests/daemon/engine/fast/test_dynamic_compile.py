"""The dynamic-shape compile (FastConfig.compile_dynamic): once a request of one seed and one of
two seeds have run, requests of new lengths, prompt lengths and seed counts run on the code
already compiled, with no recompile. That is what lets a new shape take the compiled path at
once; on a GPU a recompile inside a graph capture also invalidates the capture. Dynamo's guards
are the same whatever the backend, so a counting backend stands in for Inductor here (the
Inductor-specific guards show on a GPU only: bench/compile_probe.py `dynamic_blocks`)."""

from __future__ import annotations

import pytest
import torch

from motionbridge.daemon.bench.random_models import tiny_random_engine
from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.fast.config import FastConfig
from motionbridge.daemon.engine.fast.device_tables import compile_blocks

PROMPTS = tuple(f"prompt {i}" for i in range(12))  # fixed random features of 4 + 3 i tokens


@pytest.fixture(scope="module")
def dynamic_engine():
    compiled: list = []

    def counting(gm, example_inputs):
        compiled.append(gm)
        return gm.forward

    import torch.fx.experimental._config as fx_config

    duck = fx_config.use_duck_shape
    torch._dynamo.reset()
    engine = tiny_random_engine("cpu", 3, prompts=PROMPTS, compile_with=lambda f: torch.compile(f, dynamic=True, backend=counting),
                                buckets=True, compile_blocks=True, compile_scope="blocks", compile_dynamic=True)
    yield engine, compiled
    torch._dynamo.reset()
    fx_config.use_duck_shape = duck  # the engine turns it off for the whole process


def run(engine, duration_s: float, prompt: str, seeds: int) -> None:
    engine.generate([GenerationRequest(prompt, duration_s, tuple(range(seeds)), 5.0, request_id="r")])


def test_new_shapes_after_the_two_warm_ups_compile_nothing(dynamic_engine):
    engine, compiled = dynamic_engine
    run(engine, 1.0, PROMPTS[0], 1)
    run(engine, 2.0, PROMPTS[11], 2)  # a longer prompt's bucket, two seeds
    assert compiled, "the backend never ran: nothing was compiled"
    after_warm_up = len(compiled)
    for duration_s, prompt, seeds in [(1.5, 3, 1), (3.0, 7, 3), (0.7, 1, 4), (2.5, 10, 1), (1.2, 5, 2), (3.5, 2, 1)]:
        run(engine, duration_s, PROMPTS[prompt], seeds)
    assert len(compiled) == after_warm_up


def test_a_dynamic_compile_drops_duck_sizing():
    """Two sizes equal on the first shape (on the 1.0B a storage offset and a width, both 7680)
    must not be guarded equal: the next shape would recompile (seen on an H100)."""
    import torch.fx.experimental._config as fx_config

    from motionbridge.daemon.bench.random_models import model_config, random_flow_model

    before = fx_config.use_duck_shape
    try:
        fx_config.use_duck_shape = True
        dit = random_flow_model(model_config("tiny-random"), "cpu").motion_transformer
        compile_blocks(dit, dynamic=False, compile_fn=lambda f: f)
        assert fx_config.use_duck_shape is True  # static compiles keep torch's default
        compile_blocks(dit, dynamic=True, compile_fn=lambda f: f)
        assert fx_config.use_duck_shape is False
    finally:
        fx_config.use_duck_shape = before


def test_after_the_warm_up_new_shapes_wait_for_no_compile_and_run_compiled():
    """serve's warm-up with a dynamic compile (engine.warm_up, FastConfig.code_variants):
    afterwards a request of a new shape queues its job, which only runs code already compiled,
    waits for it (compile_wait_ms) and takes the compiled path; nothing compiles again."""
    compiled: list = []

    def counting(gm, example_inputs):
        compiled.append(gm)
        return gm.forward

    torch._dynamo.reset()
    engine = tiny_random_engine("cpu", 3, prompts=PROMPTS, compile_with=lambda f: torch.compile(f, dynamic=True, backend=counting),
                                buckets=True, compile_blocks=True, compile_scope="blocks", compile_dynamic=True,
                                background_compile=True, compile_wait_ms=120_000)
    try:
        engine.warm_up(PROMPTS[0], durations=(2.0,))  # 64 frames: the tiny model's width, which the variants skip
        # the code variants (the tiny model's text buckets 16, 32, 64 are all fixed sizes: one
        # row and the longest bucket is one shape), then the warm-up request's own shape
        assert len(engine.compiler._states) == 4 and compiled
        after_warm_up = len(compiled)
        for duration_s, prompt, seeds in [(2.5, 3, 1), (3.0, 7, 3), (0.7, 11, 4)]:  # none of them a warm-up shape
            stages: list = []
            engine.generate([GenerationRequest(PROMPTS[prompt], duration_s, tuple(range(seeds)), 5.0, request_id="r")],
                            on_step=lambda info, stages=stages: stages.append(info.stage))
            assert engine.choice.path == "compiled" and set(stages) == {""}, stages
        assert len(compiled) == after_warm_up and len(engine.compiler._states) == 7
    finally:
        engine.close()
        torch._dynamo.reset()


def test_a_new_shape_of_a_compiled_variant_runs_compiled_with_no_job_and_no_wait():
    """Without compile_wait_ms, a new shape whose code variant is compiled runs that code at
    once: no job is queued for it and it never takes the uncompiled path; a shape of a variant
    not compiled yet still does, while its job compiles."""
    engine = tiny_random_engine("cpu", 3, prompts=PROMPTS, compile_with=lambda f: f, buckets=True, compile_blocks=True,
                                compile_dynamic=True, background_compile=True)
    try:
        assert engine.precompile(2.0, 4, 1) == "ready"  # the one-row variant
        for duration_s, prompt in [(2.5, 3), (0.7, 11)]:
            stages: list = []
            engine.generate([GenerationRequest(PROMPTS[prompt], duration_s, (0,), 5.0, request_id="r")],
                            on_step=lambda info, stages=stages: stages.append(info.stage))
            assert engine.choice.path == "compiled" and set(stages) == {""}, stages
        assert len(engine.compiler.seconds) == 1 and engine.compiler.summary()["ready"] == 3  # one job, three shapes
        stages = []
        engine.generate([GenerationRequest(PROMPTS[3], 2.5, (0, 1), 5.0, request_id="r")], on_step=lambda info: stages.append(info.stage))
        assert set(stages) == {"compiling"}  # two rows: another variant, compiled meanwhile
    finally:
        engine.close()


def test_a_dynamic_compile_warms_up_every_code_variant_and_a_static_one_its_shape():
    static = FastConfig(buckets=True, compile_blocks=True)
    dynamic = FastConfig(buckets=True, compile_blocks=True, compile_dynamic=True)
    assert static.code_variants(5.0, 12) == [(5.0, 12, 1)]
    shapes = dynamic.code_variants(5.0, 12)
    assert {seeds for _, _, seeds in shapes} >= {1, 2} and max(t for _, t, _ in shapes) == max(dynamic.text_buckets)
    assert any(seeds > 2 for _, _, seeds in shapes)  # enough rows to overflow the text table: the joint loop


def test_the_warm_up_variants_skip_the_networks_fixed_sizes():
    """Traced equal to a fixed size, a dynamic size is tied to it: on the tiny model (width 64)
    a 64-frame warm-up recompiled every later length."""
    dynamic = FastConfig(buckets=True, compile_blocks=True, compile_dynamic=True)
    shapes = dynamic.code_variants(2.0, 12, avoid={64, 16}, fps=30)
    assert {round(d * 30) for d, _, _ in shapes} == {96} and {t for _, t, _ in shapes} == {32, 128}
    plain = dynamic.code_variants(2.0, 12, fps=30)
    assert {round(d * 30) for d, _, _ in plain} == {64} and {t for _, t, _ in plain} == {16, 128}
    from motionbridge.daemon.bench.random_models import model_config
    from motionbridge.daemon.engine.compile.dynamic_inputs import fixed_sizes

    assert {64, 4, 16, 201, 208} <= fixed_sizes(model_config("tiny-random").network, 7)  # width, heads, head width, latent


def test_with_inductor_the_dynamic_compile_matches_the_uncompiled_engine():
    """Real Inductor on the CPU (Dynamo's and Inductor's CPU guards; the CUDA-only ones show on a
    GPU only): the compiled functions handed view-free aliases (compile/dynamic_inputs.py) give
    the uncompiled engine's latents within float32 rounding, and after one request of one seed and
    one of two, new lengths and seed counts compile nothing."""
    import numpy as np
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    prompts = ("A person walks.", "A person jumps.")
    reference = tiny_random_engine("cpu", 2, prompts=prompts, buckets=True)
    dynamic = tiny_random_engine("cpu", 2, prompts=prompts, buckets=True, compile_blocks=True, compile_scope="blocks", compile_dynamic=True)
    try:
        worst, compiled_after = 0.0, None
        for n, (duration_s, prompt, seeds) in enumerate([(3.0, 0, (0,)), (4.0, 1, (0, 1)), (1.2, 0, (3, 4, 5)), (4.5, 1, (7,))]):
            if n == 2:
                compiled_after = counters["stats"]["unique_graphs"]
            request = GenerationRequest(prompts[prompt], duration_s, seeds, 5.0, request_id="r")
            for a, b in zip(reference.generate([request]), dynamic.generate([request])):
                worst = max(worst, float(np.abs(a.latent - b.latent).max()))
        assert compiled_after and counters["stats"]["unique_graphs"] == compiled_after
        assert worst < 1e-5
    finally:
        torch._dynamo.reset()
