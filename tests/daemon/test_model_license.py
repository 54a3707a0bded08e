"""The model licence up front: `weights download` prints its limits and fetches nothing until it
is accepted (--accept-license, or `yes` typed on a real terminal: a pty here), and every take
records the licence's name. No internet here: with HF_HUB_OFFLINE=1, getting as far as
"could not download" proves the gate let the download start."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import numpy as np
import pytest

from motionbridge.daemon.cli import main
from motionbridge.daemon.model_license import MODEL_LICENSE
from motionbridge.daemon.tracks import clip_from_rotations

LIMITS = ("European Union", "United Kingdom", "South Korea", "1 million monthly active users")


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_download_without_acceptance_prints_limits_and_fetches_nothing(tmp_path, offline, capsys):
    home = tmp_path / "home"
    rc = main(["weights", "download", "--home", str(home), "--skip-text-encoders"])
    err = capsys.readouterr().err
    assert rc == 2
    assert all(limit in err for limit in LIMITS), err
    assert "not accepted, nothing was downloaded" in err and "--accept-license" in err
    assert "could not download" not in err and not home.exists()


def test_accept_flag_lets_the_download_start(tmp_path, offline, capsys):
    rc = main(["weights", "download", "--home", str(tmp_path / "home"), "--skip-text-encoders", "--accept-license"])
    err = capsys.readouterr().err
    assert all(limit in err for limit in LIMITS)
    assert rc == 2 and "could not download tencent/HY-Motion-1.0" in err


def _download_on_a_terminal(tmp_path, answer: str) -> tuple[int, str]:
    """Runs the CLI with a pty as stdin (isatty() is true) and types `answer`."""
    master, slave = pty.openpty()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "motionbridge.daemon.cli", "weights", "download", "--home", str(tmp_path / "home"), "--skip-text-encoders"],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    os.close(slave)
    os.write(master, f"{answer}\n".encode())
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        os.close(master)
    return proc.returncode, err


def test_yes_on_a_terminal_accepts(tmp_path):
    rc, err = _download_on_a_terminal(tmp_path, "yes")
    assert "Type yes to continue" in err
    assert rc == 2 and "could not download tencent/HY-Motion-1.0" in err, err


def test_anything_else_on_a_terminal_refuses(tmp_path):
    rc, err = _download_on_a_terminal(tmp_path, "no")
    assert rc == 2 and "not accepted" in err and "could not download" not in err, err
    assert not (tmp_path / "home").exists()


def test_every_take_records_the_model_licence():
    frames = 3
    clip = clip_from_rotations(np.tile(np.eye(3), (frames, 22, 1, 1)), np.zeros((frames, 3)), {"model": "HY-Motion-1.0"})
    assert clip.metadata["model_license"] == MODEL_LICENSE and clip.metadata["model"] == "HY-Motion-1.0"
