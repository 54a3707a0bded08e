"""`motionbridge generate` flags for directed takes: --start-from, --end-at, --keys, --loop,
--regenerate A:B --from TAKE, --path.

They run in-process on the reference engine. Every file and frame is read and checked with
the other arguments, before any weights load: a bad one is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from motionbridge.daemon import limits
from motionbridge.daemon.cli import CliError

from . import spec


def add_control_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("directing (in-process, reference engine)")
    g.add_argument("--start-from", metavar="TAKE.npz[@FRAME]",
                   help="begin in this take's pose at FRAME (default its last) and carry on its motion")
    g.add_argument("--end-at", metavar="TAKE.npz[@FRAME]",
                   help="end in this take's pose at FRAME (default its first), flowing into its motion")
    g.add_argument("--keys", type=Path, metavar="KEYS.npz", help="poses the take passes through at given frames (format: daemon/controls/README.md)")
    g.add_argument("--loop", action="store_true", help="the last frame flows into the first; the root's travel per cycle is recorded")
    g.add_argument("--path", type=Path, metavar="PATH.json", help='the pelvis follows ground-plane waypoints {"points": [[seconds, x, z], ...]} (metres)')
    g.add_argument("--regenerate", metavar="A:B", help="redo frames A to B of the --from take, keeping the rest (with a new seed or prompt)")
    g.add_argument("--from", dest="regenerate_from", type=Path, metavar="TAKE.npz", help="the take --regenerate works on")


def read_controls(args: argparse.Namespace, duration_s: float) -> spec.Controls:
    """The directing flags as checked Controls (empty when none is given); CliError otherwise."""
    try:
        controls, warnings = _read(args)
        if controls:
            lay, _ = spec.layout(controls, limits.num_frames(duration_s), limits.MAX_FRAMES)
            controls.check_frames(lay.frames)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if not controls:
        return controls
    if args.server:
        raise CliError("--start-from, --end-at, --keys, --loop, --regenerate and --path run in-process for now; drop --server")
    if args.engine == "fast":
        raise CliError("--start-from, --end-at, --keys, --loop, --regenerate and --path run on the reference engine for now; drop --engine fast")
    args.engine = "reference"
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    return controls


def _read(args: argparse.Namespace) -> tuple[spec.Controls, list[str]]:
    warnings: list[str] = []
    start = end = keys = None
    frames: tuple[int, ...] = ()
    if args.start_from:
        path, frame = spec.split_take_spec(args.start_from)
        clip, more = spec.read_take(path)
        start, warnings = spec.start_poses(clip, frame, path), warnings + more
    if args.end_at:
        path, frame = spec.split_take_spec(args.end_at)
        clip, more = spec.read_take(path)
        end, warnings = spec.end_poses(clip, frame, path), warnings + more
    if args.keys:
        keys, frames = spec.read_keys(args.keys)
    source, span = None, (0, -1)
    if bool(args.regenerate) != bool(args.regenerate_from):
        raise ValueError("--regenerate A:B and --from TAKE.npz go together")
    if args.regenerate:
        clip, more = spec.read_take(args.regenerate_from)
        (source, span), warnings = spec.regenerate_poses(clip, args.regenerate, args.regenerate_from), warnings + more
    route, route_record = spec.read_path(args.path) if args.path else (None, {})
    return spec.Controls(start, end, keys, frames, bool(args.loop), source, span, route, route_record), warnings


def run_controls(engine, request, controls: spec.Controls, progress) -> list:
    from .generate import generate

    try:
        return generate(engine, request, controls, on_step=progress)
    except ValueError as exc:
        raise CliError(str(exc)) from None
