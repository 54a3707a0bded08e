"""Where each DCC keeps its per-user plugins, on Windows and Linux (macOS for Blender).

Every function takes a `prefix` override: tests and studio deployments point it at another
folder standing in for the user's DCC config root. `MOTIONBRIDGE_INSTALL_PREFIX` does the
same from the environment.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

PREFIX_ENV = "MOTIONBRIDGE_INSTALL_PREFIX"
DEFAULT_VERSIONS = {"maya": "2025", "motionbuilder": "2025"}


def _home() -> Path:
    return Path.home()


def _override(prefix: str | os.PathLike[str] | None) -> Path | None:
    chosen = prefix or os.environ.get(PREFIX_ENV)
    return Path(chosen).expanduser() if chosen else None


def blender_root(prefix=None) -> Path:
    """The folder holding one subfolder per Blender version (4.2, 4.5, ...)."""
    if (p := _override(prefix)) is not None:
        return p
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", _home() / "AppData" / "Roaming")) / "Blender Foundation" / "Blender"
    if sys.platform == "darwin":
        return _home() / "Library" / "Application Support" / "Blender"
    return Path(os.environ.get("XDG_CONFIG_HOME", _home() / ".config")) / "blender"


def blender_extensions(version: str, prefix=None) -> Path:
    """Blender's user extension repository (`user_default`) for that version."""
    return blender_root(prefix) / version / "extensions" / "user_default"


def blender_wheel_site(version: str, prefix=None, python: str = "3.11") -> Path:
    """Where Blender puts the Python wheels of installed extensions (per its Python)."""
    return blender_root(prefix) / version / "extensions" / ".local" / "lib" / f"python{python}" / "site-packages"


def blender_config_versions(prefix=None) -> list[str]:
    """The MAJOR.MINOR user-config folders under the Blender user root, newest first."""
    root = blender_root(prefix)
    found = [d.name for d in root.iterdir() if d.is_dir() and re.fullmatch(r"\d+\.\d+", d.name)] if root.is_dir() else []
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")), reverse=True)


def maya_scripts(version: str, prefix=None) -> Path:
    """Maya's per-user, per-version scripts folder (userSetup.py lives there)."""
    if (p := _override(prefix)) is not None:
        return p / version / "scripts"
    base = _home() / "Documents" / "maya" if sys.platform == "win32" else _home() / "maya"
    return Path(os.environ.get("MAYA_APP_DIR", base)) / version / "scripts"


def mayapy_default(version: str) -> Path:
    if sys.platform == "win32":
        return Path(os.environ.get("ProgramFiles", r"C:\Program Files")) / "Autodesk" / f"Maya{version}" / "bin" / "mayapy.exe"
    return Path(f"/usr/autodesk/maya{version}/bin/mayapy")


def motionbuilder_startup(version: str, prefix=None) -> Path:
    """MotionBuilder runs every script in this folder at startup."""
    if (p := _override(prefix)) is not None:
        return p / version / "config" / "PythonStartup"
    if sys.platform == "win32":
        return _home() / "Documents" / "MB" / version / "config" / "PythonStartup"
    return _home() / "MB" / version / "config" / "PythonStartup"


def mobupy_default(version: str) -> Path:
    if sys.platform == "win32":
        program_files = Path(os.environ.get("ProgramFiles", r"C:\Program Files"))
        return program_files / "Autodesk" / f"MotionBuilder {version}" / "bin" / "x64" / "mobupy.exe"
    return Path(f"/usr/autodesk/MotionBuilder{version}/bin/linux_64/mobupy")


def systemd_user_units(prefix=None) -> Path:
    if (p := _override(prefix)) is not None:
        return p / "systemd" / "user"
    return Path(os.environ.get("XDG_CONFIG_HOME", _home() / ".config")) / "systemd" / "user"
