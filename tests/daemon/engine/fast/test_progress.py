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


class _Unread:
    """A sampled tensor the hook must not read: on a GPU, reading it waits for the captured
    segments queued so far (a device sync) or copies it to the host."""

    def __getattr__(self, name):
        raise AssertionError(f"the step hook read the sampled state ({name})")

    def __getitem__(self, index):
        raise AssertionError("the step hook read the sampled state")


def test_without_previews_the_hook_never_reads_the_sampled_state():
    """The daemon's worker listens to every step (progress, cancel) of every take; with no
    preview asked, that must cost no sync and no copy between the GPU's graph segments."""
    from motionbridge.daemon.engine.fast.sampler import Row

    engine = tiny_engine(steps=10)
    request = GenerationRequest("A person walks.", 2.0, (0,), request_id="a")
    chunk = [Row(0, 60, 5.0, None, None, (0, 0))]
    seen = []
    hook = step_hook(engine, chunk, [(request, ())], set(), 10, seen.append, lambda rid: False, 0)
    assert hook(5, _Unread(), _Unread(), _Unread()) is False and hook(10, _Unread(), _Unread(), _Unread()) is False
    assert [(info.step, info.request_ids, info.previews) for info in seen] == [(5, ("a",), None), (10, ("a",), None)]
    previewing = step_hook(engine, chunk, [(request, ())], set(), 10, seen.append, None, 5)
    with pytest.raises(AssertionError, match="read the sampled state"):  # a preview step does read it
        previewing(5, _Unread(), _Unread(), _Unread())
