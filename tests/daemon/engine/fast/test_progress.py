"""The fast engine's step hook (engine/fast/progress.py): progress events, and a chunk whose
requests are all cancelled stops sampling after the step that saw it (not after all steps)."""

from __future__ import annotations

import pytest

from motionbridge.daemon.engine.api import Cancelled, GenerationRequest
from motionbridge.daemon.engine.fast.progress import step_hook

from ..conftest import tiny_engine


def test_sampling_stops_at_the_step_that_finds_every_request_cancelled():
    engine = tiny_engine(steps=4)
    steps = []
    with pytest.raises(Cancelled):
        engine.generate([GenerationRequest("A person walks.", 2.0, (0, 1), request_id="a")],
                        on_step=lambda info: steps.append(info.step), is_cancelled=lambda rid: True)
    assert steps == [1]


def test_no_listener_no_hook():
    engine = tiny_engine(steps=2)
    assert step_hook(engine, [], [], set(), 2, None, None, 0) is None
