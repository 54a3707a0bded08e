"""`motionbridge uninstall blender|maya|motionbuilder|daemon-service`: removes what install wrote."""

from __future__ import annotations

import argparse

from .cli import TARGETS

HELP = "remove a DCC plugin or the daemon service installed by `motionbridge install`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=TARGETS)
    parser.add_argument("--version", dest="dcc_version", help="the DCC version (Blender: e.g. 4.5; Maya/MotionBuilder: e.g. 2025)")
    parser.add_argument("--prefix", help="the DCC's user config root used at install time")


def run(args: argparse.Namespace) -> int:
    from motionbridge.daemon.cli import CliError

    from . import dcc_install, paths, service

    version = args.dcc_version
    try:
        if args.target == "blender":
            removed = dcc_install.uninstall_blender(version or paths.latest_blender_version(args.prefix), args.prefix)
        elif args.target == "maya":
            removed = dcc_install.uninstall_maya(version or paths.DEFAULT_VERSIONS["maya"], args.prefix)
        elif args.target == "motionbuilder":
            removed = dcc_install.uninstall_motionbuilder(version or paths.DEFAULT_VERSIONS["motionbuilder"], args.prefix)
        else:
            removed = service.uninstall_service(args.prefix)
    except (dcc_install.InstallError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if not removed:
        print(f"nothing to remove: MotionBridge is not installed for {args.target}")
        return 0
    for path in removed:
        print(f"removed {path}")
    return 0
