"""`motionbridge install blender` and `motionbridge uninstall blender`.

Install finds the Blenders on this machine (or takes the one named), refuses one it cannot
serve with one line, builds the extension zip with wheels for each Blender's own Python,
and has Blender's extension manager install and enable it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from . import blender_locate, dcc_install, paths
from .blender_build import (
    BuildError,
    build_zip,
    check_zip,
    download_wheels,
    find_wheels,
    python_of_wheels,
)
from .blender_locate import BlenderBuild, LocateError

SEARCH_ENV = "MOTIONBRIDGE_BLENDER"  # Blender executables to consider (os.pathsep-separated) instead of the usual places


def add_blender_choice(p: argparse.ArgumentParser) -> None:
    """The flags that pick a Blender, shared by install and uninstall."""
    p.add_argument("--blender-version", help="MAJOR.MINOR, e.g. 4.5 (default: every Blender 4.2+ found)")
    p.add_argument("--blender", type=Path, metavar="EXECUTABLE", help="the Blender to use (default: the usual install locations and PATH)")


def add_install_arguments(b: argparse.ArgumentParser) -> None:
    add_blender_choice(b)
    b.add_argument("--blender-python",
                   help="the Python of that Blender, e.g. 3.13, when it cannot be found out (a build known by version only)")
    b.add_argument("--from-zip", type=Path, help="install this already built extension zip (works offline)")
    b.add_argument("--wheels-dir", type=Path,
                   help="use the wheels in this folder (pyzmq, msgpack, pygltflib and its dependencies) instead of downloading")
    b.add_argument("--wheel-platform", action="append", default=[], help="pip platform tag for the wheels (repeatable)")
    b.add_argument("--zip-only", type=Path, metavar="OUT_ZIP", help="only build the zip, to OUT_ZIP")


def candidates() -> list[Path] | None:
    listed = os.environ.get(SEARCH_ENV)
    return None if listed is None else [Path(p) for p in listed.split(os.pathsep) if p]


def chosen_blenders(args: argparse.Namespace, prefix) -> list[BlenderBuild]:
    """Which Blenders to serve: the named one, the found ones, or one known from its user
    folder; raises LocateError (one line) when there is none it can serve."""
    python = getattr(args, "blender_python", None)
    if args.blender:
        build = blender_locate.inspect(args.blender)
        blender_locate.check_supported(build.version)
        if args.blender_version and blender_locate.version_tuple(args.blender_version) != blender_locate.version_tuple(build.version):
            raise LocateError(f"{args.blender} is Blender {build.version}, not {args.blender_version}; drop one of the two flags")
        return [BlenderBuild(build.version, python or build.python, build.executable)]
    found, refused = blender_locate.find_blenders(candidates())
    if args.blender_version:
        version = blender_locate.check_supported(args.blender_version)
        same = [b for b in found if b.version == version]
        executable = same[0].executable if same else None
        return [BlenderBuild(version, python or (same[0].python if same else blender_locate.official_python(version)), executable)]
    for line in refused:
        print(f"skipped: {line}", file=sys.stderr)
    if found:
        return [BlenderBuild(b.version, python or b.python, b.executable) for b in found]
    configs = [v for v in paths.blender_config_versions(prefix) if blender_locate.version_tuple(v) >= blender_locate.MIN_BLENDER]
    if configs:  # no executable found, but a Blender has run here: its newest user folder
        return [BlenderBuild(configs[0], python or blender_locate.official_python(configs[0]), None)]
    raise LocateError(f"no Blender {blender_locate.MIN_BLENDER[0]}.{blender_locate.MIN_BLENDER[1]}+ found (looked in the usual "
                      "install locations and PATH); pass --blender PATH_TO_BLENDER or --blender-version X.Y")


def _wheels(args: argparse.Namespace, python: str, scratch: Path) -> list[Path]:
    if args.wheels_dir:
        return find_wheels(args.wheels_dir, python)
    return download_wheels(scratch / f"wheels-{python}", tuple(args.wheel_platform), python)


def run_install(args: argparse.Namespace) -> int:
    if args.zip_only:
        if args.blender or args.blender_version:
            python = chosen_blenders(args, args.prefix)[0].python
        else:
            python = args.blender_python or blender_locate.official_python("4.2")
        with tempfile.TemporaryDirectory() as tmp:
            print(f"built {build_zip(args.zip_only, _wheels(args, python, Path(tmp)))} (Python {python} wheels)")
        return 0
    if args.from_zip and not args.from_zip.is_file():
        raise BuildError(f"{args.from_zip} does not exist; pass the zip that `--zip-only` built")
    if args.from_zip:
        check_zip(args.from_zip)  # a bad zip is refused before any Blender is looked for
    builds = chosen_blenders(args, args.prefix)
    with tempfile.TemporaryDirectory() as tmp:
        zips: dict[str, Path] = {}
        for build in builds:
            if args.from_zip:
                zip_path = args.from_zip
                carried = python_of_wheels(check_zip(zip_path))
                if carried - {build.python}:
                    raise BuildError(f"{zip_path} carries wheels for Python {', '.join(sorted(carried))}, but {build.describe()} runs "
                                     f"{build.python}; build one for it with --zip-only and --blender-version {build.version}")
            else:
                if build.python not in zips:
                    zips[build.python] = build_zip(Path(tmp) / f"motionbridge-py{build.python}.zip", _wheels(args, build.python, Path(tmp)))
                zip_path = zips[build.python]
            target, enabled = dcc_install.install_blender(zip_path, build.version, args.prefix, build.executable, build.python)
            then = ("enabled; the panel is in the 3D view's sidebar (N)" if enabled else
                    "enable it in Edit > Preferences > Add-ons (no Blender executable was found to enable it)")
            print(f"installed the MotionBridge extension for {build.describe()} in {target}: {then}")
    return 0


def run_uninstall(args: argparse.Namespace) -> list[Path]:
    """Remove the extension from the named Blender, or from every Blender user folder that has it."""
    if args.blender or args.blender_version:
        builds = chosen_blenders(args, args.prefix)
    else:
        found = {b.version: b for b in blender_locate.find_blenders(candidates())[0]}
        installed = [v for v in paths.blender_config_versions(args.prefix)
                     if (paths.blender_extensions(v, args.prefix) / dcc_install.EXTENSION_ID).exists()]
        builds = [found.get(v) or BlenderBuild(v, blender_locate.official_python(v), None) for v in installed]
    removed: list[Path] = []
    for build in builds:
        removed += dcc_install.uninstall_blender(build.version, args.prefix, build.executable)
    return removed
