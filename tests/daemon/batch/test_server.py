"""`batch --server`: a real `motionbridge serve` subprocess on loopback, its worker killed
with SIGKILL while it runs the batch's first request. The request ends in `worker_died`, the
batch resends it to the restarted worker, every take ends ok with the same bytes as in
process, and the manifest counts the resend."""

from __future__ import annotations

import os
import signal

from batch_helpers import HERE, write_takes
from daemon_proc import DaemonProcess
from equal_outputs import assert_same_outputs

from motionbridge.daemon.batch import manifest, runner
from motionbridge.daemon.batch.generation import EngineGenerator, ServerGenerator

STEPS = "12"  # long enough that the kill lands while the worker samples


def test_takes_whose_worker_died_are_resent(tmp_path, parity, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).strip(os.pathsep))
    monkeypatch.setenv("MB_BATCH_TEST_STEPS", STEPS)
    takes_file = write_takes(tmp_path / "takes.jsonl", 3, prompts=2, extra={2: {"game_feat": True}})
    config = runner.BatchConfig(takes_file, tmp_path / "daemon", formats=("npz",), batch_size=3, previews=False)
    d = DaemonProcess("--engine-factory", "tiny_engine:make", "--device", "cpu", heartbeat=0.2)
    killed: list[int] = []
    try:
        generator = ServerGenerator(d.endpoint, timeout_s=300)
        submit = generator._submit

        def submit_then_kill_the_worker(request, *directing):
            handle = submit(request, *directing)
            if not killed:
                d.wait_for("batch", 60)  # the worker has taken the request
                killed.append(generator.client.status()["workers"][0]["pid"])
                os.kill(killed[0], signal.SIGKILL)
            return handle

        generator._submit = submit_then_kill_the_worker
        result = runner.run_local(runner.plan(config), generator)
    finally:
        d.stop()
    assert killed and result.exit_code == 0, result.summary()
    entries = manifest.read_latest(config.out_dir)
    assert sorted(entries) == [0, 1, 2] and all(e["status"] == "ok" for e in entries.values())
    assert max(e["retries"] for e in entries.values()) >= 1, entries  # the killed request was resent

    import tiny_engine

    local = runner.BatchConfig(takes_file, tmp_path / "local", formats=("npz",), batch_size=3, previews=False)
    assert runner.run_local(runner.plan(local), EngineGenerator(tiny_engine.make())).exit_code == 0
    assert_same_outputs(tmp_path / "local", config.out_dir)
