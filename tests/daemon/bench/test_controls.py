"""`motionbridge bench --scenario controls`: a real CLI process on both CPU fixtures, few steps."""

from __future__ import annotations

import json

from .test_cli import bench


def test_controls_scenario_reports_both_fixtures(tmp_path, parity):
    out, table = tmp_path / "c.json", tmp_path / "c.md"
    proc = bench("--scenario", "controls", "--parity", str(parity), "--steps", "2", "--seeds", "0",
                 "--json", str(out), "--table", str(table), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["steps"] == 2 and result["seeds"] == [0]
    assert set(result["fixtures"]) == {"parity (random weights)", "smooth (trained fixture)"}
    for name, parts in result["fixtures"].items():
        methods = {r["method"]: r for r in parts["methods"]}
        # replacement is exact at t = 1 whatever the step count; the plain take misses the poses
        assert methods["replacement"]["worst_cm"] < 1.0 and methods["replacement"]["worst_deg"] < 1.0, name
        assert methods["plain (no constraint)"]["worst_cm"] > 5.0, name
        assert methods["plain (no constraint)"]["cost_x_plain"] == 1.0
        controls = {r["control"] for r in parts["seams"]}
        assert controls == {"start", "extend", "loop", "keys", "regenerate"}, name
        for r in parts["seams"]:
            assert r["ours_velocity"] > 0 and r["naive_acceleration"] > 0
            if r["skate_cm_s"] is not None:  # the foot-skate check is reported beside the figures
                assert r["skate_no_worse"] == (r["skate_cm_s"] <= 1.15 * r["free_skate_cm_s"]), r
            if r["error_cm"] is not None:
                assert r["error_cm"] < 1.0 and r["error_deg"] < 1.0, (name, r)
    assert "### smooth (trained fixture): seams" in table.read_text() and "skate no worse (15%)" in proc.stdout and "| regenerate |" in proc.stdout


def test_controls_scenario_refuses_bad_seeds_and_a_missing_fixture(tmp_path, parity):
    proc = bench("--scenario", "controls", "--parity", str(parity), "--seeds", "zero", cwd=tmp_path)
    assert proc.returncode == 2 and "--seeds 'zero'" in proc.stderr
    proc = bench("--scenario", "controls", "--parity", str(parity), "--smooth", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert proc.returncode == 2 and "smooth fixture not found" in proc.stderr
