"""Protocol track payloads <-> rigs.Clip (the protocol module itself stays free of rigs)."""

from __future__ import annotations

from typing import Any, Mapping

import motionbridge.daemon.protocol as P
from motionbridge.rigs import Clip, RigError, Skeleton


def clip_from_tracks(parts: Mapping[str, Any]) -> Clip:
    """Builds and validates the Clip; an inconsistent payload raises ProtocolError(bad_array)."""
    try:
        skeleton = Skeleton(parts["names"], parts["parents"], parts["rest_translations"], parts["rest_rotations"],
                            parts["up_axis"], parts["units"])
        return Clip(skeleton, parts["rotations"], parts["root_translation"], parts["fps"], dict(parts["metadata"]))
    except RigError as exc:
        raise P.ProtocolError(P.E_BAD_ARRAY, f"track payload is inconsistent: {exc}") from None


def clip_from_message(msg: P.Message, prefix: str = "") -> Clip:
    return clip_from_tracks(P.tracks_from_payload(msg.header, msg.arrays, prefix))


def previews_from_message(msg: P.Message) -> list[Clip]:
    return [clip_from_tracks(parts) for parts in P.previews_from_message(msg)]
