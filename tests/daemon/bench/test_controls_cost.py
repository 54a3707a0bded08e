"""daemon/bench/controls_cost.py: the directed takes' cost report, on the tiny random engine
(the GPU figures come from the device; here only what the report holds and that each figure
timed a directed take)."""

from __future__ import annotations

from motionbridge.daemon.bench import controls_cost
from motionbridge.daemon.bench.random_models import tiny_random_engine


def test_the_report_times_each_control_against_a_plain_take(monkeypatch):
    engine = tiny_random_engine("cpu", 2, prompts=(controls_cost.PROMPT,))
    window_s = engine.config.pipeline.train_frames / 30
    ran = []
    from motionbridge.daemon.controls import served  # measure imports generate_directed from here when it runs

    original = served.generate_directed

    def recording(engine_, request, controls, *args, **kwargs):
        takes = original(engine_, request, controls, *args, **kwargs)
        ran.append((request.request_id, takes[0].clip.metadata["constraints"]))
        return takes

    monkeypatch.setattr(served, "generate_directed", recording)
    report = controls_cost.measure(engine, repeats=1, extend_seconds=2.5 * window_s)
    assert set(report["controls"]) == {"start", "keys", "loop"}
    for r in report["controls"].values():
        assert r["ms"] > 0 and r["x_plain"] == round(r["ms"] / report["plain_ms"], 2)
        assert {"text", "sample", "decode"} <= set(r["stages_ms"]) and 0 < r["stages_ms"]["sample"] <= r["ms"]
    assert 0 < report["plain_stages_ms"]["sample"] <= report["plain_ms"]
    assert report["take_s"] <= 0.75 * window_s + 1e-9 and abs(report["extend"]["seconds"] - 2.5 * window_s) < 0.05
    # each control and the extended take once (queueing their compiles), then warm-up + 1 repeat
    # per control and the extended take twice; each a real directed take
    assert [rid for rid, _ in ran] == ["cost"] * 3 + ["cost-extend"] + ["cost"] * 6 + ["cost-extend"] * 2
    timed = ran[4:]
    assert timed[0][1]["start_from"] and timed[2][1]["keys"]["frames"] and timed[4][1]["loop"] and timed[6][1]["extend"]
    assert report["compiled"] is None  # no background compiler on the CPU engine


def test_timing_waits_for_the_background_compiles():
    import threading

    from motionbridge.daemon.engine.compile.shape_compiler import ShapeCompiler

    release = threading.Event()

    class Engine:
        compiler = ShapeCompiler(switch_interval=None)

    Engine.compiler.submit("shape", release.wait)
    try:
        assert controls_cost.settle(Engine, 0.2) is False
        release.set()
        assert controls_cost.settle(Engine, 10) is True
    finally:
        release.set()
        Engine.compiler.close()
