"""`motionbridge generate`: bad input fails fast with one line and no files; the fixture runs
end to end on CPU in a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from motionbridge.daemon.cli import main


@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MOTIONBRIDGE_HOME", str(home))
    return home


def _run(capsys, *argv):
    rc = main(["generate", *argv])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["", "--out", "{out}"], "empty"),
        (["   \t ", "--out", "{out}"], "empty"),
        (["x" * 2001, "--out", "{out}"], "limit"),
        (["A person \udcff jumps", "--out", "{out}"], "UTF-8"),
        (["A person jumps.", "--duration", "0", "--out", "{out}"], "duration"),
        (["A person jumps.", "--duration", "-2", "--out", "{out}"], "duration"),
        (["A person jumps.", "--duration", "nan", "--out", "{out}"], "duration"),
        (["A person jumps.", "--duration", "abc", "--out", "{out}"], "duration"),
        (["A person jumps.", "--seed", "-1", "--out", "{out}"], "seed"),
        (["A person jumps.", "--seed", str(2**63), "--out", "{out}"], "seed"),
        (["A person jumps.", "--seed", "x", "--out", "{out}"], "seed"),
        (["A person jumps.", "--cfg", "0.5", "--out", "{out}"], "cfg"),
        (["A person jumps.", "--cfg", "nan", "--out", "{out}"], "cfg"),
        (["A person jumps.", "--model", "2.0", "--out", "{out}"], "unknown model"),
        (["A person jumps.", "--out", "{tmp}/missing/take.npz"], "does not exist"),
        (["A person jumps.", "--out", "{tmp}/afile/take.npz"], "does not exist"),
        (["A person jumps.", "--out", "{tmp}/take.xyz"], "extension"),
        (["A person jumps.", "--out", "{tmp}"], "folder"),
    ],
)
def test_bad_input(tmp_path, empty_home, capsys, argv, message):
    (tmp_path / "afile").write_text("not a folder")
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.format(out=tmp_path / "take.npz", tmp=tmp_path) for a in argv]
    rc, err = _run(capsys, *argv)
    assert rc == 2
    assert message.lower() in err.lower(), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_missing_weights_say_what_and_how(tmp_path, empty_home, capsys):
    rc, err = _run(capsys, "一个人向前走，然后挥手。", "--duration", "20", "--out", str(tmp_path / "t.npz"))
    assert rc == 2
    assert "non-English" in err and "12 s" in err  # warnings come first: the run would go on
    assert str(empty_home / "HY-Motion-1.0" / "config.yml") in err and "Qwen3-8B" in err
    assert "motionbridge weights download --model 1.0" in err
    rc, err = _run(capsys, "A person jumps.", "--model", "lite", "--out", str(tmp_path / "t.npz"))
    assert "HY-Motion-1.0-Lite" in err and "--model lite" in err


def test_end_to_end_on_the_fixture(parity, tmp_path):
    from motionbridge.exporters.npz import read

    te = parity / "text_encoders"
    out = tmp_path / "take.npz"
    env = {**os.environ, "MOTIONBRIDGE_HOME": str(tmp_path / "home")}
    cmd = [
        sys.executable, "-m", "motionbridge.daemon.cli", "generate", "A person jumps.", "--duration", "0.4",
        "--seed", "3", "7", "--cfg", "4", "--checkpoint", str(parity / "model"), "--qwen", str(te / "qwen3"),
        "--clip", str(te / "clip"), "--out", str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "sampling 50/50" in proc.stderr and "warning" in proc.stderr  # 0.4 s is lengthened
    files = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert files == ["take_seed3.npz", "take_seed7.npz"]
    clips = {s: read(tmp_path / f"take_seed{s}.npz")[0] for s in (3, 7)}
    for seed, clip in clips.items():
        assert clip.num_frames == 20 and clip.fps == 30 and clip.skeleton.num_joints == 55
        assert clip.metadata["seed"] == seed and clip.metadata["prompt"] == "A person jumps." and clip.metadata["cfg"] == 4.0
        assert len(clip.metadata["checkpoint_sha256"]) == 64 and clip.metadata["motionbridge_version"]
        assert np.allclose(np.linalg.norm(clip.rotations, axis=-1), 1.0, atol=1e-5)
    assert not np.allclose(clips[3].rotations, clips[7].rotations)  # seeds differ
