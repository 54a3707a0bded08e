"""The throughput script runs both timings and reports every stage, on the random-weight
engine it is meant to use on a GPU box without the weights (tiny shapes here, on CPU)."""

from __future__ import annotations

import json

import pytest


def test_bench_reports_generation_and_end_to_end(tmp_path, capsys):
    from motionbridge.daemon.bench import batch as bench

    code = bench.main(["--engine-factory", "motionbridge.daemon.bench.random_features:tiny", "--device", "cpu",
                       "--dtype", "float32", "--takes", "3",
                       "--seeds-per-prompt", "2", "--duration", "1", "--format", "npz,fbx", "--rig", "mixamo",
                       "--repeat", "1", "--out", str(tmp_path / "out"), "--json", str(tmp_path / "bench.json")])
    assert code == 0
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report == json.loads(capsys.readouterr().out)
    assert report["end_to_end"]["ok"] == 3 and report["end_to_end"]["takes_per_min"] > 0
    assert report["generation_only"]["takes_per_min"] > 0
    assert report["export_workers"] == 0  # the CPU default: in line
    gen, e2e = report["generation_only"]["seconds"], report["end_to_end"]["seconds"]
    ratio = gen / e2e
    # the report divides the unrounded times and rounds the ratio; its "seconds" are rounded to
    # 3 places, so the ratio of the rounded seconds is off by up to this much (short CPU runs)
    slack = ratio * (5e-4 / gen + 5e-4 / e2e) + 5e-4 + 1e-9
    assert report["end_to_end_over_generation"] == pytest.approx(ratio, abs=slack)
    assert {"retarget_s", "write_npz_s", "write_fbx_s", "preview_s", "generate_s"} <= set(report["stage_mean_s"])
    assert report["export_s_per_take"] > 0
    assert len(list((tmp_path / "out" / "run0").glob("*.fbx"))) == 3
    assert report["engine"] == "factory motionbridge.daemon.bench.random_features:tiny"
