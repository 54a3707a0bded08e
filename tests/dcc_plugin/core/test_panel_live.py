"""The panel with the real client against a real daemon subprocess (the daemon tests' numpy
toy engine, so it is fast), behind CURVE: connect, previews, takes, cancel, bad keys,
unreachable daemon, and a restarting worker."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest
from dcc_fakes import FakeHost

from motionbridge.daemon.server.keys import allow, new_pair
from motionbridge.dcc_plugin.core.panel import Panel, State
from motionbridge.dcc_plugin.core.settings import Settings
from motionbridge.rigs.smplx import smplx_skeleton

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "daemon"))
from daemon_proc import DaemonProcess


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("curve")
    new_pair(root / "daemon", "server")
    alice_public, alice_secret = new_pair(root / "alice", "alice")
    allow(root / "daemon", alice_public)
    _, mallory_secret = new_pair(root / "mallory", "mallory")
    return {"server": root / "daemon" / "server.key", "curve_dir": root / "daemon", "alice": alice_secret, "mallory": mallory_secret}


@pytest.fixture(scope="module")
def daemon(keys):
    d = DaemonProcess("--engine-factory", "toy_engine:make_engine", "--engine-option", "step_s=0.1", "--curve-dir", str(keys["curve_dir"]))
    yield d
    d.stop()


def returns_before_the_network(panel, call, *args, waiting=None, **kwargs):
    """The UI call hands its work to the worker: it returns while the answer is still
    pending (checked by state, not by a clock, so a loaded machine cannot flake it)."""
    out = call(*args, **kwargs)
    if waiting is not None:
        assert panel.state is waiting, f"{call.__name__} waited for the daemon (state {panel.state})"
    return out


def make(endpoint, client_key, server_key, **settings):
    host = FakeHost({"body": smplx_skeleton()}, selected="body")
    s = Settings(endpoint=endpoint, server_key_path=str(server_key), client_key_path=str(client_key), timeout_s=1.0, **settings)
    return host, Panel(host, s)


def test_real_daemon_previews_takes_and_cancel(daemon, keys):
    host, panel = make(daemon.endpoint, keys["alice"], keys["server"], variations=2, duration_s=1.0, preview_every=3)
    returns_before_the_network(panel, panel.connect, waiting=State.CONNECTING)
    host.pump(lambda: panel.state in (State.CONNECTED, State.ERROR))
    assert panel.state is State.CONNECTED, panel.error
    assert panel.server["model"] == "toy" and panel.server["daemon"]

    assert returns_before_the_network(panel, panel.generate, "A person waves.", waiting=State.GENERATING)
    host.pump(lambda: panel.state in (State.TAKE_WRITTEN, State.ERROR), timeout_s=30)
    assert panel.state is State.TAKE_WRITTEN, panel.error
    assert host.previews, "no live preview reached the host"
    assert sorted(host.takes) == ["mb_waves_s0", "mb_waves_s1"]
    for info, clip in host.takes.values():
        assert clip.num_frames == 30 and clip.fps == 30
        assert info.metadata["model"] == "toy" and info.metadata["daemon_version"] == panel.server["daemon"]

    assert returns_before_the_network(panel, panel.generate, "A person jumps.", waiting=State.GENERATING)
    host.pump(lambda: any(p > 0 for p in host.progress[-3:]) or panel.state is State.ERROR, timeout_s=30)
    returns_before_the_network(panel, panel.cancel, waiting=State.CONNECTED)
    daemon.wait_for("cancelled", 10) if daemon.events("cancelled") else None
    end = time.monotonic() + 2.0  # results would have arrived by now had the cancel failed
    while time.monotonic() < end:
        host.pump(lambda: True)
    assert not any(name.startswith("mb_jumps") for name in host.takes)
    assert panel.state is State.CONNECTED

    assert panel.generate("A person jumps.")
    host.pump(lambda: panel.state in (State.TAKE_WRITTEN, State.ERROR), timeout_s=30)
    assert sorted(n for n in host.takes if n.startswith("mb_jumps")) == ["mb_jumps_s0", "mb_jumps_s1"]
    panel.close()


def test_wrong_client_key_is_refused_with_a_clear_message(daemon, keys):
    host, panel = make(daemon.endpoint, keys["mallory"], keys["server"])
    returns_before_the_network(panel, panel.connect, waiting=State.CONNECTING)
    host.pump(lambda: panel.state is State.ERROR, timeout_s=10)
    assert "refused this client's key" in panel.error and "key files in Settings" in panel.error
    panel.close()


def test_unreachable_daemon_message_and_ui_never_blocks(keys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    host, panel = make(f"tcp://127.0.0.1:{port}", keys["alice"], keys["server"])
    returns_before_the_network(panel, panel.connect, waiting=State.CONNECTING)
    host.pump(lambda: panel.state is State.ERROR, timeout_s=10)
    assert f"Cannot reach the MotionBridge daemon at tcp://127.0.0.1:{port}" in panel.error
    assert "motionbridge serve" in panel.error
    panel.close()
