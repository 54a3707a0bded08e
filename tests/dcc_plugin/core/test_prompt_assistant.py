"""The panel's prompt assistant (no DCC): which prompt Generate sends, and Rewrite against the
real test prompter process (tests/daemon/prompter_server.py) with the answer delivered on the
host's main-thread queue. The Blender side runs in tests/dcc_plugin/blender/test_blender_assist.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from dcc_fakes import FakeHost

from motionbridge.daemon.prompt_assist import URL_ENV
from motionbridge.dcc_plugin.core.panel import Panel
from motionbridge.dcc_plugin.core.prompt_assistant import PromptAssistant, Suggested, prompt_for_generate
from motionbridge.rigs.smplx import smplx_skeleton

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "daemon"))
import prompter_server

TYPED = "person jumps after they runs"
DONE = Suggested(TYPED, f"Refined: {TYPED}", 3.2, False)


@pytest.mark.parametrize("typed, shown, last, on, sent", [
    (TYPED, "", None, False, TYPED),  # Rewrite prompt off: as typed
    (TYPED, "", None, True, None),  # on, never rewritten: rewrite first
    ("A person sits down.", DONE.prompt, DONE, True, None),  # the typed prompt changed since: rewrite again
    (TYPED, "  ", DONE, True, None),  # the animator emptied the field
    (TYPED, "Refined, then edited.", DONE, True, "Refined, then edited."),  # the field as the animator left it
])
def test_the_prompt_generate_sends(typed, shown, last, on, sent):
    assert prompt_for_generate(typed, shown, last, on) == sent


@pytest.fixture(scope="module")
def prompter():
    with prompter_server.running() as url:
        yield url


@pytest.fixture
def panel(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIONBRIDGE_HOME", str(tmp_path))  # a cache of this test's own
    monkeypatch.delenv(URL_ENV, raising=False)
    p = Panel(FakeHost({"body": smplx_skeleton()}, selected="body"))
    yield p
    p.close()


def test_rewrite_answers_on_the_main_thread_and_refuses_a_second_ask(panel, prompter):
    assistant, got = PromptAssistant(panel), []
    assert assistant.rewrite(TYPED, 5.0, f"{prompter}/ok/v1", rewrite=True, estimate_duration=False, on_done=got.append)
    assert assistant.pending and got == []  # the answer waits for the main thread's queue
    assert not assistant.rewrite(TYPED, 5.0, f"{prompter}/ok/v1", rewrite=True, estimate_duration=False)
    assert "still answering" in panel.error
    panel.host.pump(lambda: not assistant.pending)
    assert got == [Suggested(TYPED, f"Refined: {TYPED}", 5.0, False)]  # duration kept: Estimate is off
    assert assistant.last == got[0] and panel.error == "" and "rewritten" in panel.status
    assistant.close()


def test_estimate_only_keeps_the_prompt_and_reads_the_address_from_the_environment(panel, prompter, monkeypatch):
    monkeypatch.setenv(URL_ENV, f"{prompter}/ok/v1")
    assistant, got = PromptAssistant(panel), []
    assert assistant.rewrite(TYPED, 5.0, "", rewrite=False, estimate_duration=True, on_done=got.append)
    panel.host.pump(lambda: not assistant.pending)
    assert got == [Suggested(TYPED, TYPED, pytest.approx(96 / 30), False)]
    assistant.close()


def test_a_good_answer_takes_down_only_the_assistants_own_warning(panel, prompter):
    assistant = PromptAssistant(panel)
    assert assistant.rewrite(TYPED, 5.0, "http://127.0.0.1:9/v1", rewrite=True, estimate_duration=True)  # nothing listens
    panel.host.pump(lambda: not assistant.pending)
    assert panel.error.startswith("prompt assistant unavailable") and assistant.last.fell_back
    assert assistant.last.prompt == TYPED and assistant.last.duration_s == 5.0
    assert assistant.rewrite(TYPED, 5.0, f"{prompter}/ok/v1", rewrite=True, estimate_duration=True)
    panel.host.pump(lambda: not assistant.pending)
    assert panel.error == "" and not assistant.last.fell_back
    panel.refuse("rig 'X' cannot be mapped automatically")  # someone else's error stays up
    assert assistant.rewrite(TYPED, 5.0, f"{prompter}/ok/v1", rewrite=True, estimate_duration=True)
    panel.host.pump(lambda: not assistant.pending)
    assert panel.error == "rig 'X' cannot be mapped automatically"
    assistant.close()


@pytest.mark.parametrize("url, why", [
    ("", f"${URL_ENV}"),
    ("localhost:8000/v1", "must start with http://"),
])
def test_no_or_bad_address_is_one_line_and_asks_nothing(panel, url, why):
    assistant = PromptAssistant(panel)
    assert not assistant.rewrite(TYPED, 5.0, url, rewrite=True, estimate_duration=True)
    assert why in panel.error and not assistant.pending and assistant.last is None
