"""A parity fixture's cases read the way the runtime reads requests: a case's `text` is one
prompt for all its seeds, or a list with one prompt per seed (a batch of different prompts,
which the runtime encodes in one pass). Tests that read a fixture take prompts, requests and
cases from here, choosing cases by what they are (length, seeds, cfg, game flag, truncation),
never by name, so any fixture made the same way (other case names and order, other
dimensions, batched prompts) works; a test skips, saying why, only where a fixture lacks the
kind of case it needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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


# -- requests: what a case asks the runtime for ----------------------------------------------
# A GenerationRequest has one prompt and several seeds, so a case whose seeds have different
# prompts becomes one request per distinct prompt; `case_row` maps a take back to its row.

_PART = "#"  # request id of a case's k-th distinct prompt: f"{name}#{k}" (only when there are several)


def _prompt_groups(case: Mapping[str, Any]) -> list[tuple[str, list[int]]]:
    """(prompt, rows) per distinct prompt, in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for row, prompt in enumerate(case_prompts(case)):
        groups.setdefault(prompt, []).append(row)
    return list(groups.items())


def case_requests(case: Mapping[str, Any]) -> list:
    """The requests that generate every row of the case (request id = case name, or
    name#k when its seeds have different prompts)."""
    from motionbridge.daemon.engine.api import GenerationRequest

    groups = _prompt_groups(case)
    name = case["name"]
    return [
        GenerationRequest(prompt, case["duration_s"], tuple(case["seeds"][r] for r in rows), case["cfg_scale"],
                          bool(case.get("use_special_game_feat", False)), name if len(groups) == 1 else f"{name}{_PART}{k}")
        for k, (prompt, rows) in enumerate(groups)
    ]


def requests(cases: Mapping[str, Mapping[str, Any]], names) -> list:
    """The requests of several cases, in order."""
    return [r for n in names for r in case_requests(cases[n])]


def case_row(cases: Mapping[str, Mapping[str, Any]], request_id: str, seed: int) -> tuple[str, int]:
    """(case name, row in its arrays) of the take (request_id, seed) of `case_requests`."""
    if request_id in cases:
        name, rows = request_id, list(range(len(cases[request_id]["seeds"])))
    else:
        name, k = request_id.rsplit(_PART, 1)
        rows = _prompt_groups(cases[name])[int(k)][1]
    seeds = cases[name]["seeds"]
    return name, next(r for r in rows if seeds[r] == seed)


def take_order(cases: Mapping[str, Mapping[str, Any]], names) -> list[tuple[str, int]]:
    """(request_id, seed) of every take the requests of `names` give, in the engine's order."""
    return [(r.request_id, s) for r in requests(cases, names) for s in r.seeds]


# -- choosing cases by what they are, never by name ------------------------------------------


def _need(found, what: str):
    import pytest

    if not found:
        pytest.skip(f"the parity fixture has no {what}")
    return found


def longest_length(cases: Mapping[str, Mapping[str, Any]]) -> int:
    return max(c["length"] for c in cases.values())


def mixed_cases(cases: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every case but those of the longest length (the costliest to sample; with all of one
    length, every case): a batch of mixed lengths, prompts, cfg and game flags."""
    top = longest_length(cases)
    names = [n for n, c in cases.items() if c["length"] < top]
    return names or list(cases)


def _guided_without_game(c: Mapping[str, Any]) -> bool:
    """Guided (cfg > 1), no game flag."""
    return c["cfg_scale"] > 1 and not c.get("use_special_game_feat", False)


def two_lengths(cases: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Two guided cases without the game flag, shorter than the longest take, of different
    lengths: the longer one first, then the one with the most seeds (a batch of its own)."""
    top = longest_length(cases)
    pool = [n for n, c in cases.items() if _guided_without_game(c) and c["length"] < top] or [n for n, c in cases.items() if _guided_without_game(c)]
    batch = max(pool, key=lambda n: (len(cases[n]["seeds"]), -cases[n]["length"]), default=None)
    others = [n for n in pool if batch is not None and cases[n]["length"] != cases[batch]["length"]]
    _need(others, "two guided cases of different lengths")
    first = max(others, key=lambda n: cases[n]["length"])
    return [first, batch]


def multi_seed_case(cases: Mapping[str, Mapping[str, Any]]) -> str:
    """The case with the most seeds (fewest frames among those): a batch of its own."""
    name = max(cases, key=lambda n: (len(cases[n]["seeds"]), -cases[n]["length"]))
    _need(len(cases[name]["seeds"]) > 1, "case with several seeds")
    return name


def shortest_case(cases: Mapping[str, Mapping[str, Any]], exclude=()) -> str:
    return min((n for n in cases if n not in exclude), key=lambda n: (cases[n]["length"], len(cases[n]["seeds"])))


def unguided_case(cases: Mapping[str, Mapping[str, Any]]) -> str:
    """A case sampled without guidance (cfg <= 1: no uncond pass)."""
    return _need([n for n, c in cases.items() if c["cfg_scale"] <= 1], "case with cfg <= 1")[0]


def game_case(cases: Mapping[str, Mapping[str, Any]]) -> str:
    return _need([n for n, c in cases.items() if c.get("use_special_game_feat", False)], "case with the game flag")[0]


def same_prompt_other_cfg(cases: Mapping[str, Mapping[str, Any]]) -> tuple[str, str]:
    """Two single-prompt cases with the same prompt, length and game flag but other cfg: the
    one with the higher cfg first."""
    for a, ca in cases.items():
        for b, cb in cases.items():
            if (single_prompt(ca) is not None and single_prompt(ca) == single_prompt(cb)
                    and ca["length"] == cb["length"] and ca["cfg_scale"] > cb["cfg_scale"]
                    and ca.get("use_special_game_feat", False) == cb.get("use_special_game_feat", False)):
                return a, b
    _need(None, "two cases with one prompt and length but other cfg")


def truncated_prompt(cases: Mapping[str, Mapping[str, Any]], expected) -> str:
    """A prompt over the LLM's token limit: its row fills the whole LLM input (the official
    tokenizer cut it off)."""
    for name, c in cases.items():
        mask = expected[f"{name}/llm_attention_mask"]
        for row, prompt in enumerate(case_prompts(c)):
            if mask[row].all():
                return prompt
    _need(None, "prompt over the LLM token limit")


def latent_pools(cases: Mapping[str, Mapping[str, Any]], latents: Mapping[str, Any], rows: int = 3) -> dict[int, Any]:
    """The two largest lengths L for which `rows` fixture latents of at least L frames exist,
    each -> those rows cut to L frames (rows of exactly L frames first, then longer ones in
    order of length). `latents`: case name -> (B, L, D) tensor."""
    import torch

    by_length = sorted({c["length"] for c in cases.values()}, reverse=True)
    pools: dict[int, Any] = {}
    for length in by_length:
        names = sorted((n for n, c in cases.items() if c["length"] >= length), key=lambda n: cases[n]["length"])
        chosen = torch.cat([latents[n][:, :length] for n in names])[:rows]
        if chosen.shape[0] == rows:
            pools[length] = chosen
        if len(pools) == 2:
            return pools
    _need(None, f"two lengths with {rows} latents each")


# -- a fixture made the same way, with other names -------------------------------------------


def renamed_copy(parity, dest, distinct_prompts: bool = False) -> dict[str, str]:
    """A copy of the fixture at `dest` whose cases are renamed (old -> new name, returned) and
    listed in reverse order, with every case of several seeds giving its `text` as a list (one
    prompt per seed); `expected.npz` is rewritten under the new names, everything else is
    linked. With `distinct_prompts` the prompts of such a list are made different (trailing
    spaces): a batch of different prompts, for tests that take the text features from the
    fixture instead of encoding the prompts (the encoders would see other text)."""
    import json
    from pathlib import Path

    import numpy as np

    parity, dest = Path(parity), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    data = json.loads((parity / "cases.json").read_text())
    old_names = {c["name"] for c in data["cases"]}
    prefix = "take_"
    while any(f"{prefix}{i}" in old_names for i in range(len(old_names))):  # a copy of a copy
        prefix = "re" + prefix
    rename = {c["name"]: f"{prefix}{i}" for i, c in enumerate(reversed(data["cases"]))}
    new_cases = []
    for c in reversed(data["cases"]):
        c = {**c, "name": rename[c["name"]], "arrays": {rename[c["name"]] + k[k.index("/"):]: v for k, v in c.get("arrays", {}).items()}}
        if len(c["seeds"]) > 1:
            c["text"] = [p + " " * row if distinct_prompts else p for row, p in enumerate(case_prompts(c))]
        new_cases.append(c)
    data["cases"] = new_cases
    (dest / "cases.json").write_text(json.dumps(data, indent=1))
    with np.load(parity / "expected.npz", allow_pickle=False) as old:
        arrays = {}
        for key in old.files:
            head, _, tail = key.partition("/")
            arrays[f"{rename[head]}/{tail}" if head in rename else key] = old[key]
    np.savez(dest / "expected.npz", **arrays)
    for entry in parity.iterdir():
        if entry.name not in ("cases.json", "expected.npz") and not (dest / entry.name).exists():
            (dest / entry.name).symlink_to(entry.resolve())
    return rename
