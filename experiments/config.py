"""Sweep configs: TOML files, dicts or built-ins, validated and completed with defaults; hub models
resolved to their offline fallbacks where the hub cannot be reached."""

from __future__ import annotations

import tomllib
from pathlib import Path

from xner.errors import XnerError
from xner.hub import hub_reachable

__all__ = ["CONFIG_DIR", "SETTING_KINDS", "builtin_configs", "load_config", "parse_seeds", "resolve_mlm",
           "resolve_models"]

CONFIG_DIR = Path(__file__).with_name("configs")
SETTING_KINDS = ("native", "zero-shot", "joint", "student")


def builtin_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))


def parse_seeds(text: str) -> list[int]:
    """``'0,1,2'`` -> [0, 1, 2] (``--train-seeds``)."""
    try:
        seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise XnerError(f"bad seed list {text!r}: integers separated by commas, e.g. 0,1,2") from None
    if not seeds:
        raise XnerError("give at least one seed")
    return seeds


def _int_list(cfg: dict, key: str) -> list[int]:
    v = cfg[key]
    if not isinstance(v, list) or not v or any(isinstance(x, bool) or not isinstance(x, int) for x in v):
        raise XnerError(f"'{key}' must be a non-empty list of integers; got {v!r}")
    if len(set(v)) != len(v):
        raise XnerError(f"'{key}' lists a seed twice: {v!r}")
    return v


def load_config(spec: str | dict, train_seeds: list[int] | None = None) -> dict:
    """A config dict from a dict, a TOML file or a built-in name (``study``, ``diversity``, ``demo``);
    ``train_seeds`` overrides the config's (``xner sweep --train-seeds``)."""
    from xner.robustness.perturbations import parse_rate
    from xner.splits import SCHEMES

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
    from .sourcesets import expand

    expand(cfg)  # sources = "random:K": S source sets per target, each a setting of its own
    cfg.setdefault("perturbations", ["entity_swap_shared", "context_swap", "entity_and_context", "name_swap",
                                     "place_swap"])
    from .plan import perturbation_entry, perturbation_rates

    cfg.setdefault("rates", ["default"])
    for rate in cfg["rates"]:  # checked now, not after the models are trained; cells keep the values as written
        parse_rate(rate)
    for item in cfg["perturbations"]:
        perturbation_entry(item)
        for rate in perturbation_rates(item, []):  # a perturbation's own rates
            parse_rate(rate)
    cfg.setdefault("seeds", [0])  # perturbation seeds
    if "train_seed" in cfg and "train_seeds" not in cfg:  # the old single-seed key
        cfg["train_seeds"] = [cfg.pop("train_seed")]
    cfg.setdefault("train_seeds", [0])
    if train_seeds is not None:
        cfg["train_seeds"] = list(train_seeds)
    _int_list(cfg, "seeds")
    _int_list(cfg, "train_seeds")
    cfg.setdefault("split_scheme", "standard")
    if cfg["split_scheme"] not in SCHEMES:
        raise XnerError(f"split_scheme must be one of {', '.join(SCHEMES)}; got {cfg['split_scheme']!r}")
    cfg.setdefault("split_seed", 42)
    for k in ("train_max_sentences", "test_max_sentences"):
        v = cfg.setdefault(k, 0) or 0
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise XnerError(f"'{k}' must be a number of sentences (0: no cap); got {v!r}")
        cfg[k] = v
    cfg.setdefault("train", {})
    cfg.setdefault("distill", {})
    cfg.setdefault("export", {})
    cfg.setdefault("bootstrap", 2000)
    cfg.setdefault("incremental", True)  # infer only sentences a perturbation changed (robustness/incremental.py)
    cfg.setdefault("vectors", "base")  # P2's fixed encoder: each model's pre-trained base, "model", or a model
    if not isinstance(cfg["vectors"], str) or not cfg["vectors"]:
        raise XnerError(f"'vectors' is base, model, or a model folder or hub id; got {cfg['vectors']!r}")
    cpus = cfg.setdefault("cpus_per_task", 1)  # the Ray resources of a training or distillation task
    if isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1:
        raise XnerError(f"'cpus_per_task' must be a whole number >= 1; got {cpus!r}")
    gpus = cfg.setdefault("gpus_per_task", 0)
    if isinstance(gpus, bool) or not isinstance(gpus, int | float) or gpus < 0:
        raise XnerError(f"'gpus_per_task' must be a number >= 0 (a fraction shares a GPU); got {gpus!r}")
    rr = cfg.get("ray_resources") or {}
    if not isinstance(rr, dict) or not all(isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
                                           and v > 0 for k, v in rr.items()):
        raise XnerError(f"'ray_resources' is a table of custom Ray resources per task, e.g. {{ xner = 1 }}; got {rr!r}")
    if not isinstance(cfg.get("mlm") or "", str):  # the masked LM that fills context_mask (none: the mask token)
        raise XnerError(f"'mlm' is a masked LM (a folder or hub id); got {cfg['mlm']!r}")
    from .contrasts import check_declarations
    from .plan import condition_label

    labels = [condition_label(s) for s in cfg["settings"]]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise XnerError(f"two settings share the label {twice[0]!r}: give each a distinct label")
    check_declarations(cfg, set(labels))
    if not isinstance(cfg.get("artifacts", ""), str):
        raise XnerError(f"'artifacts' is a folder (shared by every Ray node); got {cfg['artifacts']!r}")
    return cfg


def resolve_models(cfg: dict) -> dict[str, dict]:
    """Model specs, with ``fallback`` models used where the hub cannot be reached (the spec then
    carries ``substitutes``: the hub id it stands in for).  A fallback is an inline spec
    (``fallback = { init = {...} }``) or the name of another model of the config."""
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
                fb_spec = fb if isinstance(fb, dict) else models.get(fb)
                if not isinstance(fb_spec, dict) or not ("init" in fb_spec or "path" in fb_spec
                                                         or "pretrain" in fb_spec):
                    raise XnerError(f"model {name}: fallback {fb!r} must be an offline model (an init, pretrain "
                                    "or path spec, or the name of such a model of the config)")
                spec = {**fb_spec, "substitutes": spec["hub"]}
        if "pretrain" in spec:
            from .pretrained import check_spec

            check_spec(name, spec)
        out[name] = spec
    from .pretrained import lapt_specs

    out.update(lapt_specs(cfg, out))
    return out


def resolve_mlm(cfg: dict) -> str | None:
    """The masked LM that fills ``context_mask`` (config ``mlm``): a local folder, or a hub id when the
    hub answers; None (``context_mask`` then fills the evaluated model's mask token) when none is
    given or the hub cannot be reached."""
    m = cfg.get("mlm") or None
    if m is None or Path(m).exists() or hub_reachable():
        return m
    import logging

    logging.getLogger("xner.sweep").warning("mlm %s: the hub is not reachable; context_mask fills the mask token", m)
    return None
