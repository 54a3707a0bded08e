"""`motionbridge generate`: bad input fails fast with one line and no files; the fixture runs
end to end on CPU in a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
        (["A person jumps.", "--rig", "nosuch", "--out", "{out}"], "unknown rig"),
        (["A person jumps.", "--up", "z", "--out", "{tmp}/take.glb"], "does not apply"),
        (["A person jumps.", "--takes-per-file", "2", "--out", "{tmp}/take.bvh"], "one take each"),
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
    from fixture_cases import single_prompt

    from motionbridge.daemon.model.decode import rot6d_to_matrix
    from motionbridge.daemon.model.text_encoder import TextEncoder
    from motionbridge.daemon.tracks import clip_from_rotations
    from motionbridge.exporters.npz import read

    cases = json.loads((parity / "cases.json").read_text())["cases"]
    # `generate` takes one prompt: a case that batches different prompts cannot be asked this way
    case = min((c for c in cases if not c["use_special_game_feat"] and single_prompt(c)), key=lambda c: (len(c["seeds"]), c["length"]))
    prompt = single_prompt(case)
    te = parity / "text_encoders"
    out = tmp_path / "take.npz"
    env = {**os.environ, "MOTIONBRIDGE_HOME": str(tmp_path / "home")}
    cmd = [
        sys.executable, "-m", "motionbridge.daemon.cli", "generate", prompt, "--duration", repr(case["duration_s"]),
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
    same_text = torch.equal(encoder.encode([prompt] * len(case["seeds"])).ctxt, torch.from_numpy(exp["ctxt_raw"]))
    for b, (seed, name) in enumerate(zip(case["seeds"], names)):
        clip = read(tmp_path / name)[0]
        assert clip.num_frames == case["length"] and clip.fps == 30 and clip.skeleton.num_joints == 55
        assert clip.metadata["seed"] == seed and clip.metadata["prompt"] == prompt and clip.metadata["cfg"] == case["cfg_scale"]
        assert len(clip.metadata["checkpoint_sha256"]) == 64 and clip.metadata["motionbridge_version"]
        if same_text:
            rot = rot6d_to_matrix(torch.from_numpy(exp["rot6d"][b]).double()).numpy()
            want = clip_from_rotations(rot, exp["transl"][b])
            dots = np.abs((clip.rotations * want.rotations).sum(-1))  # q and -q are the same rotation
            assert 1 - dots.min() <= 1e-4
            np.testing.assert_allclose(clip.root_translation, want.root_translation, atol=1e-3)


def test_unreachable_server_is_one_clear_line(tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "take.npz"
    rc, err = _run(capsys, "A person jumps.", "--server", f"tcp://127.0.0.1:{port}", "--server-timeout", "0.5", "--out", str(out))
    assert rc == 2 and f"127.0.0.1:{port}" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


def test_retargeted_fbx_on_the_fixture(parity, tmp_path):
    """generate -> retarget onto a Mixamo rig -> FBX (Z-up metres), read back by assimp."""
    from motionbridge.rigs import load_rig, read_skeleton

    te = parity / "text_encoders"
    out = tmp_path / "walk.fbx"
    cmd = [
        sys.executable, "-m", "motionbridge.daemon.cli", "generate", "A person walks forward.", "--duration", "1",
        "--seed", "4", "--checkpoint", str(parity / "model"), "--qwen", str(te / "qwen3"), "--clip", str(te / "clip"),
        "--rig", "mixamo", "--up", "z", "--units", "m", "--out", str(out),
    ]
    proc = subprocess.run(cmd, env=os.environ, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["walk.fbx"]
    skeleton = read_skeleton(out)
    plain = {n.split(":")[-1] for n in skeleton.names}
    wanted = {b.split(":")[-1] for b in load_rig("mixamo").bones.values()}
    assert wanted and wanted <= plain, sorted(wanted - plain)
    assert "Hips" in plain and "pelvis" not in plain  # the Mixamo rig, not the SMPL-X one


def test_repeated_seeds_are_generated_once_with_a_warning(tmp_path, empty_home, capsys):
    from motionbridge.daemon.cli_generate import _distinct_seeds

    assert _distinct_seeds([0, 0, 5, 0]) == ([0, 5], ["seed 0 given more than once; each seed is generated once"])
    assert _distinct_seeds([2, 1]) == ([2, 1], [])
    rc, err = _run(capsys, "A person jumps.", "--seed", "0", "0", "--out", str(tmp_path / "t.npz"))
    assert "warning: seed 0 given more than once" in err and "weights missing" in err  # warned, then went on


def _fixture_generate(parity, out, *extra):
    te = parity / "text_encoders"
    cmd = [sys.executable, "-m", "motionbridge.daemon.cli", "generate", "A person walks.", "--duration", "1", "--seed", "3",
           "--checkpoint", str(parity / "model"), "--qwen", str(te / "qwen3"), "--clip", str(te / "clip"), "--out", str(out), *extra]
    return subprocess.run(cmd, env=os.environ, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("where", ["symlinked folder", "unwritable folder"])
def test_bad_output_fails_before_any_model_work(parity, tmp_path, where):
    """With real weights present, an output that cannot be written stops before the model loads:
    no sampling progress, one line, exit 2. (/proc takes no new files, even for root, for whom
    permission bits mean nothing.)"""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    out = tmp_path / "link" / "take.npz" if where == "symlinked folder" else Path("/proc/take.npz")
    proc = _fixture_generate(parity, out)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "sampling" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr[-2000:]
    assert ("symbolic link" if where == "symlinked folder" else "not writable") in proc.stderr
    assert not any(real.iterdir())


def test_a_take_is_the_same_bytes_in_process_and_through_serve(parity, tmp_path):
    """`generate` and `serve` run the same engine by default: the same request gives the same
    arrays, bit for bit, on the CPU in float32 (they once differed by 5e-3 in rotations)."""
    from daemon_proc import DaemonProcess

    from motionbridge.exporters.npz import read

    te = parity / "text_encoders"
    weights = ["--checkpoint", str(parity / "model"), "--qwen", str(te / "qwen3"), "--clip", str(te / "clip")]
    request = ["A person walks, then waves.", "--duration", "1", "--seed", "0", "1", "--dtype", "float32", "--device", "cpu"]
    env = {**os.environ, "MOTIONBRIDGE_HOME": str(tmp_path / "home")}

    def generate(out: Path, *extra: str) -> None:
        out.parent.mkdir()
        cmd = [sys.executable, "-m", "motionbridge.daemon.cli", "generate", *request, "--out", str(out), *extra]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr

    generate(tmp_path / "local" / "take.npz", *weights)
    d = DaemonProcess("--parity", str(parity), "--device", "cpu", "--dtype", "float32")
    try:
        generate(tmp_path / "served" / "take.npz", "--server", d.endpoint)
    finally:
        d.stop()
    for seed in (0, 1):
        local, served = (read(tmp_path / where / f"take_seed{seed}.npz")[0] for where in ("local", "served"))
        assert local.rotations.tobytes() == served.rotations.tobytes(), np.abs(local.rotations - served.rotations).max()
        assert local.root_translation.tobytes() == served.root_translation.tobytes()
