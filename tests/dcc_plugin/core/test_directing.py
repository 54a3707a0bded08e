"""The directing rows' scene reads and the controls they build (core/directing.py), through a
fake host whose rig plays a known SMPL-X clip; the field is read back by the daemon's own
checker (`daemon/controls/wire.py` from_wire), as the daemon would."""

from __future__ import annotations

import numpy as np
import pytest
from dcc_fakes import FakeHost, ScriptedClient, random_smplx_clip

from motionbridge.daemon.controls.wire import from_wire
from motionbridge.daemon.model.encode import model_pose
from motionbridge.dcc_plugin.core import directing
from motionbridge.dcc_plugin.core.host import TakeInfo
from motionbridge.dcc_plugin.core.panel import Panel, State
from motionbridge.dcc_plugin.core.settings import Settings
from motionbridge.rigs import Clip
from motionbridge.rigs.smplx import smplx_skeleton


class SceneHost(FakeHost):
    """A rig that plays `animation` (scene frame f = clip frame f), a playhead, keys, a
    preview range and a curve."""

    def __init__(self, animation: Clip, fps: float = 30.0) -> None:
        super().__init__({"body": animation.skeleton}, selected="body")
        self.animation, self.fps, self.playhead = animation, fps, 10.0
        self.keys: list[int] = []
        self.range: tuple[int, int] | None = None
        self.curve = np.zeros((0, 3))
        self.pose_reads: list[list[float]] = []

    def current_frame(self) -> float:
        return self.playhead

    def scene_fps(self) -> float:
        return self.fps

    def read_pose(self, rig, frames):
        self.pose_reads.append(list(frames))
        idx = np.clip(np.round(frames).astype(int), 0, self.animation.num_frames - 1)
        a = self.animation
        return Clip(a.skeleton, a.rotations[idx], a.root_translation[idx], self.fps, {})

    def keyed_frames(self, rig):
        return list(self.keys)

    def preview_range(self):
        return self.range

    def sample_curve(self, curve, rig, count):
        return self.curve

    def place_take(self, take_name, frame_start):
        info, clip = self.takes[take_name]
        moved = TakeInfo(info.name, info.rig, frame_start, frame_start + clip.num_frames - 1, info.fps, info.metadata)
        self.takes[take_name] = (moved, clip)
        return moved


def _read_back(direction, duration_s=2.0):
    field, arrays = direction.controls
    return from_wire(field, arrays, direction.duration_s or duration_s)


def _pose_error(poses, clip, frames):
    rot, transl = model_pose(clip)
    return (np.abs(poses.rotations - rot[frames]).max(), np.abs(poses.transl - transl[frames]).max())


def test_start_from_current_pose_is_the_rig_at_the_playhead_and_two_model_frames_before():
    anim = random_smplx_clip(3, frames=40)
    host = SceneHost(anim, fps=60.0)  # two scene frames per model frame
    host.playhead = 20.0
    direction = directing.start_from_current_pose(host, "body")(None)
    assert host.pose_reads == [[16.0, 18.0, 20.0]]
    controls = _read_back(direction)
    rot_err, root_err = _pose_error(controls.start, anim, [16, 18, 20])
    assert rot_err < 1e-9 and root_err < 1e-9
    assert controls.start.record["frame"] == 20.0 and direction.duration_s is None


@pytest.mark.parametrize("keys, playhead, gap", [([5, 40], 5, (5, 40)), ([0, 5, 40, 60], 20, (5, 40)), ([5, 40], 39.5, (5, 40))])
def test_keyed_gap_is_the_keys_around_the_playhead(keys, playhead, gap):
    assert directing.keyed_gap(keys, playhead) == gap


@pytest.mark.parametrize("keys, playhead, says", [([5, 40], 40, "no key after it"), ([5, 40], 2, "no key at or before it"),
                                                  ([], 2, "keyed frames: none")])
def test_keyed_gap_refuses_a_playhead_outside_two_keys(keys, playhead, says):
    with pytest.raises(ValueError, match=says):
        directing.keyed_gap(keys, playhead)


def test_in_between_pins_both_keys_and_lasts_the_gap():
    anim = random_smplx_clip(4, frames=80)
    host = SceneHost(anim)
    host.keys, host.playhead = [10, 50], 30.0
    direction = directing.in_between(host, "body")(None)
    assert host.pose_reads == [[8.0, 9.0, 10.0], [50.0, 51.0, 52.0]]
    assert round(direction.duration_s * 30) == 41  # frames 10..50, both keys included
    controls = _read_back(direction)
    assert max(_pose_error(controls.start, anim, [8, 9, 10])) < 1e-9
    assert max(_pose_error(controls.end, anim, [50, 51, 52])) < 1e-9


def test_in_between_refuses_a_gap_too_short_for_the_model():
    host = SceneHost(random_smplx_clip(4, frames=80))
    host.keys, host.playhead = [10, 20], 12.0
    with pytest.raises(ValueError, match="In-between fills 20 to"):
        directing.in_between(host, "body")


def test_extend_starts_from_the_take_end_and_writes_old_then_new():
    old = random_smplx_clip(5, frames=30)
    host = SceneHost(old)
    host.takes["walk"] = (TakeInfo("walk", "body", 1, 30, 30.0, {}), old)
    direction = directing.extend_take(host, "walk")(None)
    controls = _read_back(direction)
    assert max(_pose_error(controls.start, old, [27, 28, 29])) < 1e-9
    new = random_smplx_clip(6, frames=20)
    clip, meta = directing.directed_take(direction, new, {"num_frames": 20})
    assert clip.num_frames == 49 and meta["num_frames"] == 49
    assert np.array_equal(clip.rotations[:30], old.rotations) and np.array_equal(clip.rotations[30:], new.rotations[1:])
    assert meta["directed"] == {"kind": "extend", "extend_take": {"take": "walk", "frame": 29, "context_frames": 3}}


def test_regenerate_range_redoes_the_preview_range_of_the_take():
    old = random_smplx_clip(7, frames=60)
    host = SceneHost(old)
    host.takes["jump"] = (TakeInfo("jump", "body", 1, 60, 30.0, {}), old)
    with pytest.raises(ValueError, match="preview range"):
        directing.regenerate_range(host, "jump")
    host.range = (21, 40)  # scene frames; the take starts at scene frame 1
    direction = directing.regenerate_range(host, "jump")(None)
    controls = _read_back(direction)
    assert controls.span == (20, 39) and direction.duration_s == 2.0
    assert max(_pose_error(controls.source, old, list(range(60)))) < 1e-9
    host.range = (100, 120)
    with pytest.raises(ValueError, match="outside take"):
        directing.regenerate_range(host, "jump")


def test_follow_path_spreads_the_curve_evenly_over_the_take():
    host = SceneHost(random_smplx_clip(8, frames=10))
    # a curve along +x, denser at its start, 0.5 m up: only its ground-plane course counts
    xs = np.concatenate([np.linspace(0, 1, 50), np.linspace(1, 3, 10)])
    host.curve = np.column_stack([xs, np.full_like(xs, 0.5), np.full_like(xs, 2.0)])
    direction = directing.follow_path(host, "body", "route", 4.0)(None)
    controls = _read_back(direction, 4.0)
    rows = controls.path
    assert rows[0, 0] == 0 and rows[-1, 0] == 119 and len(rows) == directing.PATH_POINTS
    # the pelvis over each point: x evenly from 0 to 3 m, z where the curve is
    assert np.allclose(np.diff(rows[:, 1]), 3 / (directing.PATH_POINTS - 1), atol=1e-6)
    assert np.allclose(rows[:, 2], 2.0, atol=1e-6) and abs(rows[0, 1]) < 1e-6


def test_follow_path_refuses_a_vertical_curve():
    host = SceneHost(random_smplx_clip(8, frames=10))
    host.curve = np.column_stack([np.zeros(5), np.linspace(0, 1, 5), np.zeros(5)])
    with pytest.raises(ValueError, match="ground plane"):
        directing.follow_path(host, "body", "pole", 4.0)


def test_a_directed_generate_sends_the_controls_and_records_them_on_the_take():
    anim = random_smplx_clip(9, frames=60)
    host = SceneHost(anim)
    host.keys, host.playhead = [5, 35], 6.0
    client = ScriptedClient()
    panel = Panel(host, Settings(variations=1), lambda s: client)
    panel.connect()
    host.pump(lambda: panel.state is State.CONNECTED)
    assert panel.generate("A person turns.", direction=directing.in_between(host, "body"))
    host.pump(lambda: panel.state in (State.TAKE_WRITTEN, State.ERROR))
    assert panel.state is State.TAKE_WRITTEN, panel.error
    sent = client.requests[0]
    assert round(sent["duration_s"] * 30) == 31
    field, arrays = sent["options"]["controls"]
    assert set(field) == {"v", "start", "end"} and arrays["controls.end.rotations"].shape == (3, 22, 3, 3)
    (info,) = host.list_takes()
    assert info.metadata["directed"] == {"kind": "inbetween", "in_between": {"rig": "body", "frames": [5, 35]}}
    assert info.frame_start == 5 and panel.written[0].frame_start == 5 and host.timeline[0] == 5  # in the gap
    assert info.metadata["duration_s"] == sent["duration_s"]
    panel.close()


def test_hosts_without_directing_refuse_with_one_line():
    host = FakeHost({"body": smplx_skeleton()})
    with pytest.raises(Exception, match="not supported in fake yet"):
        directing.start_from_current_pose(host, "body")


def _connected(host):
    client = ScriptedClient()
    panel = Panel(host, Settings(variations=1), lambda s: client)
    panel.connect()
    host.pump(lambda: panel.state is State.CONNECTED)
    return client, panel


def test_generate_with_sends_loop_only_when_chosen_and_extends_the_take_on_its_own_rig():
    from motionbridge.dcc_plugin.core import panel_actions

    old = random_smplx_clip(5, frames=30)
    host = SceneHost(old)
    host.takes["walk"] = (TakeInfo("walk", "body", 1, 30, 30.0, {}), old)
    client, panel = _connected(host)
    assert panel_actions.generate_with(panel, {}, "A person walks.")
    host.pump(lambda: panel.state is State.TAKE_WRITTEN)
    assert "controls" not in client.requests[-1]["options"]
    assert panel_actions.generate_with(panel, {}, "A person walks.", loop_on=True)
    host.pump(lambda: len(client.requests) == 2 and panel.state is State.TAKE_WRITTEN)
    assert client.requests[-1]["options"]["controls"][0] == {"v": 1, "loop": True}
    host.selected = None  # Extend needs no selection: the take's own rig
    assert panel_actions.generate_with(panel, {}, "A person waves.", "extend", take="walk")
    host.pump(lambda: len(client.requests) == 3 and panel.state in (State.TAKE_WRITTEN, State.ERROR))
    assert panel.state is State.TAKE_WRITTEN, panel.error
    assert set(client.requests[-1]["options"]["controls"][0]) == {"v", "start"}
    extended = [c for name, (info, c) in host.takes.items() if info.metadata.get("directed", {}).get("kind") == "extend"]
    assert len(extended) == 1 and extended[0].num_frames == 30 + 12 - 1
    panel.close()


def test_generate_with_refuses_extend_without_a_take_and_sends_nothing():
    from motionbridge.dcc_plugin.core import panel_actions

    host = SceneHost(random_smplx_clip(5, frames=30))
    client, panel = _connected(host)
    assert not panel_actions.generate_with(panel, {}, "A person waves.", "extend")
    assert "click one in the takes list first" in panel.error and client.requests == []
    panel.close()
