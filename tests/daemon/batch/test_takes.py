"""The takes file: three syntaxes, one meaning; every bad row reported with its line."""

from __future__ import annotations

import json

import pytest

from motionbridge.daemon.batch import takes
from motionbridge.daemon.cli import main

YAML = """\
defaults:
  duration: 2.0
takes:
  - name: walk
    prompt: A person walks forward.
    seeds: [3, 4]
  - {name: jump, prompt: "A person jumps.", variations: 3, seed: 10, cfg: 4.0, rig: mixamo, format: "fbx,glb"}
"""
CSV = """\
name,prompt,duration,seeds,variations,seed,cfg,rig,format
walk,A person walks forward.,2.0,3 4,,,,,
jump,A person jumps.,2.0,,3,10,4.0,mixamo,"fbx,glb"
"""
JSONL = """\
{"name": "walk", "prompt": "A person walks forward.", "duration": 2.0, "seeds": [3, 4]}

# comment lines and blank lines are skipped
{"name": "jump", "prompt": "A person jumps.", "duration": 2, "variations": 3, "seed": 10, "cfg": 4, "rig": "mixamo", "format": ["fbx", "glb"]}
"""


@pytest.mark.parametrize("suffix,text", [(".yaml", YAML), (".csv", CSV), (".jsonl", JSONL)])
def test_three_syntaxes_expand_to_the_same_takes(tmp_path, suffix, text):
    path = tmp_path / f"takes{suffix}"
    path.write_text(text)
    summary = takes.validate(path)
    assert (summary.num_rows, summary.num_takes) == (2, 5)
    assert summary.rigs == {"mixamo"} and summary.formats == {"fbx", "glb"}
    got = [(t.index, t.name, t.prompt, t.duration_s, t.seed, t.cfg, t.rig, t.formats) for t in takes.iter_takes(path)]
    assert got == [
        (0, "walk_s3", "A person walks forward.", 2.0, 3, 5.0, None, None),
        (1, "walk_s4", "A person walks forward.", 2.0, 4, 5.0, None, None),
        (2, "jump_s10", "A person jumps.", 2.0, 10, 4.0, "mixamo", ("fbx", "glb")),
        (3, "jump_s11", "A person jumps.", 2.0, 11, 4.0, "mixamo", ("fbx", "glb")),
        (4, "jump_s12", "A person jumps.", 2.0, 12, 4.0, "mixamo", ("fbx", "glb")),
    ]


def test_every_bad_row_is_reported_with_its_line(tmp_path):
    rows = [
        {"name": "ok", "prompt": "A person walks."},
        {"name": "bad name!", "prompt": "A person walks."},
        {"name": "nodur", "prompt": "A person walks.", "duration": -1},
        {"name": "ok", "prompt": "A person runs."},
        {"name": "cfg", "prompt": "A person walks.", "cfg": 99},
        {"name": "both", "prompt": "A person walks.", "seeds": [1], "variations": 2},
        {"name": "typo", "promt": "A person walks."},
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n")
    with pytest.raises(takes.TakesFileError) as err:
        takes.validate(path)
    lines = [line for line, _ in err.value.errors]
    assert lines == [2, 3, 4, 5, 6, 7, 8]
    text = str(err.value)
    assert "t.jsonl:4: name 'ok' is already used on line 1" in text
    assert "t.jsonl:7: unknown field(s) ['promt']" in text
    assert "t.jsonl:8: not valid JSON" in text


def test_yaml_and_csv_errors_point_at_the_right_line(tmp_path):
    y = tmp_path / "t.yaml"
    y.write_text("takes:\n  - name: a\n    prompt: A person walks.\n  - name: b\n    prompt: ''\n")
    with pytest.raises(takes.TakesFileError) as err:
        takes.validate(y)
    assert [line for line, _ in err.value.errors] == [4]
    c = tmp_path / "t.csv"
    c.write_text('name,prompt,seeds\na,A person walks.,1 2\nb,A person walks.,one\n')
    with pytest.raises(takes.TakesFileError) as err:
        takes.validate(c)
    assert err.value.errors[0][0] == 3 and "seeds must be integers" in err.value.errors[0][1]


def test_ranges():
    assert takes.parse_range("0-99", 20) == range(20)
    assert takes.parse_range("5-7", 20) == range(5, 8)
    assert takes.parse_range("7", 20) == range(7, 8)
    assert takes.parse_range(None, 3) == range(3)
    for bad in ("7-5", "x", "20-30", "-3"):
        with pytest.raises(ValueError):
            takes.parse_range(bad, 20)


def test_cli_reports_bad_row_and_runs_nothing(tmp_path, capsys, engine_args):
    path = tmp_path / "t.jsonl"
    path.write_text(
        json.dumps({"name": "good", "prompt": "A person walks."}) + "\n"
        + json.dumps({"name": "bad", "prompt": "A person walks.", "duration": "soon"}) + "\n"
    )
    out = tmp_path / "out"
    code = main(["batch", str(path), "--out", str(out), *engine_args])
    err = capsys.readouterr().err
    assert code == 2
    assert "t.jsonl:2: duration must be a number" in err and "nothing was run" in err
    assert not out.exists()  # not even the output folder: no take ran, nothing was written


def test_cli_check_prints_the_plan_and_writes_nothing(tmp_path, capsys, engine_args):
    path = tmp_path / "t.yaml"
    path.write_text(YAML)
    out = tmp_path / "out"
    assert main(["batch", str(path), "--out", str(out), "--takes", "1-3", "--check", *engine_args]) == 0
    assert "3 takes selected of 5, 0 already done, 3 to run" in capsys.readouterr().err
    assert not out.exists()
