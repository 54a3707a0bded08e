"""Takes past 12 s and prompt timelines as overlapping windows (random weights: the joins'
smoothness is not measurable here; that each window starts on the last one's tail is)."""

from __future__ import annotations

import numpy as np

from motionbridge.daemon.controls import blend, spec
from motionbridge.daemon.controls import extend as E
from motionbridge.daemon.controls import generate as G
from motionbridge.daemon.controls.seams import pose_errors
from motionbridge.daemon.engine.api import GenerationRequest

from .conftest import revived


def test_pieces_cut_at_prompt_changes_and_fit_the_window():
    # every piece leaves RUN_OUT (4) frames of room: sampled past it, then dropped
    assert E.pieces(900, ((0, "a"),), 360) == [E.Piece("a", 0, 356), E.Piece("a", 356, 351), E.Piece("a", 707, 193)]
    cut = E.pieces(300, ((0, "a"), (120, "b"), (210, "c")), 360)
    assert cut == [E.Piece("a", 0, 120), E.Piece("b", 120, 90), E.Piece("c", 210, 90)]
    assert sum(p.frames for p in E.pieces(1800, ((0, "a"), (500, "b")), 360)) == 1800


def test_a_14_s_take_continues_its_first_window(engine, monkeypatch):
    req = GenerationRequest("A person walks forward.", 14.0, (4,), 5.0)
    pieces = []
    generate = G.generate

    def capture(*args, **kw):
        out = generate(*args, **kw)
        pieces.append(out[0].clip)
        return out

    monkeypatch.setattr(G, "generate", capture)
    with revived(engine):
        (take,) = E.generate_extended(engine, req, 420, ((0, req.prompt),))
        plain = engine.generate([GenerationRequest(req.prompt, 12.0, (4,), 5.0)])[0].clip
    assert take.clip.num_frames == 420 and [p.num_frames for p in pieces] == [360, 65]
    # the first window is a plain 12 s take of the same seed, its last RUN_OUT frames dropped
    assert np.abs(take.clip.rotations[:356] - plain.rotations[:356]).max() < 1e-6
    # the second starts on the first one's last frame (then dropped), the 4 before it imposed
    cm, deg = pose_errors(pieces[1], 0, pieces[0], 355)
    assert cm <= 1.0 and deg <= 1.0, (cm, deg)
    assert np.array_equal(take.clip.rotations[356:], pieces[1].rotations[1:])
    record = take.clip.metadata["constraints"]["extend"]
    assert record["handshake_frames"] == 5 and [p["frames"] for p in record["pieces"]] == [356, 64]
    assert record["run_out_frames"] == 4 and record["seam_ramp_frames"] == blend.RAMP == 16


def test_a_prompt_timeline_makes_one_piece_per_prompt(engine):
    timeline = spec.prompt_timeline("A person walks.", ["0.8:A person waves."], 1.5)
    assert timeline == ((0, "A person walks."), (24, "A person waves."))
    with revived(engine):
        (take,) = E.generate_extended(engine, GenerationRequest("A person walks.", 1.5, (0,), 5.0), 45, timeline)
    pieces = take.clip.metadata["constraints"]["extend"]["pieces"]
    assert [(p["prompt"], p["first_frame"], p["frames"]) for p in pieces] == [("A person walks.", 0, 24), ("A person waves.", 24, 21)]
    assert take.clip.num_frames == 45 and take.clip.metadata["frames"] == 45
