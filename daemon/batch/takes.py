"""The takes file: YAML, CSV or JSONL, one row per take (or per set of seed variations).

Every row is checked before any GPU work; all bad rows are reported together, each with its
line number. Rows expand into takes, one per seed, numbered in file order; that number is
what `--takes 0-99` selects, so it must not depend on anything but the file.

The file is read twice (once to validate, once to run), and the run pass is a generator,
so a 2,000-row file never turns into 2,000 live objects at once.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motionbridge.daemon.protocol import limits

from . import directing as directing_columns

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
FIELDS = {"name", "prompt", "duration", "seeds", "seed", "variations", "cfg", "rig", "format", "game_feat", "assist",
          *directing_columns.COLUMNS}
# the `assist` column: what the prompt assistant (daemon/prompt_assist.py) does for the row
ASSIST_VALUES = {"": (), "none": (), "rewrite": ("rewrite",), "duration": ("duration",),
                 "both": ("rewrite", "duration"), "rewrite+duration": ("rewrite", "duration")}
ALIASES = {"duration_s": "duration", "formats": "format", "text": "prompt"}
DEFAULT_DURATION_S = 5.0
DEFAULT_CFG = 5.0
MAX_REPORTED_ERRORS = 50


class TakesFileError(ValueError):
    """The takes file has bad rows; `errors` lists (line, message) for every one of them."""

    def __init__(self, path: Path, errors: list[tuple[int, str]]):
        self.path = path
        self.errors = errors
        shown = [f"  {path.name}:{line}: {msg}" for line, msg in errors[:MAX_REPORTED_ERRORS]]
        more = len(errors) - MAX_REPORTED_ERRORS
        if more > 0:
            shown.append(f"  ... and {more} more")
        super().__init__(f"{len(errors)} bad row(s) in {path}; nothing was run:\n" + "\n".join(shown))


@dataclass(frozen=True)
class Take:
    """One output take: one row's prompt with one seed."""

    index: int  # position in the expanded file, what --takes selects
    line: int  # line of its row in the takes file
    name: str  # "<row name>_s<seed>", the stem of every output file
    row_name: str
    prompt: str
    duration_s: float
    seed: int
    cfg: float
    rig: str | None  # per-row override; None means the command's --rig
    formats: tuple[str, ...] | None  # per-row override; None means --format
    game_feat: bool = False
    assist: tuple[str, ...] = ()  # "rewrite" and/or "duration", already applied to prompt/duration_s
    directing: str = ""  # the directing columns as canonical JSON (directing.py); "" for a plain take


@dataclass(frozen=True)
class Row:
    line: int
    name: str
    prompt: str
    duration_s: float
    seeds: tuple[int, ...]
    cfg: float
    rig: str | None
    formats: tuple[str, ...] | None
    game_feat: bool
    assist: tuple[str, ...] = ()
    directing: str = ""

    def takes(self, first_index: int) -> Iterator[Take]:
        for i, seed in enumerate(self.seeds):
            yield Take(
                first_index + i, self.line, f"{self.name}_s{seed}", self.name, self.prompt,
                self.duration_s, seed, self.cfg, self.rig, self.formats, self.game_feat, self.assist, self.directing,
            )


# ---------------------------------------------------------------------------------------
# reading raw rows: (line, dict) per row, streamed where the format allows


def _raw_rows(path: Path) -> Iterator[tuple[int, Any]]:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        yield from _yaml_rows(path)
    elif suffix == ".csv":
        yield from _csv_rows(path)
    elif suffix in (".jsonl", ".ndjson"):
        yield from _jsonl_rows(path)
    else:
        raise ValueError(f"takes file {path} has an unknown extension; use .yaml, .csv or .jsonl")


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with open(path, encoding="utf-8") as fh:
        for line_no, text in enumerate(fh, 1):
            text = text.strip()
            if not text or text.startswith("#"):
                continue
            try:
                yield line_no, json.loads(text)
            except json.JSONDecodeError as exc:
                yield line_no, ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})")


def _csv_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, skipinitialspace=True)
        for row in reader:
            if None in row:
                yield reader.line_num, ValueError(f"{len(row[None])} more value(s) than header columns; quote values that contain commas")
                continue
            values = {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k is not None}
            if not any(values.values()):
                continue
            yield reader.line_num, {k: v for k, v in values.items() if v not in ("", None)}


def _yaml_rows(path: Path) -> Iterator[tuple[int, Any]]:
    import yaml

    class LineLoader(yaml.SafeLoader):
        pass

    def mapping_with_line(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
        mapping = loader.construct_mapping(node, deep=True)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping_with_line)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.load(fh, Loader=LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        yield (mark.line + 1 if mark else 1), ValueError(f"not valid YAML: {getattr(exc, 'problem', exc)}")
        return
    defaults: dict[str, Any] = {}
    if isinstance(doc, dict):
        defaults = doc.get("defaults") or {}
        extra = set(doc) - {"takes", "defaults", "__line__"}
        if extra or not isinstance(defaults, dict):
            yield doc["__line__"], ValueError(f"top level may only hold 'takes' and 'defaults', found {sorted(extra)}")
            return
        defaults = {k: v for k, v in defaults.items() if k != "__line__"}
        doc = doc.get("takes")
    if not isinstance(doc, list):
        yield 1, ValueError("a YAML takes file is a list of takes, or a mapping with a 'takes' list")
        return
    for item in doc:
        if not isinstance(item, dict):
            yield 0, ValueError(f"each take must be a mapping, got {item!r}")
            continue
        line = item.pop("__line__")
        yield line, {**defaults, **item}


# ---------------------------------------------------------------------------------------
# checking one row


def _seed_list(value: Any) -> Any:
    if isinstance(value, str):  # CSV: "0 1 2" or "0;1;2"
        parts = [p for p in re.split(r"[\s;,]+", value) if p]
        try:
            return [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"seeds must be integers separated by spaces or ';', got {value!r}") from None
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    return value


def _float(value: Any, what: str) -> float:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{what} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    return float(value)


def _formats(value: Any) -> tuple[str, ...]:
    items = value.replace(";", ",").split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError(f"format must be e.g. 'fbx,glb' or a list, got {value!r}")
    return tuple(normalise_format(str(f)) for f in items if str(f).strip())


def normalise_format(fmt: str) -> str:
    fmt = fmt.strip().lower().lstrip(".")
    if not re.fullmatch(r"[a-z0-9]{1,8}(\.[a-z0-9]{1,8})?", fmt):
        raise ValueError(f"format {fmt!r} is not a file extension like 'fbx' or 'glb'")
    return fmt


def check_row(line: int, raw: Any, base: Path = Path(".")) -> Row:
    """One row, checked; `base` is the takes file's folder (its directing columns' files are there)."""
    if isinstance(raw, Exception):
        raise raw
    if not isinstance(raw, dict):
        raise ValueError(f"a take must be an object with name and prompt, got {type(raw).__name__}")
    raw = {ALIASES.get(str(k).strip().lower(), str(k).strip().lower()): v for k, v in raw.items()}
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; fields are {sorted(FIELDS)}")
    name = str(raw.get("name", "")).strip()
    if not NAME_RE.match(name):
        raise ValueError(f"name {name!r} must be 1-100 letters, digits, '.', '_' or '-' (it names the output files)")
    prompt = limits.check_prompt(raw.get("prompt", "")).value
    duration = limits.check_duration(_float(raw.get("duration", DEFAULT_DURATION_S), "duration")).value
    cfg = limits.check_cfg(_float(raw.get("cfg", DEFAULT_CFG), "cfg")).value
    if "variations" in raw:
        if "seeds" in raw:
            raise ValueError("give either 'seeds' or 'variations' (with an optional first 'seed'), not both")
        count = _int(raw["variations"], "variations")
        if count < 1:
            raise ValueError(f"variations must be at least 1, got {count}")
        first = _int(raw.get("seed", 0), "seed")
        seeds = limits.check_seeds(list(range(first, first + count))).value
    elif "seeds" in raw:
        if "seed" in raw:
            raise ValueError("give either 'seeds' or 'seed', not both")
        seeds = limits.check_seeds(_seed_list(raw["seeds"])).value
    else:
        seeds = limits.check_seeds(_int(raw.get("seed", 0), "seed")).value
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds repeat in {list(seeds)}; each seed makes one take")
    rig = raw.get("rig")
    rig = str(rig).strip() if rig not in (None, "") else None
    formats = _formats(raw["format"]) if raw.get("format") not in (None, "") else None
    game_feat = raw.get("game_feat", False)
    if isinstance(game_feat, str):
        if game_feat.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"game_feat must be true or false, got {game_feat!r}")
        game_feat = game_feat.lower() in ("true", "1", "yes")
    assist = ASSIST_VALUES.get(str(raw.get("assist") or "").strip().lower())
    if assist is None:
        raise ValueError(f"assist must be one of {sorted(v for v in ASSIST_VALUES if v)}, got {raw['assist']!r}")
    if assist and any(raw.get(k) for k in directing_columns.COLUMNS):
        raise ValueError("assist cannot be combined with the directing columns (the assistant may change the prompt or duration they were checked for)")
    directing = directing_columns.read_columns(raw, base, prompt, duration)
    return Row(line, name, prompt, duration, tuple(seeds), cfg, rig, formats, bool(game_feat), assist, directing)


def _resolve_rig(row: Row, base: Path) -> Row:
    """A relative rig path in a row is relative to the takes file (farm tasks run elsewhere)."""
    if row.rig is None or Path(row.rig).is_absolute() or "/" not in row.rig and "." not in row.rig:
        return row  # absolute, or a preset name
    candidate = base / row.rig
    return dataclasses.replace(row, rig=str(candidate)) if candidate.exists() else row


# ---------------------------------------------------------------------------------------
# the two passes


@dataclass(frozen=True)
class TakesSummary:
    num_rows: int
    num_takes: int
    rigs: frozenset[str]  # per-row rig overrides, to check once each before running
    formats: frozenset[str]  # per-row format overrides


def validate(path: str | Path) -> TakesSummary:
    """Checks every row; raises TakesFileError listing all bad rows with their lines."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"takes file not found: {path}")
    errors: list[tuple[int, str]] = []
    names: dict[str, int] = {}  # row name -> line; small (names only, never clips)
    rigs: set[str] = set()
    formats: set[str] = set()
    rows = takes = 0
    try:
        for line, raw in _raw_rows(path):
            try:
                row = _resolve_rig(check_row(line, raw, path.parent), path.parent)
            except ValueError as exc:
                errors.append((line, str(exc)))
                continue
            if row.name in names:
                errors.append((line, f"name {row.name!r} is already used on line {names[row.name]}; names must be unique"))
                continue
            names[row.name] = line
            rows += 1
            takes += len(row.seeds)
            if row.rig:
                rigs.add(row.rig)
            formats.update(row.formats or ())
    except UnicodeDecodeError:
        raise ValueError(f"takes file {path} is not UTF-8 text") from None
    if errors:
        raise TakesFileError(path, errors)
    if rows == 0:
        raise ValueError(f"takes file {path} has no takes; add rows with at least 'name' and 'prompt'")
    return TakesSummary(rows, takes, frozenset(rigs), frozenset(formats))


def _assisted(row: Row) -> Row:
    """The row with the prompt assistant's rewrite / duration applied, when its `assist` column
    asks and $MOTIONBRIDGE_PROMPTER_URL names an endpoint; answers are cached on disk, so every
    pass over the file (plan, run, resume, each farm task) sees the same prompt. Never fails:
    without an endpoint or an answer the row runs as typed, with a warning."""
    if not row.assist:
        return row
    from motionbridge.daemon.prompt_assist import URL_ENV, PrompterConfig, assist

    config = PrompterConfig.from_env()
    if config is None:
        log.warning("row %d asks for the prompt assistant but %s is not set; using the prompt as typed", row.line, URL_ENV)
        return row
    got = assist(row.prompt, row.duration_s, config, "rewrite" in row.assist, "duration" in row.assist)
    for w in got.warnings:
        log.warning("row %d: %s", row.line, w)
    return dataclasses.replace(row, prompt=got.prompt, duration_s=got.duration_s)


def iter_takes(path: str | Path) -> Iterator[Take]:
    """Every take of an already validated file, in index order, read lazily."""
    index = 0
    path = Path(path)
    for line, raw in _raw_rows(path):
        row = _assisted(_resolve_rig(check_row(line, raw, path.parent), path.parent))
        yield from row.takes(index)
        index += len(row.seeds)


def parse_range(text: str | None, num_takes: int) -> range:
    """'0-99' (inclusive), '7' or None (everything) -> a range of take indices."""
    if text is None or text.strip() in ("", "all"):
        return range(num_takes)
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if not m:
        raise ValueError(f"--takes {text!r} is not a range; pass e.g. '0-99' or '7'")
    start = int(m.group(1))
    stop = int(m.group(2)) if m.group(2) is not None else start
    if stop < start:
        raise ValueError(f"--takes {text!r} ends before it starts; pass START-END with START <= END")
    if start >= num_takes:
        raise ValueError(f"--takes {text!r} starts past the last take (the file has {num_takes} takes, 0-{num_takes - 1})")
    return range(start, min(stop, num_takes - 1) + 1)
