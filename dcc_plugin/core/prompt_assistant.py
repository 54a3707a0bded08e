"""The panel's prompt assistant: Rewrite asks the prompter (daemon/prompt_assist.py, any
OpenAI-compatible endpoint) for a rewritten prompt and a duration estimate, shown in the panel
for the animator to edit before Generate sends it.

The HTTP call runs on a worker thread of its own (not the client's, which owns the ZeroMQ
socket: a slow prompter must not hold up a Cancel), and its answer comes back through
`host.run_on_main_thread`, so the DCC never waits on the network. A prompter that is down or
answers nonsense gives the prompt as typed and one warning on the panel's error line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from motionbridge.daemon.prompt_assist import URL_ENV, Assisted, PrompterConfig, assist
from motionbridge.daemon.protocol import limits

from .jobs import JobManager
from .panel import Panel


@dataclass(frozen=True)
class Suggested:
    """What Rewrite leaves in the panel: the prompt to show (editable) and the duration."""

    typed: str  # the prompt it was made from: a Rewrite is stale once the typed prompt changes
    prompt: str
    duration_s: float
    fell_back: bool  # the prompter failed: `prompt` is the typed one


def prompt_for_generate(typed: str, shown: str, last: Suggested | None, rewrite_on: bool) -> str | None:
    """The prompt Generate sends: the typed one with Rewrite off; with it on, the rewritten
    field as the animator left it, or None when there is no rewrite of this typed prompt yet
    (the caller asks for one, so the animator sees it before anything is generated)."""
    if not rewrite_on:
        return typed
    if last is None or last.typed != typed.strip() or not shown.strip():
        return None
    return shown


class PromptAssistant:
    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.last: Suggested | None = None
        self.pending = False
        self._shown = ""  # the error line this assistant put up: a later good answer takes it down
        self._jobs: JobManager | None = None

    def _refuse(self, message: str) -> None:
        self._shown = message
        self.panel.refuse(message)

    def rewrite(self, prompt: str, duration_s: float, url: str, *, rewrite: bool, estimate_duration: bool,
                on_done: Callable[[Suggested], None] | None = None) -> bool:
        """Ask the prompter in the background; `on_done(suggested)` runs on the main thread.
        False, with the reason on the panel's error line, when nothing was asked."""
        try:
            if not (rewrite or estimate_duration):
                raise ValueError("turn on Rewrite prompt or Estimate duration first")
            if self.pending:
                raise ValueError("the prompt assistant is still answering; wait for it")
            typed = str(limits.check_prompt(prompt).value)
            config = PrompterConfig.from_env(url.strip() or None)
            if config is None:
                raise ValueError(f"no prompter address: set it in the panel (Prompter) or in ${URL_ENV}, e.g. http://127.0.0.1:8000/v1")
            config.check()
        except ValueError as exc:
            self._refuse(str(exc))
            return False
        if self._jobs is None:
            self._jobs = JobManager(self.panel.host.run_on_main_thread, name="motionbridge-prompter")
        self.pending = True
        self.panel.status = "Asking the prompt assistant..."

        def done(got: Assisted) -> None:
            self.pending = False
            fell_back = not (got.rewritten or got.estimated)
            self.last = Suggested(typed, got.prompt, float(got.duration_s), fell_back)
            if fell_back and got.warnings:
                self._refuse(got.warnings[0])
            else:
                if self._shown and self.panel.error == self._shown:  # not someone else's error
                    self.panel.clear_error()
                self.panel.note_warnings(got.warnings)
                if not self.panel.busy:  # a running generation's progress keeps the status line
                    self.panel.status = "Prompt rewritten: edit it if needed, then Generate." if got.rewritten else "Duration estimated."
            if on_done is not None:
                on_done(self.last)

        def failed(exc: BaseException) -> None:  # `assist` answers failures itself; this is a bug's path
            self.pending = False
            self._refuse(f"prompt assistant failed, using the prompt as typed: {exc}")

        self._jobs.submit(lambda: assist(typed, float(duration_s), config, rewrite, estimate_duration), done, failed)
        return True

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.shutdown(timeout_s=1.0)
            self._jobs = None
