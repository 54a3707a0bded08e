"""The quality gates are wired: install/gates.sh with the repository's own pyproject.toml fails on a
planted finding and passes without one, install/run_tests.sh fails on a gate's finding when the
suite passes, and the pre-commit hooks run the same script. Each runs in a small copy of the
checkout (the real scripts and config, an empty package for each folder they name), so nothing is
planted in the source tree."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = ("gates.sh", "run_tests.sh", "venv.sh")


def mypy_packages() -> list[str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]["packages"]


def ruff_paths() -> list[str]:
    found = re.search(r"^RUFF_PATHS=\((.*)\)$", (REPO / "install" / "gates.sh").read_text(encoding="utf-8"), re.M)
    assert found, "install/gates.sh has no RUFF_PATHS=(...) line"
    return found.group(1).split()


def test_the_gates_name_folders_that_exist():
    packages = mypy_packages()
    assert {"motionbridge.rigs", "motionbridge.exporters"} <= set(packages), packages
    for name in packages:
        folder = REPO.joinpath(*name.split(".")[1:])
        assert (folder / "__init__.py").is_file(), f"pyproject's [tool.mypy] names {name}, but {folder} is not a package"
    for path in ruff_paths():
        assert (REPO / path).exists(), f"install/gates.sh's RUFF_PATHS names {path}, which does not exist"


@pytest.fixture
def checkout(tmp_path) -> Path:
    (tmp_path / "install").mkdir()
    for script in SCRIPTS:
        shutil.copy(REPO / "install" / script, tmp_path / "install" / script)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(REPO / ".pre-commit-config.yaml", tmp_path / ".pre-commit-config.yaml")
    for name in mypy_packages():
        folder = tmp_path
        for part in name.split(".")[1:]:
            folder = folder / part
            folder.mkdir(exist_ok=True)
            (folder / "__init__.py").touch()
    for path in ruff_paths():
        if path.endswith(".py"):
            (tmp_path / path).touch()
        else:
            (tmp_path / path).mkdir(parents=True, exist_ok=True)
    return tmp_path


def gate(checkout: Path, which: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(checkout / "install" / "gates.sh"), which], capture_output=True, text=True,
                          env={**os.environ, "PY": sys.executable}, timeout=300)


def test_both_gates_pass_on_clean_code(checkout):
    (checkout / "rigs" / "clean.py").write_text("def height(metres: float) -> float:\n    return metres * 100.0\n")
    for which in ("ruff", "mypy"):
        done = gate(checkout, which)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_ruff_gate_fails_on_an_undefined_name(checkout):
    (checkout / "rigs" / "planted.py").write_text("def height():\n    return metres * 100.0\n")
    done = gate(checkout, "ruff")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "F821" in done.stdout and "rigs/planted.py" in done.stdout, done.stdout


def test_the_mypy_gate_fails_on_a_type_error(checkout):
    (checkout / "exporters" / "planted.py").write_text("def height() -> float:\n    return 'tall'\n")
    done = gate(checkout, "mypy")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "exporters/planted.py:2: error" in done.stdout and "[return-value]" in done.stdout, done.stdout


def test_the_mypy_gate_checks_calls_into_the_dcc_sdks(checkout):
    """The SDK stubs are found (motionbuilder-stubs through .pkgroot/stubs, types-maya as a package),
    or a clean result for the adapters would prove nothing."""
    (checkout / "dcc_plugin" / "motionbuilder" / "planted.py").write_text("from pyfbsdk import FBTime\n\nFBTime('soon')\n")
    (checkout / "dcc_plugin" / "maya" / "planted.py").write_text("from maya import cmds\n\ncmds.playbackOptions(minTime='soon')\n")
    done = gate(checkout, "mypy")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "motionbuilder/planted.py:3: error" in done.stdout and "maya/planted.py:3: error" in done.stdout, done.stdout


def test_run_tests_fails_on_a_finding_when_the_suite_passes(checkout):
    """The README's test command with a stand-in dependency step and a one-test suite."""
    (checkout / "install" / "dev_setup.sh").write_text("exit 0\n")
    (checkout / "tests").mkdir(exist_ok=True)
    (checkout / "tests" / "test_one.py").write_text("def test_one():\n    assert sum([1, 2]) == 3\n")
    env = {**os.environ, "VIRTUAL_ENV": sys.prefix}
    env.pop("PY", None)

    def run_tests() -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "install/run_tests.sh", "-q", "-p", "no:cacheprovider", "tests/test_one.py"], cwd=checkout,
                              capture_output=True, text=True, env=env, timeout=300)

    clean = run_tests()
    assert clean.returncode == 0 and "1 passed" in clean.stdout, clean.stdout + clean.stderr
    (checkout / "rigs" / "planted.py").write_text("def height():\n    return metres * 100.0\n")
    planted = run_tests()
    assert "1 passed" in planted.stdout and "F821" in planted.stdout, planted.stdout + planted.stderr
    assert planted.returncode == 1, planted.stdout


def test_pre_commit_runs_the_same_gates(checkout):
    hooks = {h["id"]: h for repo in yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())["repos"] for h in repo["hooks"]}
    assert {h["entry"] for h in hooks.values()} == {"bash install/gates.sh ruff", "bash install/gates.sh mypy"}, hooks
    if importlib.util.find_spec("pre_commit") is None:
        pytest.fail("pre-commit is not installed; run bash install/dev_setup.sh (the dev extra has it)")
    env = {**os.environ, "PY": sys.executable, "PRE_COMMIT_HOME": str(checkout / ".pre-commit-home")}
    subprocess.run(["git", "init", "-q"], cwd=checkout, check=True)
    (checkout / "rigs" / "planted.py").write_text("import os\n")  # unused: a ruff finding, no mypy one
    subprocess.run(["git", "add", "-A"], cwd=checkout, check=True)
    done = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=checkout, capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"^ruff check.*Failed$", done.stdout, re.M) and "F401" in done.stdout, done.stdout
    assert re.search(r"^mypy .*Passed$", done.stdout, re.M), done.stdout
