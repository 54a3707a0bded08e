"""engine/fast/constraint_buffers.py: a directed take's constraints on buffers of a batch shape
(what a captured Euler loop reads) impose what the constraints' own projection imposes. The
engine's whole loop on them: tests/daemon/engine/fast/test_directed.py."""

from __future__ import annotations

import pytest
import torch

from motionbridge.daemon.engine.fast.constraint_buffers import ConstraintBuffers, graph_key, load_into
from motionbridge.daemon.model import constraints as C


def bits(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous().view(torch.int32)  # NaN and -0.0 compared by their bits


def test_constraint_buffers_impose_what_the_projection_imposes_bit_for_bit():
    """ConstraintBuffers (what a captured loop reads) against constraints.projection's own call:
    the same bits, with the buffers longer than the window (static frame buckets), a state
    holding NaN, infinity and -0.0 where nothing is known, and later takes' constraints (a
    shorter window, other frames, none but the loop) loaded over the first's."""
    g = torch.Generator().manual_seed(7)
    x, x_hat = torch.randn(2, 40, 201, generator=g), torch.randn(2, 40, 201, generator=g)
    x[0, 30, 5], x[1, 31, 6], x[0, 32, 7] = float("nan"), float("inf"), -0.0
    t = torch.tensor(0.62)
    keys = torch.zeros(28, 201, dtype=torch.bool)
    keys[[0, 1, 2, 14, 27]] = True
    keys[5, 0:3:2] = True  # a path point: root x/z only
    first = C.Known(torch.randn(28, 201, generator=g), keys)
    second = C.Known(torch.randn(28, 201, generator=g), torch.zeros(28, 201, dtype=torch.bool).index_fill_(0, torch.tensor([3]), True))
    shorter = C.Known(first.values[:20], first.mask[:20])
    for loop in (None, C.Loop(period=25)):
        buffers = ConstraintBuffers(40, loop, torch.device("cpu"))
        for name, known in (("first", first), ("shorter", shorter), ("second", second), ("none", None)):
            projection = C.projection(known, loop)
            if projection is None:
                continue
            got = buffers.load(projection)(t, x, x_hat)
            assert torch.equal(bits(got), bits(projection(t, x, x_hat))), (name, loop)
    with pytest.raises(ValueError, match="loop"):
        ConstraintBuffers(40, None, torch.device("cpu")).load(C.ConstraintProjection(first, C.Loop(period=25)))
    with pytest.raises(ValueError, match="do not fit"):
        ConstraintBuffers(20, None, torch.device("cpu")).load(C.ConstraintProjection(first, None))
    assert graph_key(None) == () and graph_key(C.projection(first)) == ("directed",)
    assert graph_key(C.projection(loop=C.Loop(25))) == ("directed", "loop", 25, 3) != graph_key(C.projection(loop=C.Loop(26)))


def test_replaying_graphs_captured_without_constraints_refuses_a_directed_take():
    class Captured:  # what load_into reads of a CapturedStep
        project = None

    projection = C.projection(loop=C.Loop(25))
    with pytest.raises(TypeError, match="without a projection"):
        load_into(Captured(), projection)
    assert load_into(Captured(), None).project is None  # a plain take loads nothing
