"""MotionBuilder and Maya cannot run here: their adapters are type-checked with mypy against
motionbuilder-stubs and types-maya (the dev extra installs both)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIG = """[mypy]
python_version = 3.11
warn_unused_ignores = True
[mypy-pyfbsdk,pyfbsdk_additions,callbackframework,maya.*]
ignore_errors = True
"""


@pytest.fixture(scope="module")
def stubs(tmp_path_factory) -> Path:
    """motionbuilder-stubs ships bare top-level .pyi files, which mypy only finds on MYPYPATH."""
    try:
        files = importlib.metadata.files("motionbuilder-stubs") or []
        importlib.metadata.version("types-maya")
    except importlib.metadata.PackageNotFoundError as exc:
        pytest.fail(f"{exc.name} is not installed; pip install -e '.[dev]'")
    out = tmp_path_factory.mktemp("stubs")
    for f in files:
        if f.name.endswith(".pyi"):
            (out / f.name).symlink_to(Path(f.locate()).resolve())
    (out / "mypy.ini").write_text(CONFIG)
    return out


def mypy(stubs: Path, *targets: str) -> subprocess.CompletedProcess:
    pkgroot = REPO / ".pkgroot"
    env = dict(os.environ, MYPYPATH=os.pathsep.join([str(stubs), str(pkgroot)]))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(stubs / "mypy.ini"), "--follow-imports=silent",
         "--cache-dir", str(stubs / ".mypy_cache"), *targets],
        capture_output=True, text=True, env=env, cwd=str(pkgroot), timeout=600,
    )


@pytest.fixture(scope="module")
def report(stubs) -> str:
    """One mypy run (the Maya stubs are large): the adapters, plus wrong calls into each SDK
    that must be caught, or a clean result for the adapters would prove nothing."""
    bad = stubs / "bad_calls.py"  # on MYPYPATH, so it can be named as a module
    bad.write_text(
        "from pyfbsdk import FBFCurve, FBTime\n"
        "FBFCurve().KeyAdd('not a time', 1.0)\n"
        "from maya import cmds\n"
        "cmds.playbackOptions(minTime='soon')\n"
    )
    done = mypy(stubs, "-p", "motionbridge.dcc_plugin.motionbuilder", "-p", "motionbridge.dcc_plugin.maya", "-m", "bad_calls")
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return done.stdout


def test_motionbuilder_and_maya_adapters_type_check_clean(report):
    ours = [line for line in report.splitlines() if "motionbridge/dcc_plugin/" in line and ": error:" in line]
    assert not ours, "\n".join(ours)


def test_the_stubs_really_check_calls(report):
    assert "bad_calls.py:2: error" in report and "bad_calls.py:4: error" in report, report[-3000:]
