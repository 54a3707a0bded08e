"""daemon/bench/control_gifs.py: the docs' GIF per directing control, on the smooth fixture with
few steps (the constraints hold at any step count: replacement is exact at t = 1)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from motionbridge.daemon.bench.control_gifs import CONTROLS, control_clips, write_gifs

SMOOTH = Path(__file__).resolve().parents[2] / "fixtures" / "smooth_model"


@pytest.fixture(scope="module")
def engine(parity):
    from motionbridge.daemon.engine.reference import ReferenceEngine

    te = parity / "text_encoders"
    e = ReferenceEngine.from_dirs(SMOOTH, te / "qwen3", te / "clip")
    pipe = e.pipeline
    pipe.config = dataclasses.replace(pipe.config, pipeline=dataclasses.replace(pipe.config.pipeline, validation_steps=3))
    return e


def test_each_control_clip_shows_what_its_gif_claims(engine):
    clips = control_clips(engine, controls=("start", "loop", "inbetween"))
    start, loop, inbetween = clips["start"], clips["loop"], clips["inbetween"]
    half = start.num_frames // 2
    # A then B: B's first frame is A's last pose (within 1 degree)
    np.testing.assert_allclose(start.rotations[half], start.rotations[half - 1], atol=0.02)
    # the loop played twice: the second copy is the first moved by the recorded travel
    n = loop.num_frames // 2
    np.testing.assert_array_equal(loop.rotations[:n], loop.rotations[n:])
    assert not np.allclose(loop.root_translation[:n], loop.root_translation[n:])
    assert inbetween.num_frames % 3 == 0  # A, the in-between and B, each one take long


def test_writes_one_animated_gif_per_control(engine, tmp_path):
    from PIL import Image

    written = write_gifs(engine, tmp_path / "gifs")
    assert set(written) == set(CONTROLS)
    for name, path in written.items():
        with Image.open(path) as gif:
            assert gif.format == "GIF" and gif.n_frames > 10, name
