"""Previews of directed takes (controls/previews.py) on the reference engine, in-process: an
extended take's previews are the pieces made so far followed by the piece being sampled.
Through a daemon, and on the fast engine: test_served.py, engine/fast/test_directed.py."""

from __future__ import annotations

import numpy as np

from motionbridge.daemon.controls import spec
from motionbridge.daemon.controls.previews import due
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


def test_previews_are_due_where_the_loop_passes_a_multiple_of_every():
    """A loop that calls back after every step sends every 7th step's preview and the last; a
    captured loop calls back after each 5-step graph segment and sends one at each segment
    that passed a multiple of 7 (as a plain take's previews, engine/fast/progress.py)."""
    assert [k for k in range(1, 51) if due(k, 7, 50)] == [7, 14, 21, 28, 35, 42, 49, 50]
    assert [k for k in range(5, 51, 5) if due(k, 7, 50, k - 5)] == [10, 15, 25, 30, 35, 45, 50]
    assert not any(due(k, 0, 50) for k in range(1, 51))
