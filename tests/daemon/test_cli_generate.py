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


def test_one_file_per_seed():
    from pathlib import Path

    from motionbridge.daemon.cli_generate import output_paths

    assert output_paths(Path("out/take.npz"), (3,)) == [Path("out/take.npz")]
    assert output_paths(Path("out/take.npz"), (3, 7)) == [Path("out/take_seed3.npz"), Path("out/take_seed7.npz")]


def test_end_to_end_on_the_fixture(parity, tmp_path):
    """The cheapest fixture case (fewest seeds), through the real CLI in a subprocess; the written
    tracks must equal the fixture's decoded motion (when our bf16 text features equal the
    stored ones, which the text-encoder parity test checks separately)."""
    import json

    import torch

    from motionbridge.daemon.model.decode import rot6d_to_matrix
    from motionbridge.daemon.model.text_encoder import TextEncoder
    from motionbridge.daemon.tracks import clip_from_rotations
    from motionbridge.exporters.npz import read

    cases = json.loads((parity / "cases.json").read_text())["cases"]
    case = min((c for c in cases if not c["use_special_game_feat"]), key=lambda c: (len(c["seeds"]), c["length"]))
    te = parity / "text_encoders"
    out = tmp_path / "take.npz"
    env = {**os.environ, "MOTIONBRIDGE_HOME": str(tmp_path / "home")}
    cmd = [
        sys.executable, "-m", "motionbridge.daemon.cli", "generate", case["text"], "--duration", repr(case["duration_s"]),
        "--seed", *[str(s) for s in case["seeds"]], "--cfg", repr(case["cfg_scale"]), "--checkpoint", str(parity / "model"),
        "--qwen", str(te / "qwen3"), "--clip", str(te / "clip"), "--out", str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    from motionbridge.daemon.model.config import load_config

    steps = load_config(parity / "model" / "config.yml").pipeline.validation_steps
    assert f"sampling {steps}/{steps}" in proc.stderr  # non-tty progress: every 10 steps and the last
    names = [out.name] if len(case["seeds"]) == 1 else [f"take_seed{s}.npz" for s in case["seeds"]]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == sorted(names)
    with np.load(parity / "expected.npz", allow_pickle=False) as data:
        exp = {k: data[f"{case['name']}/{k}"] for k in ("rot6d", "transl", "ctxt_raw")}
    encoder = TextEncoder(te / "qwen3", te / "clip")
    same_text = torch.equal(encoder.encode([case["text"]] * len(case["seeds"])).ctxt, torch.from_numpy(exp["ctxt_raw"]))
    for b, (seed, name) in enumerate(zip(case["seeds"], names)):
        clip = read(tmp_path / name)[0]
        assert clip.num_frames == case["length"] and clip.fps == 30 and clip.skeleton.num_joints == 55
        assert clip.metadata["seed"] == seed and clip.metadata["prompt"] == case["text"] and clip.metadata["cfg"] == case["cfg_scale"]
        assert len(clip.metadata["checkpoint_sha256"]) == 64 and clip.metadata["motionbridge_version"]
        if same_text:
            rot = rot6d_to_matrix(torch.from_numpy(exp["rot6d"][b]).double()).numpy()
            want = clip_from_rotations(rot, exp["transl"][b])
            dots = np.abs((clip.rotations * want.rotations).sum(-1))  # q and -q are the same rotation
            assert 1 - dots.min() <= 1e-4
            np.testing.assert_allclose(clip.root_translation, want.root_translation, atol=1e-3)
