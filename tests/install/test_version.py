"""One version number: written once, in daemon/__init__.py; packaging (setup.py), the CLI and the
Blender extension's manifest read it from there. (The built wheel's metadata is checked against
it in test_wheel.py.)"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from motionbridge.daemon import __version__
from motionbridge.install.blender_build import build_zip

sys.path.insert(0, str(Path(__file__).resolve().parent))
from standin_wheels import make_wheels

REPO = Path(__file__).resolve().parents[2]
# an assignment of a MAJOR.MINOR.PATCH version in Python, TOML or setup.cfg (glTF's "2.0" is not one); "0.0.0" is
# the placeholder that the Blender build replaces
VERSION_LINE = re.compile(r"""\b(__version__|version)\s*[=:]\s*["'](?!0\.0\.0["'])\d+\.\d+\.\d+[^"']*["']""", re.M)


def _tracked_source() -> list[Path]:
    """The files git tracks outside tests/ (whose fakes stand in for a daemon's answers)."""
    listed = subprocess.run(["git", "ls-files", "*.py", "*.toml", "*.cfg"], capture_output=True, text=True, cwd=REPO, check=True)
    return [REPO / p for p in listed.stdout.splitlines() if not p.startswith("tests/")]


def test_the_version_is_written_once():
    found = [p.relative_to(REPO).as_posix() for p in _tracked_source() if VERSION_LINE.search(p.read_text(encoding="utf-8"))]
    assert found == ["daemon/__init__.py"], found
    source_manifest = tomllib.loads((REPO / "dcc_plugin" / "blender" / "blender_manifest.toml").read_text(encoding="utf-8"))
    assert source_manifest["version"] == "0.0.0", "the Blender build fills in the version; leave the placeholder"
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__), __version__


def test_setup_py_and_the_cli_report_it():
    setup = subprocess.run([sys.executable, "setup.py", "--version"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert setup.returncode == 0, setup.stderr[-2000:]
    assert setup.stdout.strip().splitlines()[-1] == __version__
    cli = subprocess.run([sys.executable, "-m", "motionbridge.daemon.cli", "--version"], capture_output=True, text=True, timeout=120)
    assert cli.stdout.strip() == f"motionbridge {__version__}", cli.stdout + cli.stderr


def test_the_blender_extension_carries_it(tmp_path):
    out = build_zip(tmp_path / "motionbridge.zip", sorted(make_wheels(tmp_path / "wheels").glob("*.whl")))
    with zipfile.ZipFile(out) as zf:
        manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
    assert manifest["version"] == __version__
    assert manifest["schema_version"] == "1.0.0" and len(manifest["wheels"]) == 3, manifest
