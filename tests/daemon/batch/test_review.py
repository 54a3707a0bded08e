"""The review page's data and files (no engine needed)."""

from __future__ import annotations

import tracemalloc

from review_output import ERROR, entry, many_entries

from motionbridge.daemon.batch import review, runner, takes


def test_page_is_small_static_html_with_the_takes_in_json_next_to_it(tmp_path):
    entries = [
        entry(0, "<script>alert(1)</script>", 0, 4.0, "mixamo", files=[{"format": "fbx", "path": "a_s0.fbx"}], preview="review/a_s0.gif", name="a_s0"),
        entry(1, "A person jumps.", 1, 2.0, None, "failed", name="b_s1"),
        entry(2, "A person jumps.", 2, 2.0, None, name="b_s2", frames=61, fps=30.0),
    ]
    page = review.write_page(tmp_path, iter(entries), "batch <b>x</b>")
    html = page.read_text()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html  # the title is escaped
    assert "alert" not in html and "jumps" not in html  # no take is inlined in the page
    assert "3 takes of 2 prompts: 2 ok, 1 failed" in html  # summary at the top, before any script runs
    assert html.index('id="summary"') < html.index('id="groups"')
    data = review.read_data(tmp_path)
    assert data["prompts"] == ["<script>alert(1)</script>", "A person jumps."]
    a, b, c = data["takes"]
    assert (a["prompt"], a["seconds"], a["duration"], a["rig"], a["files"], a["preview"]) == (0, 4.0, 4.0, "mixamo", [["fbx", "a_s0.fbx"]], "review/a_s0.gif")
    assert (b["status"], b["error"], b["rig"], c["seconds"]) == ("failed", ERROR, "SMPL-X", 2.03)  # seconds, not frames
    assert "metrics" not in a  # retarget metrics stay in the manifest
    script = (tmp_path / "review" / review.DATA_SCRIPT).read_text()
    assert script == f"window.{review.DATA_GLOBAL} = " + (tmp_path / "review" / review.DATA).read_text() + ";\n"
    assert {p.name for p in (tmp_path / "review").iterdir()} == {"index.html", "takes.json", "takes.js", "review.js", "review.css"}


def test_ten_thousand_takes_make_a_small_page_and_a_compact_data_file(tmp_path):
    page = review.write_page(tmp_path, many_entries(10_000), "big")
    data = review.read_data(tmp_path)
    assert len(data["takes"]) == 10_000 and len(data["prompts"]) == 2_500
    assert page.stat().st_size < 4_000
    assert (tmp_path / "review" / review.DATA).stat().st_size < 2_500_000  # 1.7 MB


def test_rows_are_streamed_to_disk_not_held(tmp_path):
    tracemalloc.start()
    review.write_page(tmp_path, many_entries(4_000), "big")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 3_000_000, f"writing 4,000 takes peaked at {peak / 1e6:.1f} MB"  # held in a list: ~7 MB


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
