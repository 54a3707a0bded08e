"""CI smoke test of `motionbridge bench` on the CPU: tiny sizes, one step, real CLI process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch


def bench(*args, cwd):
    cmd = [sys.executable, "-m", "motionbridge.daemon.cli", "bench", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_bench_cpu_smoke_writes_json_and_table(tmp_path, parity):
    out, table = tmp_path / "r.json", tmp_path / "r.md"
    proc = bench("--device", "cpu", "--models", "tiny", "--parity", str(parity), "--steps", "1", "--durations", "2",
                 "--batches", "1,2", "--repeats", "1", "--reference-batch", "1", "--modes", "fp32", "--json", str(out), "--table", str(table), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    m = result["models"]["tiny"]
    assert result["steps"] == 1 and m["params_dit"] > 0
    assert m["reference_fp32"]["latency_ms_5s"] > 0
    fp32 = m["modes"]["fp32"]
    assert set(fp32["throughput"]) == {"1", "2"} and all(v["clips_per_min"] > 0 for v in fp32["throughput"].values())
    assert fp32["latency_ms_text_cached"]["2s"] > 0 and fp32["latency_ms_with_text"]["2s"] > 0
    # the fp32 fast path is exact: its deviation from the reference is float32 rounding
    assert fp32["deviation_vs_fp32_reference"]["latent_max_abs"] < 1e-4
    assert "| fp32 |" in table.read_text() and "| fp32 |" in proc.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_bench_cuda_without_cuda_is_a_clear_error(tmp_path, parity):
    proc = bench("--device", "cuda", "--parity", str(parity), cwd=tmp_path)
    assert proc.returncode == 2 and "CUDA is not available" in proc.stderr


def test_bench_unknown_mode_is_refused(tmp_path, parity):
    proc = bench("--device", "cpu", "--parity", str(parity), "--modes", "turbo", "--steps", "1", cwd=tmp_path)
    assert proc.returncode == 2 and "unknown mode 'turbo'" in proc.stderr
