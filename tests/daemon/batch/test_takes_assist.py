"""The takes file's `assist` column: rows that ask get the prompt assistant's rewrite and/or
duration (a real OpenAI-compatible server process, prompter_server.py), the others run as typed,
a bad value is a bad row, and without an endpoint the row runs as typed with a warning."""

from __future__ import annotations

import logging

import prompter_server
import pytest

from motionbridge.daemon.batch import takes

CSV = """\
name,prompt,duration,seed,assist
plain,A person walks forward.,2.0,1,
both,person jumps after they runs,2.0,2,both
words,A person waves.,2.0,3,rewrite
timing,A person sits down.,2.0,4,duration
"""


@pytest.fixture
def takes_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIONBRIDGE_HOME", str(tmp_path / "home"))
    path = tmp_path / "takes.csv"
    path.write_text(CSV)
    return path


def test_rows_get_what_their_assist_column_asks(takes_file, monkeypatch):
    with prompter_server.running() as url:
        monkeypatch.setenv("MOTIONBRIDGE_PROMPTER_URL", f"{url}/ok/v1")
        got = {t.row_name: t for t in takes.iter_takes(takes_file)}
    assert (got["plain"].prompt, got["plain"].duration_s, got["plain"].assist) == ("A person walks forward.", 2.0, ())
    assert (got["both"].prompt, got["both"].duration_s) == ("Refined: person jumps after they runs", pytest.approx(3.2))
    assert (got["words"].prompt, got["words"].duration_s) == ("Refined: A person waves.", 2.0)
    assert (got["timing"].prompt, got["timing"].duration_s) == ("A person sits down.", pytest.approx(3.2))
    assert [t.index for t in got.values()] == [0, 1, 2, 3] and got["both"].name == "both_s2"


def test_without_an_endpoint_rows_run_as_typed(takes_file, monkeypatch, caplog):
    monkeypatch.delenv("MOTIONBRIDGE_PROMPTER_URL", raising=False)
    with caplog.at_level(logging.WARNING):
        got = {t.row_name: t for t in takes.iter_takes(takes_file)}
    assert got["both"].prompt == "person jumps after they runs" and got["both"].duration_s == 2.0
    assert "MOTIONBRIDGE_PROMPTER_URL is not set" in caplog.text


def test_a_bad_assist_value_is_a_bad_row(tmp_path):
    path = tmp_path / "takes.csv"
    path.write_text("name,prompt,assist\nx,A person walks.,always\n")
    with pytest.raises(takes.TakesFileError, match="assist must be one of"):
        takes.validate(path)
