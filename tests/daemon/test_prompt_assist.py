"""The prompt assistant against a real OpenAI-compatible HTTP server process (prompter_server.py,
fixed answers) on loopback: the official format goes out, answers are checked, cached on disk,
and any failure falls back to the prompt as typed with one warning. The CLI's --rewrite and
--auto-duration run end to end on the parity fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import prompter_server
import pytest

from motionbridge.daemon.cli import main
from motionbridge.daemon.prompt_assist import (
    PROMPTER_FORMAT,
    PromptAssistError,
    PrompterConfig,
    ask,
    assist,
    cached_ask,
    parse_answer,
)

TYPED = "person jumps after they runs"


@pytest.fixture(scope="module")
def server():
    with prompter_server.running() as url:
        yield url


def config(server: str, mode: str, tmp_path: Path, timeout_s: float = 10.0) -> PrompterConfig:
    return PrompterConfig(f"{server}/{mode}/v1", timeout_s=timeout_s, cache_dir=tmp_path / "cache")


def calls(server: str) -> int:
    with urllib.request.urlopen(f"{server}/count", timeout=10) as resp:
        return json.loads(resp.read())["count"]


def test_official_format_carries_the_prompt():
    text = PROMPTER_FORMAT.format(TYPED)
    assert text.rstrip().endswith(f"# Input\n    {TYPED}")
    assert '"duration": <Integer, frames at 30fps>' in text and "short_caption" in text


@pytest.mark.parametrize("mode", ["ok", "fenced"])
def test_answer_is_read(server, tmp_path, mode):
    s = ask(TYPED, config(server, mode, tmp_path))
    assert s.prompt == f"Refined: {TYPED}" and s.duration_s == pytest.approx(96 / 30)


@pytest.mark.parametrize("mode, message", [
    ("prose", "no JSON object"),
    ("notjson", "not an OpenAI chat completion"),
    ("nochoices", "not an OpenAI chat completion"),
    ("baddur", "no positive duration"),
    ("longdur", "over the 60 s limit"),
    ("error500", "HTTP 500"),
])
def test_malformed_answers_are_one_clear_error(server, tmp_path, mode, message):
    with pytest.raises(PromptAssistError, match=message):
        ask(TYPED, config(server, mode, tmp_path))


def test_api_key_from_the_environment_is_sent(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIONBRIDGE_PROMPTER_URL", f"{server}/auth/v1")
    with pytest.raises(PromptAssistError, match="HTTP 401"):
        ask(TYPED, PrompterConfig.from_env())
    monkeypatch.setenv("MOTIONBRIDGE_PROMPTER_KEY", "sekrit")
    assert ask(TYPED, PrompterConfig.from_env()).prompt == f"Refined: {TYPED}"


def test_timeout(server, tmp_path):
    started = time.monotonic()
    with pytest.raises(PromptAssistError, match="did not answer within 0.5 s"):
        ask(TYPED, config(server, "slow", tmp_path, timeout_s=0.5))
    assert time.monotonic() - started < 4  # the server answers after 5 s: the client gave up first


def test_unreachable_endpoint(tmp_path):
    with pytest.raises(PromptAssistError, match="cannot reach"):
        ask(TYPED, PrompterConfig("http://127.0.0.1:9/v1", timeout_s=2))


def test_failure_falls_back_to_the_prompt_as_typed(server, tmp_path):
    got = assist(TYPED, 4.0, config(server, "prose", tmp_path), rewrite=True, estimate_duration=True)
    assert (got.prompt, got.duration_s, got.rewritten, got.estimated) == (TYPED, 4.0, False, False)
    assert len(got.warnings) == 1 and "using the prompt as typed" in got.warnings[0]


def test_rewrite_and_duration_are_separate_choices(server, tmp_path):
    cfg = config(server, "ok", tmp_path)
    only_duration = assist(TYPED, 4.0, cfg, rewrite=False, estimate_duration=True)
    assert only_duration.prompt == TYPED and only_duration.duration_s == pytest.approx(3.2)
    only_rewrite = assist(TYPED, 4.0, cfg, rewrite=True, estimate_duration=False)
    assert only_rewrite.prompt == f"Refined: {TYPED}" and only_rewrite.duration_s == 4.0
    before = calls(server)
    off = assist(TYPED, 4.0, cfg, rewrite=False, estimate_duration=False)
    assert (off.prompt, off.duration_s) == (TYPED, 4.0) and calls(server) == before  # off: no request at all


def test_answers_are_cached_by_prompt_on_disk(server, tmp_path):
    cfg = config(server, "ok", tmp_path)
    before = calls(server)
    first = cached_ask(TYPED, cfg)
    assert calls(server) == before + 1
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1 and files[0].suffix == ".json"  # no temp file left behind
    assert cached_ask(TYPED, cfg) == first and calls(server) == before + 1  # second time: from disk
    cached_ask("A person waves.", cfg)
    assert calls(server) == before + 2  # another prompt is another question
    files[0].write_text("{truncated")  # a damaged entry is asked again and rewritten
    assert cached_ask(TYPED, cfg) == first and calls(server) == before + 3
    assert json.loads(files[0].read_text())["prompt"] == first.prompt


def test_parse_tolerates_text_around_the_object():
    s = parse_answer('Result: {"duration": "60", "short_caption": "A person waves."} done')
    assert s.prompt == "A person waves." and s.duration_s == 2.0


# -- the CLI --------------------------------------------------------------------------------------

def _generate(parity, tmp_path, *extra, env=None):
    te = parity / "text_encoders"
    cmd = [sys.executable, "-m", "motionbridge.daemon.cli", "generate", TYPED, "--duration", "1", "--seed", "0",
           "--checkpoint", str(parity / "model"), "--qwen", str(te / "qwen3"), "--clip", str(te / "clip"),
           "--out", str(tmp_path / "take.npz"), *extra]
    env = {**os.environ, "MOTIONBRIDGE_HOME": str(tmp_path / "home"), **(env or {})}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def test_generate_rewrite_and_auto_duration(parity, server, tmp_path):
    from motionbridge.exporters.npz import read

    proc = _generate(parity, tmp_path, "--rewrite", "--auto-duration", env={"MOTIONBRIDGE_PROMPTER_URL": f"{server}/ok/v1"})
    assert proc.returncode == 0, proc.stderr
    assert f"prompt rewritten: Refined: {TYPED}" in proc.stderr and "duration estimated: 3.2 s" in proc.stderr
    assert "LOAD REPORT" not in proc.stderr and "Loading weights" not in proc.stderr  # transformers 5.x kept quiet
    clip = read(tmp_path / "take.npz")[0]
    assert clip.metadata["prompt"] == f"Refined: {TYPED}" and clip.metadata["prompt_as_typed"] == TYPED
    assert clip.num_frames == 96  # the prompter's 96 frames, not --duration's 30


def test_generate_with_a_broken_prompter_uses_the_prompt_as_typed(parity, server, tmp_path):
    from motionbridge.exporters.npz import read

    proc = _generate(parity, tmp_path, "--rewrite", "--prompter", f"{server}/notjson/v1")
    assert proc.returncode == 0, proc.stderr
    assert "warning: prompt assistant unavailable, using the prompt as typed" in proc.stderr
    clip = read(tmp_path / "take.npz")[0]
    assert clip.metadata["prompt"] == TYPED and "prompt_as_typed" not in clip.metadata and clip.num_frames == 30


@pytest.mark.parametrize("argv, message", [
    (["--rewrite"], "need the prompter's address"),
    (["--auto-duration", "--prompter", "ftp://x/v1"], "http:// or https://"),
    (["--rewrite", "--prompter", "http://127.0.0.1:9/v1", "--prompter-timeout", "0"], "positive number"),
])
def test_bad_prompter_options(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.delenv("MOTIONBRIDGE_PROMPTER_URL", raising=False)
    rc = main(["generate", TYPED, "--out", str(tmp_path / "take.npz"), *argv])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "take.npz").exists()


def test_importing_it_loads_no_third_party_module():
    """A DCC panel can call it from the DCC's own Python: standard library only."""
    code = ("import sys, motionbridge.daemon.prompt_assist\n"
            "print(','.join(m for m in ('torch', 'numpy', 'transformers', 'zmq', 'msgpack', 'yaml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == ""
