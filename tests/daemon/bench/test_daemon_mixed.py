"""`motionbridge bench --scenario daemon-mixed` (daemon/bench/daemon_mixed.py): the seeded request mix
and the figures it reports; bad arguments refused with one line. (The scenario itself starts
`serve` twice and runs a whole mix: it ran end to end on the CPU with the tiny model, minutes
on these cores, so it is not part of the suite.)"""

from __future__ import annotations

import os
import subprocess
import sys

from motionbridge.daemon.bench.daemon_mixed import Daemon, _mix, _quantiles, compiles_settled, request_mix
from motionbridge.daemon.bench.random_models import random_text_engine


def test_the_mix_is_seeded_and_covers_the_issue_ranges():
    mix = request_mix(200)
    assert mix == request_mix(200) and mix != request_mix(200, seed=1)
    words = [len(p.split()) for p, _, _ in mix]
    assert min(words) == 3 and max(words) == 50
    assert {d for _, d, _ in mix} <= {x / 2 for x in range(3, 25)} and min(d for _, d, _ in mix) == 1.5 and max(d for _, d, _ in mix) == 12
    assert {k for _, _, k in mix} == {1, 2, 3, 4}


def test_quantiles():
    q = _quantiles([float(x) for x in range(1, 11)] + [2000.0])
    assert q == {"n": 11, "p50": 6.0, "p90": 10.0, "max": 2000.0, "over_1s": 1}


def test_the_served_engine_takes_config_fields_as_strings(parity):
    e = random_text_engine("cpu", "tiny-random", parity=str(parity), steps="2", max_rows="4", buckets="true", compile_wait_ms="250")
    assert e.fast.max_rows == 4 and e.fast.buckets is True and e.fast.compile_wait_ms == 250
    assert e.config.pipeline.validation_steps == 2 and e.text is not None


def test_bad_arguments_are_refused(tmp_path):
    for args in (["--requests", "0"], ["--engine-option", "novalue"], ["--settle-s", "-1"]):
        p = subprocess.run([sys.executable, "-m", "motionbridge.daemon.cli", "bench", "--scenario", "daemon-mixed", *args],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path, env=dict(os.environ))
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_each_request_row_carries_the_engine_seconds_of_its_first_take():
    """Where a slow request's time went (text, sampling, decode) is in the report, not only its total."""
    seen = []

    def run(prompt, duration, seeds):
        seen.append(seeds)
        return 120.0 * len(seeds), {"compiling"}, {"text_s": 0.0125, "sample_s": 0.1, "decode_s": 0.002}

    report = _mix(run, request_mix(3), seed0=7)
    assert [r["engine_ms"] for r in report["requests"]] == [{"text": 12.5, "sample": 100.0, "decode": 2.0}] * 3
    assert report["requests_with_stage"] == {"compiling": 3} and seen[0][0] == 7


def test_the_report_gives_each_engine_stages_median():
    """Which stage a mix's time goes to (text, sampling, the new shapes' captures, decode), at a
    glance: medians over the requests that report the stage."""
    timings = iter([{"sample_s": 0.1, "capture_s": 0.05}, {"sample_s": 0.3}, {"sample_s": 0.2, "capture_s": 0.09}])
    report = _mix(lambda prompt, duration, seeds: (1.0, set(), next(timings)), request_mix(3), seed0=0)
    assert report["engine_stage_p50_ms"] == {"capture": 70.0, "sample": 200.0}


def _worker(compiles):
    return {"index": 0, "ready": True, "compiles": compiles}


def test_the_mix_waits_for_the_background_compiles_when_asked_to_settle(monkeypatch):
    """--settle-s: STATUS is polled until no worker compiles or waits to compile (an engine that
    compiles nothing reports null), and the wait's seconds are reported, None on timeout."""
    busy = {"ready": 1, "failed": 0, "queued": 2, "compiling": "(1, 152, 16, 50)"}
    last = {"ready": 3, "failed": 0, "queued": 0, "compiling": "(1, 272, 64, 50)"}
    done = {"ready": 4, "failed": 1, "queued": 0, "compiling": None}
    assert not compiles_settled({"workers": [_worker(busy)]}) and not compiles_settled({"workers": [_worker(last)]})
    assert compiles_settled({"workers": [_worker(done), _worker(None)]}) and not compiles_settled({"workers": [_worker(done), _worker(last)]})

    class Client:
        def __init__(self, answers):
            self.answers = list(answers)

        def status(self, timeout_s=None):
            return {"workers": [_worker(self.answers.pop(0) if len(self.answers) > 1 else self.answers[0])]}

    monkeypatch.setattr("motionbridge.daemon.bench.daemon_mixed.time.sleep", lambda s: None)
    d = object.__new__(Daemon)  # its settle() alone: no serve process
    d.client = Client([busy, last, done])
    assert d.settle(30.0) is not None and d.client.answers == [done]
    d.client = Client([busy])
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr("motionbridge.daemon.bench.daemon_mixed.time.perf_counter", lambda: float(next(clock)))
    assert d.settle(30.0) is None
