"""The isolated install: quickstart.sh, run_tests.sh and dev_setup.sh install into a virtual
environment (the active one, else `.venv` in the checkout, made by install/venv.sh) and never
into the Python they were started with."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = ("quickstart.sh", "run_tests.sh", "dev_setup.sh")


def _use_venv(root: Path, virtual_env: str | None = None, path_first: Path | None = None) -> subprocess.CompletedProcess:
    """Sources a copy of venv.sh in `root` and prints the Python it picked."""
    (root / "install").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "install" / "venv.sh", root / "install" / "venv.sh")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    if virtual_env:
        env["VIRTUAL_ENV"] = virtual_env
    if path_first:
        env["PATH"] = f"{path_first}{os.pathsep}{env['PATH']}"
    script = 'source install/venv.sh && mb_use_venv "$PWD" && echo "PY=$PY" && command -v python'
    return subprocess.run(["bash", "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=300)


def _picked(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr
    return re.search(r"^PY=(.*)$", proc.stdout, re.M).group(1)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("checkout")
    return root, _use_venv(root)


def test_without_an_active_environment_dot_venv_is_made_and_used(made):
    root, proc = made
    py = _picked(proc)
    assert py == str(root / ".venv" / "bin" / "python")
    prefixes = subprocess.run([py, "-c", "import sys; print(sys.prefix, sys.base_prefix)"],
                              capture_output=True, text=True, check=True).stdout.split()
    assert prefixes[0] != prefixes[1] and Path(prefixes[0]) == root / ".venv"
    assert proc.stdout.strip().endswith(str(root / ".venv" / "bin" / "python"))  # and first on PATH


def test_an_existing_dot_venv_is_reused(made):
    root, _ = made
    marker = root / ".venv" / "kept"
    marker.touch()
    assert _picked(_use_venv(root)) == str(root / ".venv" / "bin" / "python") and marker.exists()


def test_an_active_environment_is_used_as_it_is(made, tmp_path):
    active = made[0] / ".venv"
    assert _picked(_use_venv(tmp_path, str(active))) == str(active / "bin" / "python")
    assert not (tmp_path / ".venv").exists()


def test_uv_makes_the_environment_when_it_is_on_path(tmp_path):
    tools = tmp_path / "tools"
    got = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(tools), "uv"],
                         capture_output=True, text=True, timeout=600)
    if got.returncode or not (tools / "bin" / "uv").is_file():
        pytest.skip(f"uv could not be installed here: {got.stderr.strip()[-200:]}")
    root = tmp_path / "checkout"
    py = _picked(_use_venv(root, path_first=tools / "bin"))
    assert py == str(root / ".venv" / "bin" / "python")
    assert "uv =" in (root / ".venv" / "pyvenv.cfg").read_text()  # uv made it, not python3 -m venv
    subprocess.run([py, "-m", "pip", "--version"], check=True, capture_output=True, timeout=120)  # installs go through its pip


def test_a_plain_python_is_refused(tmp_path):
    fake = tmp_path / "notavenv"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "python").symlink_to(Path(sys.base_prefix) / "bin" / "python3")
    proc = _use_venv(tmp_path / "checkout", str(fake))
    assert proc.returncode != 0 and "not a virtual environment" in proc.stderr


def test_scripts_install_only_through_the_chosen_environment():
    for name in SCRIPTS:
        text = (REPO / "install" / name).read_text()
        assert "mb_use_venv" in text, f"{name} does not pick a virtual environment"
        for line in text.splitlines():
            if re.search(r"\bpip\b.*\binstall\b", line) and not line.lstrip().startswith("#"):
                assert re.search(r'"\$(PY|overlay/bin/python)"', line), f"{name} installs outside the environment: {line.strip()}"
        assert "numpy<2" not in text, f"{name} forces numpy<2"


def test_run_tests_runs_the_suite_in_a_virtual_environment():
    """Under run_tests.sh (as CI runs it) this interpreter is the environment's, not the system's."""
    chosen = os.environ.get("MOTIONBRIDGE_TEST_VENV")
    if not chosen:
        pytest.skip("not started by install/run_tests.sh")
    assert sys.prefix != sys.base_prefix
    assert Path(sys.executable).parent == Path(chosen).parent
