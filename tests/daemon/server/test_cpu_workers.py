"""Two CPU workers (`serve --device cpu --workers 2`): two clients take turns, and when one
worker is killed no request is lost: its running request ends with `worker_died` (a resend
succeeds), every other request completes."""

from __future__ import annotations

import os
import signal
import time

from daemon_proc import DaemonProcess

import motionbridge.daemon.protocol.frames as P
from motionbridge.daemon.protocol.client import ClientError, MotionBridgeClient


def _daemon(step_s: float) -> DaemonProcess:
    d = DaemonProcess("--engine-factory", "toy_engine:make_engine", "--engine-option", f"step_s={step_s}",
                      "--workers", "2", "--max-batch", "1")
    d.wait_for("worker ready", 60.0, count=2)
    return d


def test_two_clients_take_turns_on_two_workers():
    d = _daemon(0.1)  # 1 s per request
    a, b = MotionBridgeClient(d.endpoint, timeout_s=5.0), MotionBridgeClient(d.endpoint, timeout_s=5.0)
    try:
        burst = [a.generate(f"A person walks, take {k}.", duration_s=1.0) for k in range(6)]
        late = [b.generate(f"A person waves, take {k}.", duration_s=1.0) for k in range(2)]
        for h in burst + late:
            assert len(h.wait(60.0)) == 1
    finally:
        a.close()
        b.close()
        assert d.stop() == 0
    batches = d.events("batch")
    order = [batch["ids"][0] for batch in batches]
    names = {h.request_id: f"A{k}" for k, h in enumerate(burst)} | {h.request_id: f"B{k}" for k, h in enumerate(late)}
    print(f"\n[2 CPU workers] dispatch order: {' '.join(names[i] for i in order)}; "
          f"workers used: {sorted({batch['worker'] for batch in batches})}")
    assert {batch["worker"] for batch in batches} == {0, 1}
    # first come, first served would run B's two after all six of A's (positions 6 and 7)
    assert order.index(late[1].request_id) < order.index(burst[4].request_id), [names[i] for i in order]


def test_killing_one_worker_loses_no_request():
    d = _daemon(0.3)  # 3 s per request: time to see both workers busy
    clients = [MotionBridgeClient(d.endpoint, timeout_s=5.0) for _ in range(2)]
    try:
        handles = [c.generate(f"A person jumps, take {c_k}-{k}.", duration_s=1.0)
                   for k in range(3) for c_k, c in enumerate(clients)]
        deadline = time.monotonic() + 20.0
        while clients[0].status()["running"] < 2:
            assert time.monotonic() < deadline, "both workers should be busy"
            time.sleep(0.05)
        victim = clients[0].status()["workers"][0]
        os.kill(victim["pid"], signal.SIGKILL)
        died, done = [], []
        for h in handles:
            try:
                assert len(h.wait(60.0)) == 1
                done.append(h)
            except ClientError as exc:
                assert exc.code == P.E_WORKER_DIED, exc
                died.append(h)
        on_killed = {batch["ids"][0] for batch in d.events("batch") if batch["worker"] == 0}
        assert len(died) == 1 and died[0].request_id in on_killed  # only the request it was running
        resent = clients[0].generate("A person jumps, take again.", duration_s=1.0)
        assert len(resent.wait(60.0)) == 1
        print(f"\n[2 CPU workers] kill -9 of worker 0: {len(died)} request ended worker_died (resent: ok), "
              f"{len(done)} completed; worker 0 restarts: {clients[0].status()['workers'][0]['restarts']}")
    finally:
        for c in clients:
            c.close()
        assert d.stop() == 0

