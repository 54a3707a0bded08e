"""The review page's data and files (no engine needed)."""

from __future__ import annotations

import tracemalloc

from motionbridge.daemon.batch import review, runner, takes


def test_review_page_escapes_and_links(tmp_path):
    entries = [
        {"take": 0, "name": "a_s0", "prompt": "<script>alert(1)</script>", "seed": 0, "status": "ok",
         "files": [{"format": "fbx", "path": "a_s0.fbx"}], "preview": "review/a_s0.gif", "metrics": {"hip_height_ratio": 1.25}},
        {"take": 1, "name": "b_s1", "prompt": "A person jumps.", "seed": 1, "status": "failed", "error": "rig 'x' does not map hips", "files": []},
    ]
    page = review.write_page(tmp_path, entries, "t").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.count('class="card"') == 1 and page.count('class="card failed"') == 1
    assert 'href="../a_s0.fbx"' in page and 'src="../review/a_s0.gif"' in page and "1.25" in page
    assert "does not map hips" in page and "1 ok, 1 failed" in page


def test_two_thousand_rows_plan_in_bounded_memory(tmp_path):
    path = tmp_path / "takes.csv"
    with open(path, "w") as fh:
        fh.write("name,prompt,duration,variations\n")
        fh.writelines(f"take{i:04d},A person walks forward and waves number {i}.,2.5,2\n" for i in range(2000))
    tracemalloc.start()
    p = runner.plan(runner.BatchConfig(path, tmp_path / "out", selection="1000-3999"))
    first = next(runner.pending_takes(p))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (p.num_takes, len(p.pending), first.index, first.name) == (4000, 3000, 1000, "take0500_s0")
    assert peak < 4_000_000, f"planning 4,000 takes peaked at {peak / 1e6:.1f} MB"
    assert sum(1 for _ in takes.iter_takes(path)) == 4000
