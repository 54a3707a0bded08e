"""`motionbridge warm` (engine/compile/warm.py): the shapes a configuration can meet, each compiled once
with a progress line, failures reported and counted; bad arguments refused before anything runs."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from motionbridge.daemon.bench.random_models import tiny_random_engine
from motionbridge.daemon.engine.compile.warm import shapes, warm_shapes
from motionbridge.daemon.engine.fast.config import FastConfig

from .test_paths import FakeInductor


def test_shapes_are_one_per_bucket_shape():
    fast = FastConfig(buckets=True)
    pipe = tiny_random_engine("cpu", 1).config.pipeline
    got = shapes(fast, pipe, [1.0, 1.01, 2.0], [3, 16, 17], [1, 2, 3])
    # 1.0 and 1.01 s share the 30-frame bucket; 3 and 16 tokens the 16 bucket; 3 rows the 4 bucket
    assert len(got) == 2 * 2 * 3
    assert got[0] == (1.0, 3, 1) and (2.0, 17, 3) in got


def test_warm_compiles_every_shape_and_reports_failures():
    inductor = FakeInductor()
    engine = tiny_random_engine("cpu", 2, compile_with=inductor, buckets=True, compile_blocks=True, background_compile=True)
    out = io.StringIO()
    todo = [(1.0, 4, 1), (2.0, 20, 2)]
    result = warm_shapes(engine, todo, out)
    assert result["shapes"] == 2 and result["failed"] == []
    assert engine.compiler.summary()["ready"] == 2
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("[" + "#" * 30 + "] 2/2 shapes") and "FAILED" not in out.getvalue()
    failing = tiny_random_engine("cpu", 2, compile_with=FakeInductor(fail=True), buckets=True, compile_blocks=True, background_compile=True)
    out = io.StringIO()
    result = warm_shapes(failing, todo, out)
    assert len(result["failed"]) == 2 and result["failed"][0]["state"] == "failed"
    assert out.getvalue().count("FAILED") == 2


def test_warm_refuses_bad_arguments_with_one_line(tmp_path):
    env = {**os.environ, "MOTIONBRIDGE_HOME": str(tmp_path / "home")}
    for args in (["--durations", "0,3"], ["--text-tokens", "x"], ["--rows", "0"], []):
        p = subprocess.run([sys.executable, "-m", "motionbridge.daemon.cli", "warm", "--device", "cpu", *args],
                           capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 2, (args, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1 and "error" in p.stderr
    assert not (tmp_path / "home").exists()  # nothing was created
