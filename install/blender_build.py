"""Builds the Blender extension zip: the add-on, its vendored motionbridge code and wheels.

Layout of the zip (what Blender's extension installer expects, manifest at the root):
    blender_manifest.toml   (wheels list filled in)
    __init__.py, host.py, ... (dcc_plugin/blender)
    vendor/motionbridge/... (core, client, rigs, protocol, limits, exporters)
    wheels/*.whl            (pyzmq, msgpack for the chosen platforms)
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

from .vendor import package_dir, vendored_files

WHEEL_PACKAGES = ("pyzmq", "msgpack")
PYTHON_VERSION = "3.11"  # Blender 4.2 - 5.0 ship Python 3.11


def python_for_blender(version: str | None) -> str:
    """The Python an official Blender build bundles: 3.11 up to 5.0, 3.13 from 5.1 on. The
    wheels must match it, or Blender refuses the extension (seen with a 5.2 build)."""
    if not version:
        return PYTHON_VERSION
    try:
        major, minor = (int(x) for x in version.split(".")[:2])
    except ValueError:
        raise BuildError(f"Blender version {version!r}: pass it as MAJOR.MINOR, e.g. 4.5") from None
    return "3.13" if (major, minor) >= (5, 1) else "3.11"
_SKIP = re.compile(r"(__pycache__|\.pyc$|^docs/)")


class BuildError(RuntimeError):
    """The zip could not be built; the message says what to provide instead."""


def download_wheels(dest: Path, platforms: tuple[str, ...] = (), python_version: str = PYTHON_VERSION) -> list[Path]:
    """pip download the wheels for Blender's Python (needs the network or a local index)."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           "--python-version", python_version, "-d", str(dest), *WHEEL_PACKAGES]
    for plat in platforms:
        cmd[cmd.index("-d"):cmd.index("-d")] = ["--platform", plat]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(
            f"could not download wheels for {', '.join(WHEEL_PACKAGES)} ({done.stderr.strip().splitlines()[-1:] or '?'}); "
            "pass --wheels-dir with pre-downloaded wheels, or --from-zip with an already built extension"
        )
    return find_wheels(dest)


def find_wheels(folder: Path) -> list[Path]:
    wheels = sorted(folder.glob("*.whl"))
    missing = [p for p in WHEEL_PACKAGES if not any(w.name.lower().startswith(p.lower() + "-") for w in wheels)]
    if missing:
        raise BuildError(f"{folder} has no wheel for {', '.join(missing)}; put pyzmq and msgpack wheels for Blender's Python there (cp311 up to Blender 5.0, cp313 from 5.1)")
    return wheels


def _manifest_with_wheels(text: str, wheels: list[Path]) -> str:
    listed = ", ".join(f'"./wheels/{w.name}"' for w in wheels)
    out, n = re.subn(r"(?m)^wheels\s*=\s*\[.*?\]", f"wheels = [{listed}]", text)
    if n != 1:
        raise BuildError("blender_manifest.toml has no single 'wheels = [...]' line to fill in")
    return out


def build_zip(out: Path, wheels: list[Path]) -> Path:
    """Write the extension zip atomically (temp file, then rename)."""
    addon = package_dir("motionbridge.dcc_plugin.blender")
    manifest = (addon / "blender_manifest.toml").read_text(encoding="utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("blender_manifest.toml", _manifest_with_wheels(manifest, wheels))
            for path in sorted(addon.rglob("*")):
                rel = path.relative_to(addon).as_posix()
                if path.is_file() and rel != "blender_manifest.toml" and not _SKIP.search(rel):
                    zf.write(path, rel)
            for src, rel in vendored_files():
                zf.write(src, f"vendor/{rel}")
            for wheel in wheels:
                zf.write(wheel, f"wheels/{wheel.name}")
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def check_zip(path: Path) -> list[str]:
    """The wheel names a built zip carries; raises BuildError when it is not our extension."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            manifest = zf.read("blender_manifest.toml").decode() if "blender_manifest.toml" in names else ""
    except (OSError, zipfile.BadZipFile) as exc:
        raise BuildError(f"{path} is not a readable zip ({exc}); build one with `motionbridge install blender --zip-only OUT.zip`") from None
    if 'id = "motionbridge"' not in manifest or "__init__.py" not in names:
        raise BuildError(f"{path} is not a MotionBridge Blender extension zip")
    return sorted(n.split("/", 1)[1] for n in names if n.startswith("wheels/") and n.endswith(".whl"))
