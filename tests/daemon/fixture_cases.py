"""A parity fixture's cases read the way the runtime reads requests: a case's `text` is one
prompt for all its seeds, or a list with one prompt per seed (a batch of different prompts,
which the runtime encodes in one pass). Tests that read a fixture take prompts from here, so
any fixture made the same way (other case names, other dimensions, batched prompts) works."""

from __future__ import annotations

from typing import Any, Mapping


def case_prompts(case: Mapping[str, Any]) -> list[str]:
    """One prompt per seed of the case."""
    text, seeds = case["text"], case["seeds"]
    if isinstance(text, str):
        return [text] * len(seeds)
    if isinstance(text, list) and len(text) == len(seeds) and all(isinstance(t, str) for t in text):
        return list(text)
    raise ValueError(f"case {case.get('name')!r}: text must be a string or a list of one string per seed")


def single_prompt(case: Mapping[str, Any]) -> str | None:
    """The case's prompt when all its seeds share one (what `generate "PROMPT"` can ask), else None."""
    prompts = case_prompts(case)
    return prompts[0] if len(set(prompts)) == 1 else None
