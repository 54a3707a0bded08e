"""`motionbridge uninstall blender|maya|motionbuilder|daemon-service`: removes what install wrote."""

from __future__ import annotations

import argparse
import sys

from . import cli_blender
from .cli import TARGETS

HELP = "remove a DCC plugin or the daemon service installed by `motionbridge install`"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=TARGETS)
    cli_blender.add_blender_choice(parser)
    parser.add_argument("--version", dest="dcc_version", help="Maya/MotionBuilder: the DCC version, e.g. 2025 "
                        "(Blender: a deprecated spelling of --blender-version)")
    parser.add_argument("--prefix", help="the DCC's user config root used at install time")


def run(args: argparse.Namespace) -> int:
    from motionbridge.daemon.cli import CliError

    from . import dcc_install, paths, service
    from .blender_locate import LocateError

    version = args.dcc_version
    try:
        if args.target == "blender":
            if version and not args.blender_version:
                print("warning: `uninstall blender --version` is deprecated; use --blender-version, as install does", file=sys.stderr)
                args.blender_version = version
            removed = cli_blender.run_uninstall(args)
        elif args.target == "maya":
            removed = dcc_install.uninstall_maya(version or paths.DEFAULT_VERSIONS["maya"], args.prefix)
        elif args.target == "motionbuilder":
            removed = dcc_install.uninstall_motionbuilder(version or paths.DEFAULT_VERSIONS["motionbuilder"], args.prefix)
        else:
            removed = service.uninstall_service(args.prefix)
    except (dcc_install.InstallError, LocateError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if not removed:
        print(f"nothing to remove: MotionBridge is not installed for {args.target}")
        return 0
    for path in removed:
        print(f"removed {path}")
    return 0
