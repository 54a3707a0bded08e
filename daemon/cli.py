"""The one `motionbridge` command line.

Each subcommand lives in the module that owns the feature and is imported only when
it is used, so `motionbridge install blender` never pays for torch, and a broken
optional dependency breaks one subcommand, not the whole CLI.

A subcommand module provides:
    HELP: str                                   one line for `motionbridge --help`
    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int        the exit status
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# subcommand -> module that implements it
SUBCOMMANDS: dict[str, str] = {
    "generate": "motionbridge.daemon.cli_generate",
    "weights": "motionbridge.daemon.model.weights_cli",
    "bench": "motionbridge.daemon.bench.cli",
    "serve": "motionbridge.daemon.server.cli",
    "warm": "motionbridge.daemon.engine.compile.warm",
    "keys": "motionbridge.daemon.server.keys",
    "convert": "motionbridge.exporters.cli",
    "batch": "motionbridge.daemon.batch.cli",
    "review": "motionbridge.daemon.batch.review_cli",
    "install": "motionbridge.install.cli",
    "uninstall": "motionbridge.install.cli_uninstall",
}


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2, no traceback."""


def _load(name: str):
    return importlib.import_module(SUBCOMMANDS[name])


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser. With `only`, just that subcommand's module is imported."""
    from motionbridge.daemon import __version__

    parser = argparse.ArgumentParser(
        prog="motionbridge",
        description="Text to motion takes on your own character (HY-Motion 1.0).",
    )
    parser.add_argument("--version", action="version", version=f"motionbridge {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        if only is not None and name != only:
            sub.add_parser(name)
            continue
        try:
            module = _load(name)
        except ImportError as exc:  # an optional extra is missing: say which
            p = sub.add_parser(name, help=f"(unavailable: {exc})")
            p.set_defaults(_unavailable=str(exc))
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=command if command in SUBCOMMANDS else None)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "_unavailable", None):
        print(
            f"motionbridge {args.command}: unavailable ({args._unavailable}). "
            "Install the extras: pip install 'motionbridge[all]'",
            file=sys.stderr,
        )
        return 2
    try:
        return int(args._run(args) or 0)
    except CliError as exc:
        from motionbridge.rigs.skeleton import error_line  # one short line, whatever a file held

        print(f"motionbridge {args.command}: error: {error_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"motionbridge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # python -m motionbridge.daemon.cli
    # Run the imported module's main, not this __main__ copy: subcommands raise
    # motionbridge.daemon.cli.CliError, which must be the class main() catches.
    from motionbridge.daemon.cli import main as _package_main

    sys.exit(_package_main())
