"""`motionbridge convert IN.npz OUT.(fbx|glb|gltf|bvh|usd|usda|usdc|npz|amass.npz)`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from motionbridge.rigs import RigError
from motionbridge.rigs.skeleton import error_line

from . import npz
from .atomic import ExportError
from .output import add_output_arguments, write_outputs

HELP = "convert a MotionBridge take file (.npz) to FBX, glTF/GLB, BVH, USD or AMASS NPZ"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="a MotionBridge tracks file (.npz), as `generate --out take.npz` writes")
    parser.add_argument("output", type=Path, help="output file; its extension picks the format")
    add_output_arguments(parser)


def run(args: argparse.Namespace) -> int:
    # Errors are printed as one line with exit status 2, like the dispatcher's CliError
    # (exporters may not import the daemon package).
    try:
        clips = npz.read(args.input)
        paths = write_outputs(args.output, clips, args, report=lambda m: print(f"warning: {m}", file=sys.stderr))
    except (ExportError, RigError, ValueError) as exc:
        print(f"motionbridge convert: error: {error_line(exc)}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0
