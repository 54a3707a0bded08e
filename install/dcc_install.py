"""Installs the plugin into Blender, Maya and MotionBuilder user folders, and removes it."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

from . import paths, records
from .blender_build import check_zip
from .vendor import copy_into, package_dir

DEPENDENCIES = ("numpy", "pyzmq", "msgpack")
PLUGIN_FOLDER = "motionbridge_plugin"


class InstallError(RuntimeError):
    """An install step failed; the message says what to pass or fix."""


# -- Blender ------------------------------------------------------------------------------

EXTENSION_ID = "motionbridge"
EXTENSION_REPO = "user_default"
BLENDER_TIMEOUT_S = 600


def _blender_env(version: str, prefix) -> dict[str, str]:
    """Blender's environment: its user folder moved under `prefix` when one is given."""
    env = dict(os.environ)
    if prefix or os.environ.get(paths.PREFIX_ENV):
        env["BLENDER_USER_RESOURCES"] = str(paths.blender_root(prefix) / version)
    return env


def _run_blender_command(executable: Path, version: str, prefix, *command: str) -> None:
    """`blender --command extension ...`: Blender's own extension manager does the work."""
    try:
        done = subprocess.run([str(executable), "--command", "extension", *command], capture_output=True, text=True,
                              env=_blender_env(version, prefix), timeout=BLENDER_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"could not run {executable} ({exc}); pass --blender with a working Blender, or use --zip-only") from None
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
        raise InstallError(f"Blender {version} refused `extension {command[0]}`: {lines[-1] if lines else f'exit {done.returncode}'}")


def install_blender(zip_path: Path, version: str, prefix=None, executable: Path | None = None,
                    python: str = "3.11") -> tuple[Path, bool]:
    """Install the extension for one Blender; returns its folder and whether it is enabled.

    With the Blender's executable, Blender's own extension manager installs it (wheels into
    its private site-packages) and enables it. Without one (a build known only from its
    user folder), the zip is unpacked the same way and the user enables it in Preferences."""
    wheels = check_zip(zip_path)
    target = paths.blender_extensions(version, prefix) / EXTENSION_ID
    if executable is not None:
        _run_blender_command(executable, version, prefix, "install-file", "--repo", EXTENSION_REPO, "--enable", str(zip_path))
        if not (target / "blender_manifest.toml").is_file():
            raise InstallError(f"Blender {version} reported success but {target} holds no extension; is --prefix right?")
        return target, True
    site = paths.blender_wheel_site(version, prefix, python)
    uninstall_blender(version, prefix)
    target.mkdir(parents=True)
    added: list[Path] = []
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(target)
        for name in wheels:
            with zipfile.ZipFile(target / "wheels" / name) as wheel:
                tops = {n.split("/", 1)[0] for n in wheel.namelist()}
                wheel.extractall(site)
            added += [site / t for t in sorted(tops)]
    records.save(target, "blender", added, version=version)
    return target, False


def uninstall_blender(version: str, prefix=None, executable: Path | None = None) -> list[Path]:
    """Remove the extension (through Blender's own manager when its executable is known, which
    also disables it and drops its wheels), then every folder left empty up to the Blender
    user root, so an emptied version folder does not pass for an installed Blender."""
    target = paths.blender_extensions(version, prefix) / EXTENSION_ID
    record = records.load(target)
    if target.exists() and not record and not (target / "blender_manifest.toml").is_file():
        raise InstallError(f"{target} exists but was not installed by MotionBridge; remove it by hand")
    removed: list[Path] = []
    if executable is not None and target.exists() and not record:
        _run_blender_command(executable, version, prefix, "remove", f"{EXTENSION_REPO}.{EXTENSION_ID}")
        removed.append(target)
    removed += [Path(p) for p in record.get("paths", []) if records.remove(Path(p))]
    if records.remove(target) and target not in removed:
        removed.append(target)
    if removed:
        prune_empty(paths.blender_root(prefix) / version, [target, *(Path(p) for p in record.get("paths", []))])
    return removed


def prune_empty(top: Path, leaves: list[Path]) -> None:
    """Remove the folders above each of `leaves` that are empty, up to and including `top`."""
    top = top.resolve() if top.exists() else top
    for leaf in leaves:
        folder = leaf.parent
        while True:
            try:
                folder.relative_to(top)
            except ValueError:
                break
            try:
                folder.rmdir()  # only succeeds on an empty folder
            except OSError:
                break
            if folder == top:
                break
            folder = folder.parent


# -- Maya and MotionBuilder ----------------------------------------------------------------

def _pip_install(python: Path, site: Path, wheels_dir: Path | None) -> list[str]:
    if not python.is_file():
        raise InstallError(f"the DCC's Python was not found at {python}; pass its path (--mayapy / --mobupy)")
    cmd = [str(python), "-m", "pip", "install", "--upgrade", "--target", str(site)]
    if wheels_dir is not None:
        cmd += ["--no-index", "--find-links", str(wheels_dir)]
    cmd += list(DEPENDENCIES)
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise InstallError(f"{python.name} -m pip failed ({tail[0]}); check the network or pass --wheels-dir")
    return cmd


def _vendor_plugin(root: Path, adapter: str) -> None:
    copy_into(root)
    src = package_dir(f"motionbridge.dcc_plugin.{adapter}")
    dst = root / "motionbridge" / "dcc_plugin" / adapter
    for path in sorted(src.rglob("*.py")):
        out = dst / path.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(path.read_bytes())


def _startup_code(root: Path, site: Path, call: str) -> str:
    # DCC's own packages win over ours: our site-packages goes last on sys.path
    return (
        "import sys as _mb_sys\n"
        f"_mb_sys.path.insert(0, {str(root)!r})\n"
        f"_mb_sys.path.append({str(site)!r})\n"
        "try:\n"
        f"    {call}\n"
        "except Exception as _mb_exc:  # a broken plugin must not break the DCC's startup\n"
        "    print('MotionBridge could not start:', _mb_exc)\n"
    )


def _fill_plugin_folder(root: Path, host: str, dcc_python: Path, wheels_dir: Path | None) -> Path:
    """Vendored plugin code plus its dependencies from the DCC's own pip; on any failure the
    half-made folder is removed. Returns the site-packages folder."""
    site = root / "site-packages"
    site.mkdir(parents=True)
    try:
        _vendor_plugin(root, host)
        _pip_install(dcc_python, site, wheels_dir)
    except BaseException:
        records.remove(root)
        raise
    return site


def install_maya(version: str, mayapy: Path, prefix=None, wheels_dir: Path | None = None) -> Path:
    scripts = paths.maya_scripts(version, prefix)
    root = scripts / PLUGIN_FOLDER
    uninstall_maya(version, prefix)
    site = _fill_plugin_folder(root, "maya", mayapy, wheels_dir)
    call = "import maya.utils; from motionbridge.dcc_plugin.maya import startup; maya.utils.executeDeferred(startup.add_menu)"
    records.add_block(scripts / "userSetup.py", _startup_code(root, site, call))
    records.save(root, "maya", [], version=version, startup=str(scripts / "userSetup.py"))
    return root


def uninstall_maya(version: str, prefix=None) -> list[Path]:
    scripts = paths.maya_scripts(version, prefix)
    removed = []
    if records.remove_block(scripts / "userSetup.py"):
        removed.append(scripts / "userSetup.py")
    if records.remove(scripts / PLUGIN_FOLDER):
        removed.append(scripts / PLUGIN_FOLDER)
    return removed


def install_motionbuilder(version: str, mobupy: Path, prefix=None, wheels_dir: Path | None = None) -> Path:
    startup = paths.motionbuilder_startup(version, prefix)
    root = startup.parent / PLUGIN_FOLDER  # next to PythonStartup, which runs every script in it
    uninstall_motionbuilder(version, prefix)
    site = _fill_plugin_folder(root, "motionbuilder", mobupy, wheels_dir)
    script = startup / "motionbridge_startup.py"
    call = "from motionbridge.dcc_plugin.motionbuilder import startup; startup.register_tool()"
    records.write_atomic(script, "# MotionBridge: written by `motionbridge install motionbuilder`\n" + _startup_code(root, site, call))
    records.save(root, "motionbuilder", [script], version=version)
    return root


def uninstall_motionbuilder(version: str, prefix=None) -> list[Path]:
    startup = paths.motionbuilder_startup(version, prefix)
    removed = []
    for path in (startup / "motionbridge_startup.py", startup.parent / PLUGIN_FOLDER):
        if records.remove(path):
            removed.append(path)
    return removed
