"""`motionbridge install blender|maya|motionbuilder|daemon-service`."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from . import cli_blender

HELP = "install the DCC plugins (blender, maya, motionbuilder) or the daemon's systemd service"
TARGETS = ("blender", "maya", "motionbuilder", "daemon-service")


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prefix", help="the DCC's user config root to use instead of the default (tests, studio layouts)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    b = sub.add_parser("blender", help="build the extension zip and install and enable it in the Blenders found (4.2+)")
    cli_blender.add_install_arguments(b)
    add_common(b)
    for name, exe in (("maya", "mayapy"), ("motionbuilder", "mobupy")):
        d = sub.add_parser(name, help=f"place the plugin and a startup script for {name}; pip-installs numpy, pyzmq, msgpack with {exe}")
        d.add_argument("--version", dest="dcc_version", default=None, help="the DCC version, e.g. 2025")
        d.add_argument(f"--{exe}", dest="dcc_python", type=Path, help=f"path to {exe} (default: the standard install location)")
        d.add_argument("--wheels-dir", type=Path, help="install the dependencies offline from this folder of wheels")
        add_common(d)
    s = sub.add_parser("daemon-service",
                       help="write a systemd user unit that runs `motionbridge serve` (Windows: prints Task Scheduler steps)")
    s.add_argument("--serve-args", default="--bind tcp://127.0.0.1:7719", help="arguments for `motionbridge serve`, quoted as one string")
    add_common(s)


def run(args: argparse.Namespace) -> int:
    from motionbridge.daemon.cli import CliError

    from . import dcc_install, paths, service
    from .blender_build import BuildError
    from .blender_locate import LocateError

    try:
        if args.target == "blender":
            return cli_blender.run_install(args)
        elif args.target in ("maya", "motionbuilder"):
            version = args.dcc_version or paths.DEFAULT_VERSIONS[args.target]
            default_py = paths.mayapy_default(version) if args.target == "maya" else paths.mobupy_default(version)
            py = args.dcc_python or default_py
            install = dcc_install.install_maya if args.target == "maya" else dcc_install.install_motionbuilder
            root = install(version, py, args.prefix, args.wheels_dir)
            print(f"installed MotionBridge for {args.target} {version} in {root}; restart {args.target} to load it")
        else:
            serve_args = shlex.split(args.serve_args)
            if sys.platform == "win32":
                print(service.windows_instructions(serve_args))
                return 0
            unit = service.install_service(serve_args, args.prefix)
            print(f"wrote {unit}\nstart it with: systemctl --user daemon-reload && systemctl --user enable --now motionbridge")
    except (BuildError, LocateError, dcc_install.InstallError, ValueError) as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {exc.filename or 'the plugin'}: {exc.strerror or exc}; "
                       "check the folder's permissions or pass --prefix") from None
    return 0
