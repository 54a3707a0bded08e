"""The bench's low-VRAM line (daemon/bench/low_vram.py) on the CPU with the tiny random
model: every way of keeping Qwen3 is built and measured, the report carries the feature
deviation from bf16 (zero when streamed: the same bf16 weights; nonzero and bounded when
quantised) and the table prints one row per way. Timings are not checked (the GPU run is
the measurement)."""

from __future__ import annotations

import argparse

import pytest
import torch

from motionbridge.daemon.bench.low_vram import low_vram
from motionbridge.daemon.bench.report import table
from motionbridge.daemon.bench.suite import MODES, PROMPT, ModelBench


@pytest.fixture(scope="module")
def line(parity):
    torch.set_num_threads(1)
    args = argparse.Namespace(durations="2", batches="1", modes="bf16", steps=1, repeats=1)
    return low_vram(ModelBench("tiny-random", torch.device("cpu"), parity, args), MODES["bf16"], PROMPT)


def test_each_way_of_keeping_qwen_is_measured(line):
    assert line["mode"] == "bf16" and set(line["text"]) == {"stream", "int8", "int4"}
    for r in line["text"].values():
        assert set(r["latency_ms_with_text"]) == {"2s"} and set(r["latency_ms_text_cached"]) == {"2s"}
        assert r["text_encode_ms_new_prompt"] > 0 and r["peak_vram_gib"] is None  # no GPU here


def test_the_feature_deviation_from_bf16_is_reported(line):
    dev = {text: r["feature_deviation_vs_bf16"] for text, r in line["text"].items()}
    assert dev["stream"]["ctxt_max_abs"] == 0 and dev["stream"]["ctxt_relative_norm"] == 0  # moves weights, never values
    assert 0 < dev["int8"]["ctxt_relative_norm"] < dev["int4"]["ctxt_relative_norm"] < 0.2
    assert dev["int8"]["ctxt_max_abs"] < dev["int8"]["ctxt_reference_max_abs"] / 10
    assert all(d["vtxt_max_abs"] == 0 for d in dev.values())  # CLIP is never quantised


def test_the_table_has_a_row_per_way(line):
    result = {"date": "-", "device": "cpu", "torch": "-", "steps": 1, "cfg": 5.0, "weights": "random"}
    text = table({**result, "models": {"tiny-random": {"model": "tiny-random", "low_vram": line}}})
    for way in ("stream", "int8", "int4"):
        assert f"| low-VRAM (bf16, Qwen {way}) |" in text and f"- low-VRAM Qwen {way}: text encoding" in text


@pytest.mark.gpu
def test_the_line_runs_on_a_gpu_with_graphs(parity):
    """tiny-random on CUDA: the static text path under CUDA graphs for each way, a peak measured."""
    args = argparse.Namespace(durations="2", batches="1", modes="bf16_graphs", steps=2, repeats=1)
    line = low_vram(ModelBench("tiny-random", torch.device("cuda"), parity, args), MODES["bf16_graphs"], PROMPT)
    for r in line["text"].values():
        assert r["peak_vram_gib"] > 0 and r["latency_ms_with_text"]["2s"] > 0
    assert 0 < line["text"]["int8"]["feature_deviation_vs_bf16"]["ctxt_relative_norm"] < 0.05
