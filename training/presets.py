"""Hyperparameter presets, read from presets.toml (data, not code paths)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from xner.errors import XnerError

_FILE = Path(__file__).with_name("presets.toml")


def presets() -> dict[str, dict]:
    return tomllib.loads(_FILE.read_text())


def resolve(name: str, **overrides) -> dict:
    """A preset with the given non-None overrides applied."""
    table = presets()
    if name not in table:
        raise XnerError(f"unknown preset {name!r}; choose one of {', '.join(table)}")
    hp = dict(table[name])
    hp.update({k: v for k, v in overrides.items() if v is not None})
    hp["preset"] = name
    return hp
