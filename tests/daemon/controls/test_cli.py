"""`motionbridge generate --start-from/--end-at/--keys/--loop`: invalid constraints are one
line, exit status 2 and no file, before any weights load; the fixture runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from motionbridge.daemon.cli import main
from motionbridge.exporters.npz import read, write
from motionbridge.rigs import retarget
from motionbridge.rigs.humanoid import build_rig
from motionbridge.rigs.synthetic import MOTIONS


@pytest.fixture
def inputs(tmp_path):
    """A take file (walking, 60 frames), a two-take file, a take on a Mixamo rig, and keys files."""
    d = tmp_path / "in"
    d.mkdir()
    walk, wave = MOTIONS["walking"](), MOTIONS["waving"]()
    write(d / "walk.npz", [walk], ["walk"])
    write(d / "two.npz", [walk, wave], ["walk", "wave"])
    write(d / "mixamo.npz", [retarget(walk, build_rig("mixamo")).clip], ["walk"])
    rot, root = wave.rotations[[5, 25]], wave.root_translation[[5, 25]]
    np.savez(d / "keys.npz", frames=np.array([10, 30]), rotations=rot, root_translation=root)
    nan = rot.copy()
    nan[1, 3, 0] = np.nan
    np.savez(d / "nan.npz", frames=np.array([10, 30]), rotations=nan)
    np.savez(d / "joints.npz", frames=np.array([10, 30]), rotations=rot[:, :24])
    np.savez(d / "late.npz", frames=np.array([10, 400]), rotations=rot)
    np.savez(d / "twice.npz", frames=np.array([10, 10]), rotations=rot)
    np.savez(d / "noframes.npz", rotations=rot)
    np.savez(d / "notunit.npz", frames=np.array([10, 30]), rotations=rot * 2)
    (d / "path.json").write_text('{"points": [[0, 0, 0], [1.5, 1, 0]]}')
    (d / "late.json").write_text('{"points": [[0, 0, 0], [2.5, 1, 0]]}')
    (d / "back.json").write_text('{"points": [[1, 0, 0], [0.5, 1, 0]]}')
    (d / "nan.json").write_text('{"points": [[0, NaN, 0]]}')
    (d / "flat.json").write_text('{"points": [0, 1, 2]}')
    (d / "broken.json").write_text('{"points": [[0, 0, 0]')
    return d


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--start-from", "{d}/missing.npz"], "does not exist"),
        (["--start-from", "{d}/walk.npz@60"], "frames 0 to 59"),
        (["--start-from", "{d}/walk.npz@-1"], "frames 0 to 59"),
        (["--start-from", "{d}/walk.npz@x"], "whole number"),
        (["--end-at", "{d}/walk.npz@99"], "frames 0 to 59"),
        (["--end-at", "{d}/two.npz"], "2 takes"),
        (["--start-from", "{d}/keys.npz"], "not a MotionBridge tracks file"),
        (["--keys", "{d}/nan.npz"], "NaN"),
        (["--keys", "{d}/joints.npz"], "J = 55, 52 or 22"),
        (["--keys", "{d}/late.npz"], "outside the take"),
        (["--keys", "{d}/twice.npz"], "keyed twice"),
        (["--keys", "{d}/noframes.npz"], "no 'frames'"),
        (["--keys", "{d}/notunit.npz"], "unit quaternions"),
        (["--keys", "{d}/walk.npz"], "no 'frames'"),
        (["--loop", "--start-from", "{d}/walk.npz"], "cannot be combined"),
        (["--keys", "{d}/late.npz", "--server", "tcp://127.0.0.1:9"], "outside the take"),  # checked before anything is sent
        (["--path", "{d}/late.json"], "past the take's end"),
        (["--path", "{d}/back.json"], "increase"),
        (["--path", "{d}/nan.json"], "finite"),
        (["--path", "{d}/flat.json"], "[seconds, x, z]"),
        (["--path", "{d}/broken.json"], "must be JSON"),
        (["--path", "{d}/nosuch.json"], "does not exist"),
        (["--prompt-at", "soon:A person sits."], "SECONDS:PROMPT"),
        (["--prompt-at", "3:A person sits."], "not inside the take"),
        (["--prompt-at", "1:   "], "empty"),
        (["--prompt-at", "1:A.", "--prompt-at", "1.01:B."], "same frame"),
        (["--extend", "--loop"], "cannot be combined"),
        (["--regenerate", "10:5", "--from", "{d}/walk.npz"], "0 <= A <= B <= 59"),
        (["--regenerate", "10:60", "--from", "{d}/walk.npz"], "0 <= A <= B <= 59"),
        (["--regenerate", "ten:20", "--from", "{d}/walk.npz"], "first and last frame"),
        (["--regenerate", "10:20"], "go together"),
        (["--regenerate", "1:2", "--from", "{d}/walk.npz", "--loop"], "cannot be combined"),
    ],
)
def test_invalid_constraints(tmp_path, inputs, capsys, monkeypatch, flags, message):
    monkeypatch.setenv("MOTIONBRIDGE_HOME", str(tmp_path / "home"))  # no weights: nothing may get that far
    out = tmp_path / "take.npz"
    before = sorted(p.name for p in tmp_path.iterdir())
    rc = main(["generate", "A person walks.", "--duration", "2", "--out", str(out), *[f.format(d=inputs) for f in flags]])
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_start_from_a_rig_take_and_keys_end_to_end(parity, tmp_path, inputs, engine):
    """Through the real CLI in a subprocess on the fixture, on the default fast engine and on
    --engine reference: a take keyed on a Mixamo rig is retargeted back (with a warning), the
    constraints land in the metadata, the take starts at the given frame's root position and
    passes through the keys' root positions."""
    te = parity / "text_encoders"
    out = tmp_path / "take.npz"
    cmd = [
        sys.executable, "-m", "motionbridge.daemon.cli", "generate", "A person walks, then waves.", "--duration", "1.5",
        "--seed", "2", "--checkpoint", str(parity / "model"), "--qwen", str(te / "qwen3"), "--clip", str(te / "clip"),
        "--start-from", f"{inputs}/mixamo.npz@40", "--keys", str(inputs / "keys.npz"), "--out", str(out),
        *(["--engine", engine] if engine != "fast" else []),
    ]
    proc = subprocess.run(cmd, env={**os.environ, "MOTIONBRIDGE_HOME": str(tmp_path / "home")}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "mixamo rig: its poses were retargeted back to SMPL-X" in proc.stderr
    take = read(out)[0]
    assert take.num_frames == 45 and take.metadata["engine"] == engine
    recorded = take.metadata["constraints"]
    assert recorded["start_from"]["frame"] == 40 and recorded["start_from"]["file"].endswith("mixamo.npz")
    assert recorded["keys"]["frames"] == [10, 30] and recorded["keys"]["root"] is True
    walk, wave = MOTIONS["walking"](), MOTIONS["waving"]()
    # the fixture's root-height channel is dead (its README): compare the ground-plane position
    for t_frame, clip, s_frame in ((0, walk, 40), (10, wave, 5), (30, wave, 25)):
        assert np.abs(take.root_translation[t_frame, [0, 2]] - clip.root_translation[s_frame, [0, 2]]).max() < 1e-4


def test_extend_lets_the_duration_past_12_s(tmp_path):
    from motionbridge.daemon.cli import build_parser
    from motionbridge.daemon.controls.cli import read_controls
    from motionbridge.daemon.protocol import limits

    argv = ["generate", "A person walks.", "--duration", "30", "--extend", "--prompt-at", "20:A person sits.", "--out", str(tmp_path / "t.npz")]
    args = build_parser(only="generate").parse_args(argv)
    clamped = limits.check_duration(30.0)
    assert any("12 s" in w for w in clamped.warnings)
    controls, duration = read_controls(args, clamped)
    assert controls.extend_frames == 900 and controls.timeline == ((0, "A person walks."), (600, "A person sits."))
    assert duration.value == 30.0 and not duration.warnings
    assert args.engine is None  # not forced: the engine --engine picks (fast by default) runs the windows


def test_reading_the_flags_needs_no_torch():
    """The flags are checked before any weights load, and without torch's import time."""
    code = "import sys, motionbridge.daemon.controls.cli, motionbridge.daemon.controls.spec; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=os.environ, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


def test_a_rig_pose_at_another_frame_rate_becomes_a_model_take():
    from motionbridge.daemon.controls.spec import as_model_take
    from motionbridge.rigs import resample

    on_rig = resample(retarget(MOTIONS["walking"](), build_rig("rigify", pose="A", bone_axes="y_along_bone")).clip, 24.0)
    take, warnings = as_model_take(on_rig, "hero")
    assert take.skeleton.num_joints == 55 and take.fps == 30.0
    assert any("rigify rig" in w for w in warnings) and any("24 fps" in w for w in warnings)
