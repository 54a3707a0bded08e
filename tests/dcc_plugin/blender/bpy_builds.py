"""The Blender builds the bpy tests run on: the installed `bpy` module and any other bpy
release installed with `pip install --target tests/.tools/bpy-<version> bpy==<version>` (or
listed in MOTIONBRIDGE_EXTRA_BPY, folders separated by os.pathsep). The add-on supports
Blender 4.2 LTS to the current release, whose Action APIs differ (4.4 made them layered)."""

from __future__ import annotations

import os
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[2] / ".tools"
EXTRA_ENV = "MOTIONBRIDGE_EXTRA_BPY"


def extra_bpy_dirs() -> list[Path]:
    listed = [Path(p) for p in os.environ.get(EXTRA_ENV, "").split(os.pathsep) if p]
    found = sorted(TOOLS.glob("bpy-*")) if TOOLS.is_dir() else []
    return [d for d in dict.fromkeys(listed + found) if (d / "bpy").is_dir()]


def builds() -> list[tuple[str, Path | None]]:
    """(label, folder to put first on PYTHONPATH or None for the installed bpy)."""
    return [("installed", None)] + [(d.name, d) for d in extra_bpy_dirs()]


def env_for(folder: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if folder is not None:
        env["PYTHONPATH"] = os.pathsep.join([env.get("PYTHONPATH", ""), str(folder)]).strip(os.pathsep)
        # after .pkgroot (this checkout), before site-packages (the installed bpy)
    return env
