"""A dynamic-shape compile is handed no tensor views (compile/dynamic_inputs.py): on a GPU,
Dynamo's guards on views' bases recompiled each time the glue's views changed form."""

from __future__ import annotations

import torch

from motionbridge.daemon.bench.random_models import tiny_random_engine
from motionbridge.daemon.engine.api import GenerationRequest
from motionbridge.daemon.engine.compile.dynamic_inputs import called_without_views, without_base


def test_without_base_is_the_same_memory_with_no_base():
    base = torch.arange(24.0).reshape(2, 3, 4)
    view = base[:, 1:, 2:]
    plain = without_base(view)
    assert view._is_view() and not plain._is_view()
    assert (plain.shape, plain.stride(), plain.storage_offset()) == (view.shape, view.stride(), view.storage_offset())
    assert torch.equal(plain, view)
    plain[0, 0, 0] = -1.0  # writes land in the base
    assert base[0, 1, 2] == -1.0
    already = base.clone()
    assert without_base(already) is already and without_base(3) == 3


def test_called_without_views_replaces_views_in_arguments_and_tuples():
    seen = []
    f = called_without_views(lambda *a, **k: seen.extend([*a, *a[1], *k.values()]))
    t = torch.zeros(4, 6)
    f(t[1:], (t[:, :3], t[:, 3:]), 7, mask=t[0])
    tensors = [x for x in seen if isinstance(x, torch.Tensor)]
    assert len(tensors) == 4 and not any(x._is_view() for x in tensors)


def _views_seen(compile_dynamic: bool) -> tuple[int, int]:
    """(tensor arguments, of which views) the engine's compiled functions were called with."""
    seen = [0, 0]

    def recording(f):
        def call(*args, **kwargs):
            for a in [*args, *kwargs.values()]:
                for x in a if isinstance(a, tuple | list) else (a,):
                    if isinstance(x, torch.Tensor):
                        seen[0] += 1
                        seen[1] += x._is_view()
            return f(*args, **kwargs)
        return call

    engine = tiny_random_engine("cpu", 2, compile_with=recording, buckets=True, compile_blocks=True, compile_scope="blocks",
                                compile_dynamic=compile_dynamic)
    engine.generate([GenerationRequest("A person walks.", 1.5, (0, 1), 5.0, request_id="r")])
    return seen[0], seen[1]


def test_the_engine_hands_a_dynamic_compile_no_views():
    tensors, views = _views_seen(compile_dynamic=True)
    assert tensors > 0 and views == 0


def test_a_static_compile_is_handed_views_as_they_come():
    """Static shapes specialise on everything anyway; what the dynamic case removes is there."""
    tensors, views = _views_seen(compile_dynamic=False)
    assert views > 0
