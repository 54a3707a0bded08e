"""The fixture helpers choose cases by what they are, so a fixture made the same way with other
case names, another case order and prompts given as lists reads the same: checked on a renamed,
reordered copy of the parity fixture."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from fixture_cases import (
    case_prompts,
    case_requests,
    case_row,
    game_case,
    latent_pools,
    mixed_cases,
    multi_seed_case,
    renamed_copy,
    requests,
    same_prompt_other_cfg,
    shortest_case,
    take_order,
    truncated_prompt,
    two_lengths,
    unguided_case,
)


def load(d):
    cases = {c["name"]: c for c in json.loads((d / "cases.json").read_text())["cases"]}
    with np.load(d / "expected.npz", allow_pickle=False) as data:
        return cases, {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def original(parity):
    return load(parity)


@pytest.fixture(scope="module")
def copy(parity, tmp_path_factory):
    d = tmp_path_factory.mktemp("renamed")
    rename = renamed_copy(parity, d, distinct_prompts=True)
    return rename, *load(d)


def test_the_copy_is_renamed_reordered_and_lists_its_prompts(original, copy):
    (cases, _), (rename, new, expected) = original, copy
    assert not set(new) & set(cases) and list(new) == [rename[n] for n in reversed(list(cases))]
    lists = [c for c in new.values() if isinstance(c["text"], list)]
    assert lists and all(len(set(c["text"])) == len(c["seeds"]) for c in lists)
    assert all(f"{n}/latent" in expected for n in new)


def test_selectors_pick_the_same_cases_under_other_names(original, copy):
    (cases, expected), (rename, new, new_expected) = original, copy
    assert sorted(rename[n] for n in mixed_cases(cases)) == sorted(mixed_cases(new))
    for pick in (two_lengths, multi_seed_case, shortest_case, unguided_case, game_case, same_prompt_other_cfg):
        before, after = pick(cases), pick(new)
        want = rename[before] if isinstance(before, str) else [rename[n] for n in before]
        assert (after if isinstance(after, str) else list(after)) == want, pick.__name__
    assert truncated_prompt(new, new_expected) == truncated_prompt(cases, expected)


def test_selectors_pick_what_they_say(original):
    cases, expected = original
    top = max(c["length"] for c in cases.values())
    mixed = mixed_cases(cases)
    assert all(cases[n]["length"] < top for n in mixed) or len({c["length"] for c in cases.values()}) == 1
    assert len(mixed) == len([c for c in cases.values() if c["length"] < top] or cases)
    first, batch = two_lengths(cases)
    for n in (first, batch):
        assert cases[n]["cfg_scale"] > 1 and not cases[n]["use_special_game_feat"]
    assert len(cases[batch]["seeds"]) == max(len(c["seeds"]) for c in cases.values()
                                             if c["cfg_scale"] > 1 and not c["use_special_game_feat"] and c["length"] < top)
    assert cases[first]["length"] != cases[batch]["length"]
    assert len(cases[multi_seed_case(cases)]["seeds"]) > 1
    assert cases[shortest_case(cases)]["length"] == min(c["length"] for c in cases.values())
    assert cases[unguided_case(cases)]["cfg_scale"] <= 1 and cases[game_case(cases)]["use_special_game_feat"]
    a, b = same_prompt_other_cfg(cases)
    assert case_prompts(cases[a])[0] == case_prompts(cases[b])[0] and cases[a]["cfg_scale"] > cases[b]["cfg_scale"]
    long_prompt = truncated_prompt(cases, expected)
    name, row = next((n, case_prompts(c).index(long_prompt)) for n, c in cases.items() if long_prompt in case_prompts(c))
    assert expected[f"{name}/ctxt_length"][row] == expected[f"{name}/ctxt_raw"].shape[1]  # text features fill the whole width


def test_requests_give_one_per_prompt_and_map_takes_back_to_their_rows(original, copy):
    (cases, expected), (rename, new, new_expected) = original, copy
    back = {v: k for k, v in rename.items()}
    names = list(new)
    order = take_order(new, names)
    assert len(order) == sum(len(c["seeds"]) for c in new.values())
    by_id = {r.request_id: r for r in requests(new, names)}
    split = [n for n, c in new.items() if len(set(case_prompts(c))) > 1]
    assert split and all(len(case_requests(new[n])) == len(new[n]["seeds"]) for n in split)
    for request_id, seed in order:
        name, row = case_row(new, request_id, seed)
        assert by_id[request_id].prompt == case_prompts(new[name])[row] and new[name]["seeds"][row] == seed
        # the row's arrays are the original case's row of that seed
        old = cases[back[name]]
        np.testing.assert_array_equal(new_expected[f"{name}/latent"][row], expected[f"{back[name]}/latent"][old["seeds"].index(seed)])
    for cs in (new, cases):  # list prompts (the copy) and one prompt for several seeds (the original)
        rows = [case_row(cs, rid, s) for rid, s in take_order(cs, list(cs))]
        assert sorted(rows) == sorted((n, r) for n, c in cs.items() for r in range(len(c["seeds"])))  # every row once


def test_latent_pools_are_the_same_latents_under_other_names(original, copy):
    (cases, expected), (_, new, new_expected) = original, copy
    pools = latent_pools(cases, {n: torch.from_numpy(expected[f"{n}/latent"]) for n in cases})
    again = latent_pools(new, {n: torch.from_numpy(new_expected[f"{n}/latent"]) for n in new})
    assert len(pools) == 2 and all(p.shape[0] == 3 and p.shape[1] == length for length, p in pools.items())
    native = {length: [r for c in cases.values() if c["length"] == length for r in range(len(c["seeds"]))] for length in pools}
    for length, pool in pools.items():
        # rows of exactly that length come first
        k = min(3, len(native[length]))
        assert torch.equal(pool[:k], torch.cat([torch.from_numpy(expected[f"{n}/latent"]) for n, c in cases.items() if c["length"] == length])[:k])
    # another case order may pick other rows of the same length, never other shapes
    assert {length: p.shape for length, p in again.items()} == {length: p.shape for length, p in pools.items()}
