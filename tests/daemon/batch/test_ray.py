"""`--ray`: Ray Data actors produce the same takes as the in-process run."""

from __future__ import annotations

import os
import time

import pytest
from batch_helpers import HERE, write_takes
from equal_outputs import assert_same_outputs

from motionbridge.daemon.batch import manifest, runner
from motionbridge.daemon.batch.generation import EngineGenerator

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    os.environ["PYTHONPATH"] = os.pathsep.join([os.environ.get("PYTHONPATH", ""), str(HERE)])  # workers import the test engine
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


def test_ray_matches_in_process(tmp_path, engine, engine_spec, local_ray):
    from motionbridge.daemon.batch.ray_runner import RayOptions, run_ray

    takes_file = write_takes(tmp_path / "takes.jsonl", 4, prompts=2)
    local = runner.BatchConfig(takes_file, tmp_path / "local", formats=("npz",), batch_size=2, previews=False)
    assert runner.run_local(runner.plan(local), EngineGenerator(engine)).exit_code == 0

    on_ray = runner.BatchConfig(takes_file, tmp_path / "ray", formats=("npz",), batch_size=2, previews=False)
    started = time.monotonic()
    result = run_ray(runner.plan(on_ray), engine_spec, RayOptions("local", actors=1, gpus_per_actor=0, cpus_per_actor=0.5))
    print(f"ray run: {time.monotonic() - started:.1f} s")
    assert (result.exit_code, result.ok) == (0, 4), result.summary()
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
    assert not list((tmp_path / "ray" / manifest.SHARDS).glob("*.jsonl")), "actor shards not merged"
