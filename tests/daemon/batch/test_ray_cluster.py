"""`--ray` on a cluster of two Ray nodes (real raylets, one machine) with token authentication on,
as daemon/batch/README.md tells a TD to start one: both nodes run a take actor, and the files
are the in-process run's."""

from __future__ import annotations

import os
import secrets

import pytest
from batch_helpers import HERE, write_takes
from equal_outputs import assert_same_outputs

from motionbridge.daemon.batch import manifest, runner
from motionbridge.daemon.batch.generation import EngineGenerator

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")


@pytest.fixture(scope="module")
def two_nodes():
    """A head and a second node, one CPU each, so that two one-CPU actors must sit on different
    nodes. Every process (raylets, workers, this driver) shares one token, as the README's
    `RAY_AUTH_MODE=token` start does."""
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    os.environ["PYTHONPATH"] = os.pathsep.join([os.environ.get("PYTHONPATH", ""), str(HERE)])  # workers import the test engine
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(16)
    # this process read Ray's config when ray was imported: read it again with token mode on
    from ray._private.authentication_test_utils import reset_auth_token_state

    reset_auth_token_state()
    if ray.is_initialized():
        ray.shutdown()
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_auth_token_state()


def test_two_nodes_share_the_takes_and_write_the_in_process_files(tmp_path, engine, engine_spec, two_nodes):
    from motionbridge.daemon.batch.ray_runner import RayOptions, run_ray

    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    takes_file = write_takes(tmp_path / "takes.jsonl", 6, prompts=3)
    local = runner.BatchConfig(takes_file, tmp_path / "local", formats=("npz",), batch_size=1, previews=False)
    assert runner.run_local(runner.plan(local), EngineGenerator(engine)).exit_code == 0

    on_ray = runner.BatchConfig(takes_file, tmp_path / "ray", formats=("npz",), batch_size=1, previews=False)
    result = run_ray(runner.plan(on_ray), engine_spec, RayOptions("auto", actors=2, gpus_per_actor=0, cpus_per_actor=1))
    assert (result.exit_code, result.ok) == (0, 6), result.summary()
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
    assert not list((tmp_path / "ray" / manifest.SHARDS).glob("*.jsonl")), "actor shards not merged"
    # the GCS actor table (the state API would need the dashboard): where each take actor lived
    actors = [a for a in ray._private.state.actors().values() if "TakeActor" in a.get("ActorClassName", "")]
    nodes = {a["Address"]["NodeID"] for a in actors}
    assert len(nodes) == 2, f"take actors ran on {len(nodes)} node(s)"
