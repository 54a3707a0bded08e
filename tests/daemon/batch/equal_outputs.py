"""Comparing two batch output folders take by take."""

from __future__ import annotations

from pathlib import Path

from motionbridge.daemon.batch import manifest

# manifest fields that legitimately differ between runs
VOLATILE = {"finished_at", "timings", "preview", "retries"}


def assert_same_outputs(a: Path, b: Path) -> None:
    """Same takes, same manifest content and the same bytes in every file: a take is a pure
    function of its request, whichever backend, window or resume made it."""
    ea, eb = manifest.read_latest(a), manifest.read_latest(b)
    assert sorted(ea) == sorted(eb) and ea, (sorted(ea), sorted(eb))
    for i in ea:
        x = {k: v for k, v in ea[i].items() if k not in VOLATILE}
        y = {k: v for k, v in eb[i].items() if k not in VOLATILE}
        assert x == y, (i, x, y)
        for f in ea[i]["files"]:
            assert manifest.sha256_of(a / f["path"]) == manifest.sha256_of(b / f["path"]) == f["sha256"], f
