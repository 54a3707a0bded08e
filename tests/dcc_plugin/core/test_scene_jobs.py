"""Detect and Export run their heavy part on a worker, never on the DCC's main thread: the
panel call returns while the work is still blocked, and the outcome arrives on the main
thread (the fake host's pump)."""

from __future__ import annotations

import threading

import numpy as np
from dcc_fakes import FakeHost, random_smplx_clip

from motionbridge.dcc_plugin.core import targeting
from motionbridge.dcc_plugin.core.panel import Panel, State
from motionbridge.dcc_plugin.core.settings import Settings
from motionbridge.exporters import registry
from motionbridge.exporters.atomic import atomic_path
from motionbridge.rigs import skeleton_from_world
from motionbridge.rigs.humanoid import build_rig
from motionbridge.rigs.smplx import smplx_skeleton

RELEASE_TIMEOUT_S = 10.0


class Gate:
    """Wraps a function so that it records the thread it ran on and waits until the test
    releases it. Run inline on the main thread, it would wait out the timeout instead."""

    def __init__(self, fn):
        self.fn = fn
        self.release = threading.Event()
        self.started = threading.Event()
        self.threads: list[int] = []
        self.waited_out = False

    def __call__(self, *args, **kwargs):
        self.threads.append(threading.get_ident())
        self.started.set()
        self.waited_out = not self.release.wait(RELEASE_TIMEOUT_S)
        return self.fn(*args, **kwargs)


def make_panel(**rigs):
    host = FakeHost({"body": smplx_skeleton(), **rigs}, selected="body")
    panel = Panel(host, Settings(), lambda s: None)
    return host, panel


def test_detect_runs_on_the_worker_and_answers_on_the_main_thread(monkeypatch):
    host, panel = make_panel(hero=build_rig("mixamo", bone_axes="y_along_bone", up_axis="z", units="cm"))
    gate = Gate(targeting.resolve_target)
    monkeypatch.setattr(targeting, "resolve_target", gate)
    outcomes = []
    assert panel.detect("hero", on_done=lambda o: outcomes.append((o, threading.get_ident())))
    # the call is back while the detection is still held: it did not run in the call
    assert not gate.release.is_set() and outcomes == [] and panel.target is None
    assert gate.started.wait(RELEASE_TIMEOUT_S)
    gate.release.set()
    host.pump(lambda: outcomes)
    (outcome, thread), = outcomes
    assert not gate.waited_out and gate.threads and host.main_thread not in gate.threads
    assert thread == host.main_thread  # the answer is delivered through run_on_main_thread
    assert not outcome.error and outcome.target.preset == "mixamo"
    assert panel.target is outcome.target and "hero: mixamo" in panel.status
    assert panel.scene_jobs.worker_threads == ["motionbridge-scene-jobs"]
    assert host.off_main_calls == [] and panel.scene_jobs.pending == 0
    panel.close()


def test_detect_failure_is_shown_and_changes_no_state():
    names = ["root", "a", "b", "c"]
    blob = skeleton_from_world(names, [-1, 0, 1, 2], np.array([[0, 0, 0], [0, 1, 0], [0, 2, 0], [0, 3, 0]], dtype=float))
    host, panel = make_panel(blob=blob)
    outcomes = []
    assert panel.detect("blob", on_done=outcomes.append)
    host.pump(lambda: outcomes)
    assert outcomes[0].error and outcomes[0].target is None
    assert "cannot be mapped" in panel.error and host.errors and panel.state is State.DISCONNECTED
    panel.close()


def test_detect_without_a_rig_says_what_to_select_at_once():
    host, panel = make_panel()
    host.selected = None
    assert not panel.detect()
    assert "no armature selected" in panel.error and panel.scene_jobs.pending == 0
    panel.close()


def add_takes(host, n=2):
    for seed in range(n):
        host.apply_take("body", random_smplx_clip(seed), f"take_{seed}", {"seed": seed})
    return [f"take_{seed}" for seed in range(n)]


def test_export_writes_on_the_worker_atomically(tmp_path):
    host, panel = make_panel()
    names = add_takes(host)
    gate = Gate(registry.export)
    out = tmp_path / "takes.npz"
    assert panel.export_takes(names, str(out), gate)
    assert not gate.release.is_set() and not out.exists()  # back before the file is written
    assert gate.started.wait(RELEASE_TIMEOUT_S)
    gate.release.set()
    host.pump(lambda: panel.scene_jobs.pending == 0)
    assert not gate.waited_out and host.main_thread not in gate.threads
    assert panel.error == "" and panel.status.startswith(f"Exported 2 take(s) to {out}")
    with np.load(out, allow_pickle=False) as data:
        assert len(data.files) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["takes.npz"]  # no temp file left
    assert host.off_main_calls == []  # the keys were read on the main thread
    panel.close()


def test_failed_export_leaves_no_file_and_says_why(tmp_path):
    host, panel = make_panel()
    names = add_takes(host, 1)
    out = tmp_path / "broken.fbx"

    def dies_halfway(path, clips, take_names):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"half a file")
            raise OSError(28, "No space left on device")

    assert panel.export_takes(names, str(out), dies_halfway)
    host.pump(lambda: panel.scene_jobs.pending == 0)
    assert "disk full" in panel.error and panel.state is State.DISCONNECTED
    assert list(tmp_path.iterdir()) == []
    panel.close()


def test_export_of_a_missing_take_is_refused_at_once(tmp_path):
    host, panel = make_panel()
    add_takes(host, 1)
    assert not panel.export_takes(["take_0", "nope"], str(tmp_path / "x.npz"), registry.export)
    assert "no take named 'nope'" in panel.error and panel.scene_jobs.pending == 0
    assert list(tmp_path.iterdir()) == []
    panel.close()
