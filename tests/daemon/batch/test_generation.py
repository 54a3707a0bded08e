"""Grouping takes into engine requests: one request per prompt setting, seeds together."""

from __future__ import annotations

from motionbridge.daemon.batch.generation import group_requests, windows
from motionbridge.daemon.batch.takes import Take


def take(i, prompt, seed, cfg=5.0, duration=2.0):
    return Take(i, i + 1, f"t{i}_s{seed}", f"t{i}", prompt, duration, seed, cfg, None, None)


def test_same_prompt_settings_share_one_request():
    takes = [take(0, "walk", 0), take(1, "jump", 0), take(2, "walk", 1), take(3, "walk", 2, cfg=3.0),
             take(4, "walk", 1), take(5, "walk", 5, duration=4.0)]
    groups = group_requests(takes)
    got = [(r.prompt, r.seeds, r.cfg, r.duration_s, [t.index for t in members]) for r, members in groups]
    assert got == [
        ("walk", (0, 1), 5.0, 2.0, [0, 2]),
        ("jump", (0,), 5.0, 2.0, [1]),
        ("walk", (2,), 3.0, 2.0, [3]),
        ("walk", (1,), 5.0, 2.0, [4]),  # seed 1 again (another row): its own request, not a duplicate seed
        ("walk", (5,), 5.0, 4.0, [5]),
    ]
    assert len({r.request_id for r, _ in groups}) == len(groups)


def test_windows_cover_every_take_once():
    assert [len(w) for w in windows(iter(range(10)), 4)] == [4, 4, 2]
    assert [x for w in windows(iter(range(10)), 4) for x in w] == list(range(10))
