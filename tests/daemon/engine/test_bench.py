"""`motionbridge bench` CPU smoke run (tiny shapes, one step): it runs and reports; no timing
is asserted."""

from __future__ import annotations

import json

from motionbridge.daemon.cli import main


def test_bench_smoke(tmp_path, capsys):
    out = tmp_path / "bench.json"
    rc = main(["bench", "--model", "tiny", "--steps", "1", "--durations", "1", "--batches", "1", "2", "--repeat", "1", "--out", str(out)])
    assert rc == 0
    data = json.loads(out.read_text())
    assert data["model"] == "tiny" and data["steps"] == 1
    (lat,) = data["latency"]
    assert lat["frames"] == 30 and lat["reference_s"] > 0 and lat["fast_s"] > 0 and lat["speedup"] > 0
    assert [t["batch"] for t in data["throughput"]] == [1, 2] and all(t["clips_per_min"] > 0 for t in data["throughput"])
    table = capsys.readouterr().out
    assert "speedup" in table and "clips/min" in table


def test_bench_refuses_missing_cuda(capsys):
    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["bench", "--device", "cuda"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
