"""Finds the Blenders installed on this machine and the Python each one runs.

An extension's wheels must match the Blender's own Python, or Blender refuses the extension.
An official build says which Python it bundles in its layout (`<X.Y>/python/lib/python3.N`
beside the executable on Linux, `Contents/Resources/<X.Y>/python/...` on macOS,
`python3NN.dll` beside `blender.exe` on Windows). A distribution's build (Debian, Arch...)
runs the system Python: it is asked, by running it once in the background.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MIN_BLENDER = (4, 2)  # extensions (blender_manifest.toml) exist from Blender 4.2 LTS
# the Python of the official builds, by Blender version (the VFX reference platform):
# used when only a version is known (no executable found)
OFFICIAL_PYTHON = (((4, 2), "3.11"), ((5, 1), "3.13"))
ASK_TIMEOUT_S = 120


class LocateError(ValueError):
    """A Blender that cannot be served, or none found; the message says what to pass."""


@dataclass(frozen=True)
class BlenderBuild:
    version: str  # MAJOR.MINOR, the name of its user-config folder
    python: str  # e.g. "3.11"
    executable: Path | None  # None: known from its config folder or --blender-version only

    def describe(self) -> str:
        where = f" at {self.executable}" if self.executable else ""
        return f"Blender {self.version} (Python {self.python}){where}"


def version_tuple(version: str) -> tuple[int, int]:
    try:
        major, minor = (int(x) for x in version.split(".")[:2])
    except ValueError:
        raise LocateError(f"Blender version {version!r}: pass it as MAJOR.MINOR, e.g. 4.5") from None
    return major, minor


def check_supported(version: str) -> str:
    """MAJOR.MINOR of a Blender the extension can serve; one line why not otherwise."""
    major, minor = version_tuple(version)
    if (major, minor) < MIN_BLENDER:
        raise LocateError(f"Blender {major}.{minor} cannot run the MotionBridge extension: it needs Blender "
                          f"{MIN_BLENDER[0]}.{MIN_BLENDER[1]} LTS or newer (extensions start there); install a newer Blender")
    return f"{major}.{minor}"


def official_python(version: str) -> str:
    """The Python an official build of that Blender bundles."""
    wanted = version_tuple(version)
    found = OFFICIAL_PYTHON[0][1]
    for since, python in OFFICIAL_PYTHON:
        if wanted >= since:
            found = python
    return found


def standard_executables() -> list[Path]:
    """Where Blender is usually installed, per OS (existing files only)."""
    home = Path.home()
    patterns: list[tuple[Path, str]]
    if sys.platform == "win32":
        program_files = Path(os.environ.get("ProgramFiles", r"C:\Program Files"))
        patterns = [(program_files / "Blender Foundation", "Blender*/blender.exe"),
                    (program_files / "Steam" / "steamapps" / "common", "Blender/blender.exe")]
    elif sys.platform == "darwin":
        patterns = [(Path("/Applications"), "Blender*.app/Contents/MacOS/Blender"),
                    (home / "Applications", "Blender*.app/Contents/MacOS/Blender")]
    else:
        patterns = [(Path("/opt"), "blender*/blender"), (Path("/usr/local"), "blender*/blender"),
                    (home, "blender*/blender"), (home / "Applications", "blender*/blender"),
                    (home / ".local" / "opt", "blender*/blender"), (Path("/snap/blender/current"), "blender")]
    found = [p for base, pattern in patterns if base.is_dir() for p in sorted(base.glob(pattern))]
    on_path = shutil.which("blender")
    return [*found, *([Path(on_path)] if on_path else [])]


def _layout_version_python(exe: Path) -> tuple[str, str] | None:
    """(version, python) from an official build's folders, or None (a distribution's build)."""
    real = exe.resolve()
    resources = real.parent.parent / "Resources" if real.parent.name == "MacOS" else real.parent
    for folder in sorted(resources.glob("[0-9]*.[0-9]*"), reverse=True):
        if not re.fullmatch(r"\d+\.\d+", folder.name):
            continue
        libs = sorted((folder / "python" / "lib").glob("python3.*"))
        if libs:
            return folder.name, libs[-1].name.removeprefix("python")
        dlls = sorted(real.parent.glob("python3*.dll"))  # Windows: python311.dll
        if dlls:
            digits = dlls[-1].stem.removeprefix("python")
            return folder.name, f"{digits[0]}.{digits[1:]}"
    return None


def _ask(exe: Path) -> tuple[str, str]:
    """Run the Blender once in the background: its version and its Python's."""
    code = "import bpy, sys; print('MB_VERSIONS', '%d.%d' % bpy.app.version[:2], '%d.%d' % sys.version_info[:2])"
    try:
        done = subprocess.run([str(exe), "--background", "--factory-startup", "--python-expr", code],
                              capture_output=True, text=True, timeout=ASK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocateError(f"could not run {exe} to read its version ({exc}); pass --blender-version and --blender-python") from None
    found = re.search(r"MB_VERSIONS (\d+\.\d+) (\d+\.\d+)", done.stdout)
    if not found:
        raise LocateError(f"{exe} did not report its version (exit {done.returncode}); pass --blender-version and --blender-python")
    return found.group(1), found.group(2)


def inspect(exe: Path) -> BlenderBuild:
    if not exe.is_file():
        raise LocateError(f"{exe} is not a Blender executable; "
                          "pass the path of `blender` (blender.exe, Blender.app/Contents/MacOS/Blender)")
    version, python = _layout_version_python(exe) or _ask(exe)
    return BlenderBuild(version, python, exe)


def find_blenders(candidates: list[Path] | None = None) -> tuple[list[BlenderBuild], list[str]]:
    """The Blenders found (newest first, one per version) and one line for each one found
    that cannot be served."""
    builds: dict[str, BlenderBuild] = {}
    refused: list[str] = []
    for exe in candidates if candidates is not None else standard_executables():
        try:
            build = inspect(exe)
            check_supported(build.version)
        except LocateError as exc:
            refused.append(str(exc))
            continue
        builds.setdefault(build.version, build)
    ordered = sorted(builds.values(), key=lambda b: version_tuple(b.version), reverse=True)
    return ordered, refused
