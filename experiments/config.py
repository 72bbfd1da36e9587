"""Sweep configs: TOML files, dicts or built-ins, validated and completed with defaults; hub models
resolved to their offline fallbacks where the hub cannot be reached."""

from __future__ import annotations

import tomllib
from pathlib import Path

from xner.errors import XnerError
from xner.hub import hub_reachable

__all__ = ["CONFIG_DIR", "SETTING_KINDS", "builtin_configs", "load_config", "resolve_models"]

CONFIG_DIR = Path(__file__).with_name("configs")
SETTING_KINDS = ("native", "zero-shot", "joint", "student")


def builtin_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))


def load_config(spec: str | dict) -> dict:
    """A config dict from a dict, a TOML file or a built-in name (``study``, ``diversity``, ``demo``)."""
    from xner.robustness.perturbations import parse_rate

    if isinstance(spec, dict):
        cfg = dict(spec)
    else:
        p = Path(spec)
        if not p.exists() and (CONFIG_DIR / f"{spec}.toml").exists():
            p = CONFIG_DIR / f"{spec}.toml"
        if not p.exists():
            raise XnerError(f"no sweep config {spec!r} (a TOML file, or one of {', '.join(builtin_configs())})")
        try:
            cfg = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise XnerError(f"{p}: invalid TOML: {e}") from None
        cfg.setdefault("name", p.stem)
    for k in ("models", "targets", "settings"):
        if not cfg.get(k):
            raise XnerError(f"sweep config needs '{k}'")
    for s in cfg["settings"]:
        if s.get("kind") not in SETTING_KINDS:
            raise XnerError(f"setting kind must be one of {', '.join(SETTING_KINDS)}; got {s.get('kind')!r}")
    cfg.setdefault("perturbations", ["entity_swap_shared", "context_swap", "entity_and_context", "name_swap",
                                     "place_swap"])
    cfg.setdefault("rates", ["default"])
    for rate in cfg["rates"]:  # checked now, not after the models are trained; cells keep the values as written
        parse_rate(rate)
    cfg.setdefault("seeds", [0])
    cfg.setdefault("train", {})
    cfg.setdefault("distill", {})
    cfg.setdefault("export", {})
    cfg.setdefault("bootstrap", 200)
    return cfg


def resolve_models(cfg: dict) -> dict[str, dict]:
    """Model specs, with ``fallback`` models used where the hub cannot be reached."""
    models = cfg["models"]
    hub = None
    out = {}
    for name, spec in models.items():
        if "hub" in spec:
            hub = hub_reachable() if hub is None else hub
            if not hub:
                fb = spec.get("fallback")
                if not fb:
                    raise XnerError(f"model {name} needs the Hugging Face hub, which is not reachable; give it a "
                                    "'fallback' model")
                out[name] = {**models[fb], "substitutes": spec["hub"]}
                continue
        out[name] = spec
    return out
