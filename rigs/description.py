"""RigDescription: which bone of a rig plays each canonical humanoid bone, and the presets.

Presets are data (`presets/<name>.json`); a studio rig is a mapping file in the same format
(see rigs/README.md). A description may be *bound* to a Skeleton: its names are then the
skeleton's exact names (namespace and prefix resolved) and every named bone exists.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .canonical import CANONICAL_BONES, REQUIRED, canonical_ancestor, check_canonical
from .skeleton import RigError, Skeleton

PRESET_DIR = Path(__file__).resolve().parent / "presets"
MAX_MAPPING_BYTES = 1 << 20  # a mapping names ~60 bones: a few kB
MAPPING_KEYS = {"name", "title", "notes", "extends", "skeleton", "prefixes", "up_axis", "units", "bones", "parents", "extra"}


@dataclass(frozen=True, eq=False)
class RigDescription:
    name: str
    bones: Mapping[str, str]  # canonical bone -> rig bone name
    skeleton: Skeleton | None = None
    title: str = ""
    prefixes: tuple[str, ...] = ("",)  # name prefixes the family is known with ("mixamorig:")
    parents: Mapping[str, str] = field(default_factory=dict)  # rig bone -> parent, where not the canonical one
    extra: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # other bones of the family
    explicit: frozenset[str] = frozenset()  # canonical bones a user file names: they must exist
    prefix: str = ""  # the prefix found when bound
    up_axis: str = "y"
    units: str = "m"

    def __post_init__(self) -> None:
        check_canonical(self.bones)
        object.__setattr__(self, "bones", dict(self.bones))
        object.__setattr__(self, "prefixes", tuple(self.prefixes) or ("",))
        dup = _duplicates(self.bones)
        if dup:
            raise RigError(f"rig {self.name!r} maps one bone to several canonical bones: {dup}")

    @property
    def mapped(self) -> tuple[str, ...]:
        return tuple(c for c in CANONICAL_BONES if c in self.bones)

    @property
    def unmapped_required(self) -> tuple[str, ...]:
        return tuple(c for c in REQUIRED if c not in self.bones)

    def indices(self) -> dict[str, int]:
        """Canonical bone -> joint index in the bound skeleton."""
        if self.skeleton is None:
            raise RigError(f"rig description {self.name!r} is not bound to a skeleton; call .bind(skeleton)")
        return {c: self.skeleton.index(b) for c, b in self.bones.items()}

    def hierarchy(self) -> dict[str, str | None]:
        """Every known bone of the family -> its parent (unprefixed names)."""
        out: dict[str, str | None] = {}
        for c in self.mapped:
            anc = canonical_ancestor(c, self.bones)
            out[self.bones[c]] = self.parents.get(self.bones[c], self.bones[anc] if anc else None)
        for name, spec in self.extra.items():
            out[name] = spec.get("parent")
        return out

    def bind(self, skeleton: Skeleton) -> RigDescription:
        """Resolve names against `skeleton`; bones a user file named must exist, others may be absent."""
        exact = {n: n for n in skeleton.names}
        lower = {n.lower(): n for n in skeleton.names}

        def find(name: str) -> str | None:
            return exact.get(name) or lower.get(name.lower())

        best: tuple[int, str, dict[str, str]] | None = None
        for prefix in self._candidate_prefixes(skeleton.names):
            # names a user wrote are taken as written first; inherited preset names get the prefix
            found = {
                c: n for c, b in self.bones.items()
                if (n := (c in self.explicit and find(b)) or find(prefix + b)) is not None
            }
            if best is None or len(found) > best[0]:
                best = (len(found), prefix, found)
        assert best is not None
        _, prefix, found = best
        missing = sorted(c for c in self.explicit if c not in found)
        if missing:
            names = ", ".join(f"{c}={self.bones[c]!r}" for c in missing[:8])
            raise RigError(
                f"mapping {self.name!r} names bones the skeleton does not have: {names}; "
                f"fix the names in the mapping file (the skeleton has e.g. {', '.join(skeleton.names[:6])})"
            )
        return dataclasses.replace(self, bones=found, skeleton=skeleton, prefix=prefix)

    def _candidate_prefixes(self, names: tuple[str, ...]) -> list[str]:
        out = list(self.prefixes)
        anchors = [self.bones[c] for c in ("hips", "head") if c in self.bones]
        for n in names:
            for a in anchors:
                if len(n) > len(a) and n.lower().endswith(a.lower()):
                    out.append(n[: len(n) - len(a)])
        return list(dict.fromkeys(out))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "prefixes": list(self.prefixes), "up_axis": self.up_axis,
            "units": self.units, "bones": dict(self.bones), "parents": dict(self.parents), "extra": dict(self.extra),
        }


def _duplicates(bones: Mapping[str, str]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for c, b in bones.items():
        seen.setdefault(b, []).append(c)
    return {b: cs for b, cs in seen.items() if len(cs) > 1}


def preset_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in PRESET_DIR.glob("*.json")))


@functools.cache
def preset(name: str) -> RigDescription:
    path = PRESET_DIR / f"{name.lower()}.json"
    if name.lower() not in preset_names():  # also keeps names like "../x" out of the filesystem
        raise RigError(f"unknown rig preset {name!r}; presets are {', '.join(preset_names())}, or pass a mapping file path")
    # Preset bone names carry no prefix; `prefixes` lists those the family is seen with.
    return description_from_dict(json.loads(path.read_text()), explicit=False)


def description_from_dict(data: Mapping[str, Any], explicit: bool = True, base: RigDescription | None = None) -> RigDescription:
    unknown = sorted(set(data) - MAPPING_KEYS)
    if unknown:
        raise RigError(f"unknown keys in rig mapping: {unknown[:8]}; allowed keys are {sorted(MAPPING_KEYS)}")
    bones = data.get("bones")
    if not isinstance(bones, Mapping) or not all(isinstance(v, str) and v for v in bones.values()):
        raise RigError('a rig mapping needs "bones": {canonical name: rig bone name, ...} with non-empty string names')
    check_canonical(bones)
    prefixes = data.get("prefixes", [])
    if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
        raise RigError('"prefixes" must be a list of strings, e.g. ["mixamorig:", ""]')
    parents, extra = data.get("parents", {}), data.get("extra", {})
    if not isinstance(parents, Mapping) or not all(isinstance(v, str) for v in parents.values()):
        raise RigError('"parents" must be a table {rig bone: parent bone name, ...}')
    if not isinstance(extra, Mapping) or not all(isinstance(v, Mapping) for v in extra.values()):
        raise RigError('"extra" must be a table {rig bone: {"parent": ..., ...}, ...}')
    unfilled = [c for c, b in bones.items() if b.strip() == "?"]
    if unfilled:
        raise RigError(f"fill in the rig bone names marked \"?\" (or delete those lines): {', '.join(unfilled)}")
    merged = {**(base.bones if base else {}), **bones}
    return RigDescription(
        name=str(data.get("name") or (base.name if base else "custom")),
        bones=merged,
        title=str(data.get("title", base.title if base else "")),
        prefixes=tuple(data.get("prefixes", base.prefixes if base else ("",))),
        parents={**(base.parents if base else {}), **parents},
        extra={**(base.extra if base else {}), **extra},
        explicit=frozenset(bones) if explicit else frozenset(),
        up_axis=str(data.get("up_axis", base.up_axis if base else "y")),
        units=str(data.get("units", base.units if base else "m")),
    )


def read_mapping_file(path: str | Path) -> RigDescription:
    """A studio mapping file (JSON, or TOML on Python 3.11+); see rigs/README.md for the format."""
    from .io import read_skeleton
    from .io_common import parse_json

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_MAPPING_BYTES + 1)
    except OSError as exc:
        raise RigError(f"cannot read rig mapping {path}: {exc.strerror}") from None
    if len(raw) > MAX_MAPPING_BYTES:
        raise RigError(f"{path} is larger than {MAX_MAPPING_BYTES >> 20} MiB; a rig mapping is a few kB, is this the right file?")
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:
            raise RigError("TOML mapping files need Python 3.11+; write the mapping as JSON instead") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise RigError(f"{path} is not valid TOML: {str(exc)[:120]}") from None
        except RecursionError:
            raise RigError(f"{path}: TOML nested too deeply; the file is damaged or hostile") from None
    else:
        data = parse_json(raw, str(path))
    if not isinstance(data, Mapping):
        raise RigError(f"{path} must hold an object with a \"bones\" table")
    base = preset(str(data["extends"])) if data.get("extends") else None
    desc = description_from_dict(data, explicit=True, base=base)
    if data.get("skeleton"):
        desc = desc.bind(read_skeleton(mapping_skeleton_path(path, data["skeleton"])))
    return desc


def mapping_skeleton_path(mapping: Path, value: Any) -> Path:
    """The character file a mapping names: a relative path inside the mapping's folder. An
    absolute path or one that climbs out (`..`, or a symlink leading out) is refused, so a
    mapping handed over with a take cannot make us read arbitrary files."""
    if not isinstance(value, str):
        raise RigError(f"{mapping}: \"skeleton\" must be a file name relative to the mapping file")
    folder = mapping.parent.resolve()
    target = (folder / value).resolve()
    if Path(value).is_absolute() or not target.is_relative_to(folder):
        raise RigError(
            f"{mapping}: \"skeleton\" must name a file inside the mapping's folder {folder}, got {value[:200]!r}"
        )
    return target
