"""Comparing two batch output folders take by take."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from motionbridge.daemon.batch import manifest

# manifest fields that legitimately differ between runs
VOLATILE = {"finished_at", "timings", "files", "preview"}
# Backends batch takes differently (the daemon packs rows of several requests, Ray actors get
# other windows), and float32 sums change in the last bits with the batch; on the tiny random
# model the motion amplifies that to at most ~3e-5 (seen on root translation). Another seed
# differs by O(1), so this still tells "same seed, same take" from anything else.
ATOL, RTOL = 1e-4, 1e-3


def assert_same_outputs(a: Path, b: Path) -> None:
    """Same take files, same manifest content; NPZ arrays identical (zip timestamps aside),
    other formats the same size (their bytes carry the same float noise)."""
    ea, eb = manifest.read_latest(a), manifest.read_latest(b)
    assert sorted(ea) == sorted(eb) and ea, (sorted(ea), sorted(eb))
    for i in ea:
        x = {k: v for k, v in ea[i].items() if k not in VOLATILE}
        y = {k: v for k, v in eb[i].items() if k not in VOLATILE}
        assert x == y, (i, x, y)
        assert [f["path"] for f in ea[i]["files"]] == [f["path"] for f in eb[i]["files"]]
        for fa, fb in zip(ea[i]["files"], eb[i]["files"]):
            if fa["format"] == "npz":
                with np.load(a / fa["path"], allow_pickle=False) as da, np.load(b / fb["path"], allow_pickle=False) as db:
                    assert sorted(da.files) == sorted(db.files)
                    for key in da.files:
                        if key == "metadata_json":
                            assert json.loads(str(da[key])) == json.loads(str(db[key]))
                        elif da[key].dtype.kind == "f":
                            np.testing.assert_allclose(da[key], db[key], rtol=RTOL, atol=ATOL, err_msg=f"{fa['path']}:{key}")
                        else:
                            np.testing.assert_array_equal(da[key], db[key], err_msg=f"{fa['path']}:{key}")
            else:
                assert fa["bytes"] == fb["bytes"], (fa, fb)
