"""Previews of directed takes (controls/previews.py) on the reference engine, in-process: an
extended take's previews are the pieces made so far followed by the piece being sampled.
Through a daemon, and on the fast engine: test_served.py, engine/fast/test_directed.py."""

from __future__ import annotations

import numpy as np

from motionbridge.daemon.controls import spec
from motionbridge.daemon.controls.served import generate_directed
from motionbridge.daemon.engine.api import GenerationRequest


def test_an_extended_takes_previews_grow_piece_by_piece(engine):
    """Two pieces (frames 0-29 walking, 30-44 waving): the first piece's previews are its 30
    frames; the second's hold the first piece as the take has it, then the new frames."""
    controls = spec.Controls(timeline=((0, "A person walks."), (30, "A person waves.")), extend_frames=45)
    request = GenerationRequest("A person walks.", 1.5, (3,), 5.0, request_id="x")
    seen = []
    (take,) = generate_directed(engine, request, controls, lambda info: info.previews and seen.append(info), preview_every=25)
    clips = [(info.step, *info.previews["x"]) for info in seen]
    assert [(k, c.num_frames, c.metadata["seed"]) for k, c in clips] == [(25, 30, 3), (50, 30, 3), (25, 45, 3), (50, 45, 3)]
    for _, clip in clips[2:]:
        assert clip.rotations[:30].tobytes() == take.clip.rotations[:30].tobytes()
        assert clip.root_translation[:30].tobytes() == take.clip.root_translation[:30].tobytes()
        # the second piece's new frames are its estimate, not yet the take
        assert not np.array_equal(clip.rotations[30:], take.clip.rotations[30:])
    assert clips[0][1].skeleton.names == take.clip.skeleton.names
