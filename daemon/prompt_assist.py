"""The prompt assistant: an optional LLM pass that rewrites the prompt and estimates the take's
duration, as official HY-Motion does with its Text2MotionPrompter.

It talks to any OpenAI-compatible endpoint (`POST {url}/chat/completions`), e.g. a local vLLM or
llama.cpp server running Tencent's Text2MotionPrompter or another instruct model, with the
official instruction (`PROMPTER_FORMAT`, the text the prompter was tuned on). It is off by
default and never required: when the endpoint is down, slow, or answers something unusable,
`assist` returns the original prompt and duration with a warning. Answers are cached on disk by
(model, prompt) under $MOTIONBRIDGE_HOME/prompt_assist, written atomically, so the same prompt
gives the same rewrite on the next run, offline too.

Standard library only: the CLI, the batch runner and a DCC panel can all call `assist`.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from motionbridge.daemon.protocol import limits
from motionbridge.exporters.atomic import atomic_path

URL_ENV = "MOTIONBRIDGE_PROMPTER_URL"
MODEL_ENV = "MOTIONBRIDGE_PROMPTER_MODEL"
KEY_ENV = "MOTIONBRIDGE_PROMPTER_KEY"
DEFAULT_MODEL = "Text2MotionPrompter"
DEFAULT_TIMEOUT_S = 30.0
MAX_ANSWER_BYTES = 1 << 20
FPS = 30  # the prompter answers in frames at 30 fps

# The official instruction, verbatim (HY-Motion 1.0, prompt_engineering/model_constants.py):
# Text2MotionPrompter was tuned on exactly this text; `{}` takes the user's prompt.
PROMPTER_FORMAT = """ 
    # Role
    You are an expert in 3D motion analysis, animation timing, and choreography. Your task is to analyze textual action descriptions to estimate execution time and standardize the language for motion generation systems.

    # Task
    Analyze the user-provided [Input Action] and generate a structured JSON response containing a duration estimate and a refined caption.

    # Instructions

    ### 1. Duration Estimation (frame_count)
    - Analyze the complexity, speed, and physical constraints of the described action.
    - Estimate the time required to perform the action in a **smooth, natural, and realistic manner**.
    - Calculate the total duration in frames based on a **30 fps** (frames per second) standard.
    - Output strictly as an Integer.

    ### 2. Caption Refinement (short_caption)
    - Generate a refined, grammatically correct version of the input description in **English**.
    - **Strict Constraints**:
        - You must **PRESERVE** the original sequence of events (chronological order).
        - You must **RETAIN** all original spatial modifiers (e.g., "left," "upward," "quickly").
        - **DO NOT** add new sub-actions or hallucinate details not present in the input.
        - **DO NOT** delete any specific movements.
    - The goal is to improve clarity and flow while maintaining 100% semantic fidelity to the original request.

    ### 3. Output Format
    - Return **ONLY** a raw JSON object.
    - Do not use Markdown formatting (i.e., do not use ```json ... ```).
    - Ensure the JSON is valid and parsable.

    # JSON Structure
    {{
        "duration": <Integer, frames at 30fps>,
        "short_caption": "<String, the refined English description>"
    }}

    # Input
    {}
"""


class PromptAssistError(Exception):
    """The endpoint could not be reached or its answer was unusable (one line, says which)."""


@dataclass(frozen=True)
class PrompterConfig:
    """Where the prompter runs. `url` is the API base (http://127.0.0.1:8000/v1) or the full
    .../chat/completions URL."""

    url: str
    model: str = DEFAULT_MODEL
    timeout_s: float = DEFAULT_TIMEOUT_S
    api_key: str | None = None
    cache_dir: Path | None = None  # default $MOTIONBRIDGE_HOME/prompt_assist

    @classmethod
    def from_env(cls, url: str | None = None, model: str | None = None, timeout_s: float | None = None) -> PrompterConfig | None:
        """Arguments first, then MOTIONBRIDGE_PROMPTER_URL / _MODEL / _KEY; None when no URL is set."""
        url = url or os.environ.get(URL_ENV)
        if not url:
            return None
        return cls(url, model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL,
                   DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s, os.environ.get(KEY_ENV))

    def check(self) -> None:
        """Raises ValueError for a URL that is not http(s) or a timeout that is not positive."""
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"prompter URL must start with http:// or https://, got {self.url!r}")
        if not self.timeout_s > 0:
            raise ValueError(f"prompter timeout must be a positive number of seconds, got {self.timeout_s}")

    @property
    def completions_url(self) -> str:
        base = self.url.rstrip("/")
        return base if base.endswith("/chat/completions") else f"{base}/chat/completions"


@dataclass(frozen=True)
class Suggestion:
    """The prompter's answer, checked: a prompt the model accepts and a duration in seconds."""

    prompt: str
    duration_s: float


@dataclass(frozen=True)
class Assisted:
    """What to generate with: the rewritten or original prompt and duration, and why."""

    prompt: str
    duration_s: float
    warnings: tuple[str, ...] = ()
    rewritten: bool = False
    estimated: bool = False


def _home() -> Path:
    # the same rule as model.loading.home(), which cannot be imported here (it pulls in torch)
    return Path(os.environ.get("MOTIONBRIDGE_HOME") or Path.home() / ".cache" / "motionbridge").expanduser()


def parse_answer(content: str) -> Suggestion:
    """The prompter's reply text -> Suggestion; PromptAssistError when it is not the JSON object
    the format asks for (a ```json fence or text around the object is tolerated, as officially)."""
    text = content.strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise PromptAssistError(f"prompter answer holds no JSON object: {text[:60]!r}")
    try:
        answer = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise PromptAssistError(f"prompter answer is not valid JSON ({exc.msg})") from None
    caption = answer.get("short_caption") if isinstance(answer, dict) else None
    frames = answer.get("duration") if isinstance(answer, dict) else None
    if not isinstance(caption, str) or not caption.strip():
        raise PromptAssistError("prompter answer has no short_caption text")
    if isinstance(frames, str):
        try:
            frames = float(frames)
        except ValueError:
            frames = None
    if isinstance(frames, bool) or not isinstance(frames, (int, float)) or not 0 < frames < float("inf"):
        raise PromptAssistError(f"prompter answer has no positive duration (frames): {answer.get('duration')!r}")
    try:
        prompt = limits.check_prompt(caption.strip()).value
        duration_s = limits.check_duration(round(float(frames) / FPS, 2)).value
    except ValueError as exc:
        raise PromptAssistError(f"prompter answer is not usable: {exc}") from None
    return Suggestion(prompt, duration_s)


def ask(prompt: str, config: PrompterConfig) -> Suggestion:
    """One request to the endpoint, no cache. Raises PromptAssistError."""
    body = {
        "model": config.model,
        "messages": [{"role": "user", "content": PROMPTER_FORMAT.format(prompt)}],
        "temperature": 0,  # the official local path decodes greedily
        "max_tokens": 512,
    }
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    req = urllib.request.Request(config.completions_url, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=config.timeout_s) as resp:
            raw = resp.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise PromptAssistError(f"prompter at {config.completions_url} answered HTTP {exc.code}") from None
    except TimeoutError:
        raise PromptAssistError(f"prompter at {config.completions_url} did not answer within {config.timeout_s:g} s") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise PromptAssistError(f"prompter at {config.completions_url} did not answer within {config.timeout_s:g} s") from None
        raise PromptAssistError(f"cannot reach the prompter at {config.completions_url}: {reason}") from None
    if len(raw) > MAX_ANSWER_BYTES:
        raise PromptAssistError(f"prompter answer is over {MAX_ANSWER_BYTES} bytes")
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise PromptAssistError("prompter reply is not an OpenAI chat completion (no choices[0].message.content)") from None
    if not isinstance(content, str):
        raise PromptAssistError("prompter reply's message content is not text")
    return parse_answer(content)


def _cache_file(prompt: str, config: PrompterConfig) -> Path:
    key = hashlib.sha256(json.dumps([config.model, PROMPTER_FORMAT, prompt]).encode()).hexdigest()
    return (config.cache_dir or _home() / "prompt_assist") / f"{key}.json"


def cached_ask(prompt: str, config: PrompterConfig) -> Suggestion:
    """`ask`, answered from the on-disk cache when this (model, prompt) was asked before."""
    path = _cache_file(prompt, config)
    try:
        hit = json.loads(path.read_text(encoding="utf-8"))
        return Suggestion(limits.check_prompt(hit["prompt"]).value, limits.check_duration(hit["duration_s"]).value)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no entry, or one that is unreadable: ask again and rewrite it
    suggestion = ask(prompt, config)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({"prompt": suggestion.prompt, "duration_s": suggestion.duration_s}), encoding="utf-8")
    except OSError:
        pass  # the cache is an optimisation: an unwritable home must not cost the answer
    return suggestion


def assist(prompt: str, duration_s: float, config: PrompterConfig, rewrite: bool, estimate_duration: bool) -> Assisted:
    """The prompt and duration to generate with. Never raises for the endpoint's sake: on any
    failure the originals come back with one warning."""
    if not (rewrite or estimate_duration):
        return Assisted(prompt, duration_s)
    try:
        s = cached_ask(prompt, config)
    except PromptAssistError as exc:
        return Assisted(prompt, duration_s, (f"prompt assistant unavailable, using the prompt as typed: {exc}",))
    warnings: tuple[str, ...] = ()
    new_duration = duration_s
    if estimate_duration:
        checked = limits.check_duration(s.duration_s)  # checked in parse_answer; warns past the 12 s window
        new_duration, warnings = checked.value, tuple(checked.warnings)
    return Assisted(s.prompt if rewrite else prompt, new_duration, warnings, rewritten=rewrite, estimated=estimate_duration)
