"""`motionbridge generate` flags for directed takes: --start-from, --end-at, --keys, --loop,
--regenerate A:B --from TAKE, --path, --extend and --prompt-at.

They run on the engine --engine picks (the fast engine by default, as a daemon runs them):
in-process, or through a daemon with --server (sent as GENERATE's `controls` field, wire.py).
Every file and frame is read and checked with the other arguments, before any weights load or
anything is sent: a bad one is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from motionbridge.daemon.cli import CliError
from motionbridge.daemon.protocol import limits

from . import spec
from .wire import check_duration


def add_control_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("directing (in-process or through --server)")
    g.add_argument("--start-from", metavar="TAKE.npz[@FRAME]",
                   help="begin in this take's pose at FRAME (default its last) and carry on its motion")
    g.add_argument("--end-at", metavar="TAKE.npz[@FRAME]",
                   help="end in this take's pose at FRAME (default its first), flowing into its motion")
    g.add_argument("--keys", type=Path, metavar="KEYS.npz", help="poses the take passes through at given frames (format: daemon/controls/README.md)")
    g.add_argument("--loop", action="store_true", help="the last frame flows into the first; the root's travel per cycle is recorded")
    g.add_argument("--path", type=Path, metavar="PATH.json", help='the pelvis follows ground-plane waypoints {"points": [[seconds, x, z], ...]} (metres)')
    g.add_argument("--extend", action="store_true", help="--duration up to 60 s, made as overlapping windows each continuing the last")
    g.add_argument("--prompt-at", action="append", default=[], metavar="SECONDS:PROMPT",
                   help="from SECONDS on, this prompt (repeatable; implies --extend): a prompt timeline")
    g.add_argument("--regenerate", metavar="A:B", help="redo frames A to B of the --from take, keeping the rest (with a new seed or prompt)")
    g.add_argument("--from", dest="regenerate_from", type=Path, metavar="TAKE.npz", help="the take --regenerate works on")


def read_controls(args: argparse.Namespace, duration: limits.Checked) -> tuple[spec.Controls, limits.Checked]:
    """The directing flags as checked Controls (empty when none is given) and the duration
    (past 12 s without the clamping warning when extended); CliError otherwise."""
    try:
        controls, warnings = read_flags(args, float(duration.value))  # type: ignore[arg-type]
        if controls.timeline:
            duration = limits.Checked(duration.value, tuple(w for w in duration.warnings if "12 s" not in w))
        elif controls:
            check_duration(controls, float(duration.value))  # type: ignore[arg-type]
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if not controls:
        return controls, duration
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    return controls, duration


def read_flags(args: argparse.Namespace, duration_s: float) -> tuple[spec.Controls, list[str]]:
    """The directing flags (or a takes file's columns, batch/directing.py) as Controls, with the
    warnings of reading their files; ValueError otherwise."""
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
    timeline, length = (), 0
    if args.extend or args.prompt_at:
        timeline = spec.prompt_timeline(args.prompt, args.prompt_at, duration_s)
        length = max(limits.MIN_FRAMES, int(round(duration_s * limits.FPS)))
    controls = spec.Controls(start, end, keys, frames, bool(args.loop), source, span, route, route_record, timeline, length)
    return controls, warnings


def run_controls(engine, request, controls: spec.Controls, progress) -> list:
    from .served import generate_directed

    try:
        return generate_directed(engine, request, controls, progress)
    except ValueError as exc:
        raise CliError(str(exc)) from None
