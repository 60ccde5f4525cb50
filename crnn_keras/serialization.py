"""Dataclass configs ↔ JSON dicts, refusing what a config does not hold.

Run folders outlive versions of this project, so reading one checks every key: an unknown
key or a wrongly typed value is refused with "expected …, received …"; keys that earlier
versions wrote are migrated by the caller before this check.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

log = logging.getLogger(__name__)

_SCALARS = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


def _accepts(annotation: str, value) -> bool:
    """Whether `value` (from JSON) fits a field annotated `annotation` (as a string)."""
    options = [a.strip() for a in annotation.split("|")]
    for option in options:
        if option == "None" and value is None:
            return True
        if option.startswith("tuple[") and isinstance(value, (list, tuple)):
            inner = option[len("tuple["):].split(",")[0].strip()
            return all(_accepts(inner, v) for v in value)
        kinds = _SCALARS.get(option)
        if kinds and isinstance(value, kinds) and not (option != "bool" and isinstance(value, bool)):
            return True
    return False


def from_dict(cls, data: Mapping, what: str):
    """`cls(**data)` after checking keys and value types against the dataclass fields.

    Every field must be present: a file that lacks one was not written by this project.

    Raises:
        ValueError: "<what>: unknown key 'x' (expected one of …)", a missing key, or a type mismatch.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{what}: expected a JSON object, received {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{what}: unknown key {unknown[0]!r} (expected one of {', '.join(sorted(fields))})")
    missing = sorted(set(fields) - set(data))
    if missing:
        raise ValueError(f"{what}: missing key {missing[0]!r}")
    values = {}
    for key, value in data.items():
        annotation = str(fields[key].type)  # a string: the config modules postpone annotations
        if not _accepts(annotation, value):
            raise ValueError(f"{what}: {key} expected {annotation}, received {value!r}")
        values[key] = tuple(value) if isinstance(value, list) else value
    return cls(**values)


def migrate(data: Mapping, what: str, dropped: Mapping[str, object]) -> dict:
    """Drops keys that earlier versions wrote, with a note; a value other than the one every
    such run had (in `dropped`) means a run this version cannot continue.
    """
    data = dict(data)
    for key, expected in dropped.items():
        if key in data:
            value = data.pop(key)
            if value != expected:
                raise ValueError(f"{what}: {key} {value!r} was a benchmark option of an earlier version; "
                                 f"expected {expected!r}, received {value!r}")
            log.info("note: %s: dropped %r, written by an earlier version", what, key)
    return data
