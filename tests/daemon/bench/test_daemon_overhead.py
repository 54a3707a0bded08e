"""`motionbridge bench --scenario daemon-overhead` (daemon/bench/daemon_overhead.py): one repeated
take through a real `serve` and in-process, side by side. Here: that it runs on the CPU and
reports the figures, consistent with each other (never how large they are), and how the pairs
are taken."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from motionbridge.daemon.bench.daemon_overhead import measure


def bench(*args, cwd):
    cmd = [sys.executable, "-m", "motionbridge.daemon.cli", "bench", "--scenario", "daemon-overhead", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), cwd=cwd, timeout=300)


def test_the_cpu_scenario_reports_the_overhead_of_a_served_take(tmp_path, parity):
    out = tmp_path / "overhead.json"
    proc = bench("--takes", "3", "--engine-option", f"parity={parity}", "--json", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(out.read_text())
    assert r["scenario"] == "daemon-overhead" and r["takes"] == 3 and r["engine_options"]["model"] == "tiny-random"
    assert r["daemon_ms"] > 0 and r["engine_ms"] > 0
    assert abs(r["overhead_ms"] - (r["daemon_ms"] - r["engine_ms"])) < 0.002
    # the served takes are the in-process takes, bit for bit (same engine, same seeds)
    assert r["same_takes"] == 3 and r["stages_while_measuring"] == []
    ev = r["daemon_events_ms"]  # medians keep the order each take's events arrive in
    assert 0 < ev["accepted"] <= ev["first_progress"] <= ev["last_progress"] <= ev["result"] <= r["daemon_ms"]
    own = r["engine_own_ms"]
    assert 0 < own["in_worker"] <= r["daemon_ms"] and 0 < own["in_process"] <= r["engine_ms"]
    assert f"overhead {r['overhead_ms']:.2f} ms" in proc.stdout and (tmp_path / "overhead.log").is_file()


def test_pairs_alternate_their_order_share_seeds_and_wait_for_the_fast_path():
    calls = []
    stages = iter(["compiling"] * 2)

    def take(where):
        def run(prompt, duration, seeds):
            calls.append((where, seeds))
            ms = {"daemon": 12.0, "engine": 10.0}[where] + seeds[0] % 3
            return {"ms": ms, "clips": [], "engine_s": ms / 2000, "stage": next(stages, ""), "accepted_ms": 1.0}
        return run

    r = measure(take("daemon"), take("engine"), takes=4)
    warm, measured = calls[: 2 * r["warm_takes"]], calls[2 * r["warm_takes"]:]
    assert r["warm_takes"] == 2 and len(warm) == 4  # two pairs, the first still compiling
    assert [w for w, _ in measured] == ["daemon", "engine", "engine", "daemon"] * 2
    assert [s for _, s in measured] == [(0,), (0,), (1,), (1,), (2,), (2,), (3,), (3,)]
    assert r["daemon_ms"] == 12.5 and r["engine_ms"] == 10.5 and r["overhead_ms"] == 2.0 and r["paired_overhead_ms"] == 2.0
    assert r["engine_slowdown_ms"] == 1.0 and r["around_engine_ms"] == 1.0
    assert r["daemon_events_ms"] == {"accepted": 1.0} and r["same_takes"] == 4


def test_bad_arguments_are_refused_with_one_line(tmp_path):
    for args in (["--takes", "0"], ["--engine-option", "novalue"], ["--engine-factory", "nocolon"]):
        proc = bench(*args, cwd=tmp_path)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
