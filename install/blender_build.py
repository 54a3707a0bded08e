"""Builds the Blender extension zip: the add-on, its vendored motionbridge code and wheels.

Layout of the zip (what Blender's extension installer expects, manifest at the root):
    blender_manifest.toml   (version and wheels list filled in)
    __init__.py, host.py, ... (dcc_plugin/blender)
    vendor/motionbridge/... (install/vendor.py: the light layer, rigs, the plugin core, prompt_assist, exporters)
    wheels/*.whl            (pyzmq, msgpack, pygltflib and its pure-Python dependencies,
                             for one Blender's Python and the chosen platforms)

USD export inside Blender uses the `pxr` module Blender itself bundles (the add-on puts it
on sys.path), so usd-core is not carried.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

from .vendor import package_dir, vendored_files

# the top-level packages the extension needs from wheels: the client's, and glTF export's
# (pygltflib; its dependencies are pulled in by pip download, or must be in --wheels-dir)
WHEEL_PACKAGES = ("pyzmq", "msgpack", "pygltflib")
_SKIP = re.compile(r"(__pycache__|\.pyc$|^docs/)")
_WHEEL_TAGS = re.compile(r"^(?P<name>[^-]+)-[^-]+(-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$")


def package_version() -> str:
    """The one version number, written in daemon/__init__.py (setup.py reads it there too)."""
    from motionbridge.daemon import __version__

    return __version__


class BuildError(RuntimeError):
    """The zip could not be built; the message says what to provide instead."""


def download_wheels(dest: Path, platforms: tuple[str, ...] = (), python_version: str = "3.11") -> list[Path]:
    """pip download the wheels, with their dependencies, for Blender's Python (needs the
    network or a local index)."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
           "--python-version", python_version, "-d", str(dest), *WHEEL_PACKAGES]
    for plat in platforms:
        cmd[cmd.index("-d"):cmd.index("-d")] = ["--platform", plat]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(
            f"could not download wheels for {', '.join(WHEEL_PACKAGES)} ({done.stderr.strip().splitlines()[-1:] or '?'}); "
            "pass --wheels-dir with pre-downloaded wheels, or --from-zip with an already built extension"
        )
    return find_wheels(dest, python_version)


def find_wheels(folder: Path, python_version: str = "3.11") -> list[Path]:
    """The wheels in `folder`, checked: one for each of WHEEL_PACKAGES, each installable on
    Blender's Python `python_version`."""
    wheels = sorted(folder.glob("*.whl"))
    missing = [p for p in WHEEL_PACKAGES if not any(w.name.lower().startswith(p.lower() + "-") for w in wheels)]
    if missing:
        raise BuildError(f"{folder} has no wheel for {', '.join(missing)}; `pip download --only-binary=:all: --python-version "
                         f"{python_version} {' '.join(WHEEL_PACKAGES)} -d {folder}` puts them there")
    wrong = [w.name for w in wheels if not wheel_fits(w.name, python_version)]
    if wrong:
        raise BuildError(f"{wrong[0]} in {folder} is not for Python {python_version}, the Python of that Blender "
                         "(Blender refuses the extension); download the wheels for it")
    return wheels


def wheel_fits(filename: str, python_version: str) -> bool:
    """Whether a wheel installs on CPython `python_version` (pure, abi3 or that cpXY)."""
    tags = _WHEEL_TAGS.match(filename)
    if tags is None:
        return False
    major, _, minor = python_version.partition(".")
    want = int(major + minor) if (major + minor).isdigit() else -1
    for py in tags["py"].split("."):
        if py.startswith("py3"):
            return True
        if py.startswith("cp") and py[2:].isdigit():
            have = int(py[2:])
            if have == want or (tags["abi"] == "abi3" and have <= want):
                return True
    return False


def python_of_wheels(names: list[str]) -> set[str]:
    """The CPython versions (e.g. {"3.11"}) that version-specific wheels are built for."""
    found: set[str] = set()
    for name in names:
        tags = _WHEEL_TAGS.match(name)
        if tags and tags["abi"] != "abi3":
            found.update(f"{p[2]}.{p[3:]}" for p in tags["py"].split(".") if p.startswith("cp") and p[2:].isdigit())
    return found


def _filled_manifest(text: str, wheels: list[Path], version: str) -> str:
    """The add-on's manifest with the package's version and the wheels the zip carries."""
    listed = ", ".join(f'"./wheels/{w.name}"' for w in wheels)
    for key, value in (("version", f'"{version}"'), ("wheels", f"[{listed}]")):
        text, n = re.subn(rf"(?m)^{key}\s*=\s*(\[.*?\]|\"[^\"]*\")", f"{key} = {value}", text)
        if n != 1:
            raise BuildError(f"blender_manifest.toml has no single '{key} = ...' line to fill in")
    return text


def build_zip(out: Path, wheels: list[Path]) -> Path:
    """Write the extension zip atomically (temp file, then rename)."""
    addon = package_dir("motionbridge.dcc_plugin.blender")
    manifest = (addon / "blender_manifest.toml").read_text(encoding="utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("blender_manifest.toml", _filled_manifest(manifest, wheels, package_version()))
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
        raise BuildError(f"{path} is not a readable zip ({exc}); "
                         "build one with `motionbridge install blender --zip-only OUT.zip`") from None
    if 'id = "motionbridge"' not in manifest or "__init__.py" not in names:
        raise BuildError(f"{path} is not a MotionBridge Blender extension zip")
    return sorted(n.split("/", 1)[1] for n in names if n.startswith("wheels/") and n.endswith(".whl"))
