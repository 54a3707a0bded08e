"""The panel state machine, driven through a fake host (a real JobManager thread)."""

import time

import numpy as np
from dcc_fakes import ClientError, FakeHost, ScriptedClient

from motionbridge.dcc_plugin.core.panel import Panel, State
from motionbridge.dcc_plugin.core.settings import Settings
from motionbridge.dcc_plugin.core.takes import TakeMetadata
from motionbridge.rigs import Skeleton, quat
from motionbridge.rigs.smplx import smplx_skeleton


def make(client=None, selected="body", **settings):
    host = FakeHost({"body": smplx_skeleton()}, selected=selected)
    client = client or ScriptedClient()
    states = []
    panel = Panel(host, Settings(preview_every=1, **settings), lambda s: client, on_change=lambda p: states.append(p.state))
    return host, client, panel, states


def connect(host, panel):
    panel.connect()
    host.pump(lambda: panel.state in (State.CONNECTED, State.ERROR))


def test_connect_generate_preview_and_write_takes():
    host, client, panel, states = make(variations=2, seed_start=5, cfg=4.0)
    assert panel.state is State.DISCONNECTED
    connect(host, panel)
    assert panel.state is State.CONNECTED and "0.1.0" in panel.status
    assert panel.generate("A person waves with the right hand.")
    host.pump(lambda: panel.state is State.TAKE_WRITTEN)
    assert states[:3] == [State.CONNECTING, State.CONNECTED, State.GENERATING]
    assert client.requests[0]["seeds"] == (5, 6) and client.requests[0]["cfg"] == 4.0
    assert len(host.previews) == 1 and host.cleared >= 1  # preview shown, then restored
    names = sorted(host.takes)
    assert names == ["mb_waves_with_right_hand_s5", "mb_waves_with_right_hand_s6"]
    info, clip = host.takes[names[0]]
    meta = TakeMetadata.from_dict(info.metadata)
    assert (meta.prompt, meta.seed, meta.cfg, meta.model_hash, meta.daemon_version, meta.rig_preset) == (
        "A person waves with the right hand.", 5, 4.0, "abc123", "0.1.0", "smplx")
    assert clip.num_frames == 12 and host.timeline == (1, 12, 30.0)
    assert panel.progress == 1.0 and host.off_main_calls == []
    assert client.handles[0].thread_ids and host.main_thread not in client.handles[0].thread_ids
    # generating again never overwrites: new unique names
    assert panel.generate("A person waves with the right hand.")
    host.pump(lambda: panel.state is State.TAKE_WRITTEN and len(host.takes) == 4)
    assert "mb_waves_with_right_hand_s5_2" in host.takes
    panel.close()


def test_cancel_writes_nothing_and_late_results_are_ignored():
    host, client, panel, _ = make(variations=2)
    client.step_delay_s = 0.05
    connect(host, panel)
    panel.generate("walk")
    host.pump(lambda: client.handles and client.handles[0].thread_ids)
    panel.cancel()
    assert panel.state is State.CONNECTED and "Cancelled" in panel.status
    host.pump(lambda: client.handles[0].cancelled)
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        host.pump(lambda: True)
    assert host.takes == {}
    assert panel.generate("walk")  # a new generation works after a cancel
    host.pump(lambda: panel.state is State.TAKE_WRITTEN)
    assert len(host.takes) == 2
    panel.close()


def test_failed_write_rolls_back_every_take_of_the_request():
    host, client, panel, _ = make(variations=3)
    host.fail_apply_on = 2
    connect(host, panel)
    panel.generate("jump")
    host.pump(lambda: panel.state is State.ERROR)
    assert host.takes == {} and "nothing was kept" in panel.error


def test_generation_error_event_leaves_no_take():
    host, client, panel, _ = make(client=ScriptedClient(error_event=True))
    connect(host, panel)
    panel.generate("run")
    host.pump(lambda: panel.state is State.ERROR)
    assert "restarting" in panel.error and "nothing was written" in panel.error and host.takes == {}


def test_unreachable_daemon_gives_a_clear_message_without_blocking():
    client = ScriptedClient(fail_hello=ClientError("unreachable", "no answer after 5.0 s"), hello_delay_s=0.5)
    host, _, panel, _ = make(client=client)
    panel.connect()
    assert panel.state is State.CONNECTING  # the UI call returned while the worker waits
    host.pump(lambda: panel.state is State.ERROR)
    assert "Cannot reach the MotionBridge daemon at tcp://127.0.0.1:7719" in panel.error
    assert "motionbridge serve" in panel.error and host.errors
    assert not panel.generate("walk") and "press Connect" in panel.error


def test_wrong_key_hint_names_the_key_file(tmp_path):
    key = tmp_path / "server.key"
    key.write_text("x")
    client = ScriptedClient(fail_hello=ClientError("unreachable", "no answer"))
    host, _, panel, _ = make(client=client, server_key_path=str(key))
    connect(host, panel)
    assert str(key) in panel.error and "is the daemon's" in panel.error


def test_bad_input_changes_nothing():
    host, client, panel, _ = make(selected=None)
    connect(host, panel)
    assert not panel.generate("walk")
    assert "no armature selected" in panel.error and "body" in panel.error
    assert panel.state is State.CONNECTED
    host.selected = "body"
    assert not panel.generate("   ")
    assert "prompt is empty" in panel.error
    assert not panel.generate("walk", cfg=100.0)
    assert "cfg must be" in panel.error
    assert client.requests == [] and host.takes == {}


def test_unmappable_rig_says_what_to_map():
    odd = Skeleton(("root", "thing"), np.array([-1, 0]), np.array([[0, 0, 0], [0, 1, 0.0]]), np.tile(quat.IDENTITY, (2, 1)))
    host, client, panel, _ = make(selected="odd")
    host.rigs["odd"] = odd
    connect(host, panel)
    for preset, why in (("", "choose a preset ("), ("mixamo", "does not fit 'odd'"), ("no_such_rig", "choose one of")):
        assert panel.generate("walk", preset=preset)  # detection runs on the worker
        host.pump(lambda: panel.state is State.ERROR)
        assert "odd" in panel.error and why in panel.error, panel.error
        assert not panel.busy
    assert client.requests == [] and host.takes == {}  # nothing was sent


def test_mixamo_rig_is_detected_and_retargeted_with_metrics():
    from motionbridge.rigs.humanoid import build_rig

    host, client, panel, _ = make(selected="hero", variations=1)
    host.rigs["hero"] = build_rig("mixamo", bone_axes="y_along_bone", up_axis="z", units="cm")
    connect(host, panel)
    assert panel.generate("A person jumps.")
    host.pump(lambda: panel.state in (State.TAKE_WRITTEN, State.ERROR))
    assert panel.state is State.TAKE_WRITTEN, panel.error
    (info, clip), = host.takes.values()
    assert clip.skeleton is host.rigs["hero"] and clip.num_frames == 12
    assert info.metadata["rig_preset"] == "mixamo" and panel.target.confidence > 0.5
    assert info.metadata["retarget_metrics"], "retarget metrics missing from the take metadata"
    assert all(isinstance(v, float) for v in info.metadata["retarget_metrics"].values())
    panel.close()
