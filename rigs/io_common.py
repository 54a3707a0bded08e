"""What the skeleton readers (io_bvh, io_gltf, description's mapping files) share: safe JSON
parsing and the up-axis / units guesses for files that do not say."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .skeleton import RigError


def parse_json(text: str | bytes, source: str, what: str = "JSON") -> Any:
    """json.loads with every failure as one RigError: syntax, bad UTF-8, and nesting deep
    enough to exhaust Python's recursion limit (a 100k-deep array in a hostile file)."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RigError(f"{source} is not valid {what} ({str(exc)[:120]})") from None
    except RecursionError:
        raise RigError(f"{source}: {what} nested too deeply; the file is damaged or hostile") from None


def guess_up_axis(world_positions: np.ndarray) -> str:
    """For a humanoid rest pose: the taller of the Y and Z extents is up (X is the arm span)."""
    extent = np.ptp(world_positions, axis=0)
    return "z" if extent[2] > extent[1] else "y"


def guess_units(world_positions: np.ndarray) -> str:
    """Metres for a figure under 10 units tall, else centimetres."""
    return "cm" if float(np.ptp(world_positions, axis=0).max()) > 10.0 else "m"
