"""Planning a sweep: a config expanded into groups (cells that share one model: one model, setting,
target and training seed) and their cells."""

from __future__ import annotations

from dataclasses import dataclass

from xner.errors import XnerError

__all__ = ["Group", "languages", "material_langs", "perturbation_entry", "plan", "resolve_sources", "setting_label"]


def resolve_sources(spec: str, target: str) -> list[str]:
    """Source languages for a target: ``pair`` (the study's), ``related:k``, ``unrelated:k`` or ``a,b``."""
    from xner.langs import PAIRS, source_group

    if spec == "pair":
        hrl = [p.hrl for p in PAIRS if p.lrl == target]
        if not hrl:
            raise XnerError(f"no study pair for target {target!r}")
        return hrl[:1]
    kind, _, k = spec.partition(":")
    if kind in ("related", "unrelated"):
        return source_group(target, kind, int(k or 1))
    return [x for x in spec.split(",") if x]


def languages(cfg: dict) -> list[str]:
    """Every language a sweep touches: its targets, then the sources of its non-native settings."""
    langs = dict.fromkeys(cfg["targets"])
    for s in cfg["settings"]:
        for t in cfg["targets"]:
            if s["kind"] != "native":
                langs.update(dict.fromkeys(resolve_sources(s.get("sources", "pair"), t)))
    return list(langs)


def perturbation_entry(item) -> tuple[str, dict]:
    """A config's perturbation: ``"name"`` (or ``"a+b"``), ``{name = "...", param = value}`` or
    ``["name", {param = value}]`` (as ``recipe_specs`` lists them) -> (spec, parameters)."""
    if isinstance(item, str):
        return item, {}
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return item["name"], {k: v for k, v in item.items() if k != "name"}
    if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], dict):
        return item[0], dict(item[1])
    raise XnerError(f"a perturbation is a name, {{name = ..., parameter = ...}} or [name, {{parameters}}]; got {item!r}")


def setting_label(kind: str, spec: str = "", weighting: str = "") -> str:
    """How a setting is named in reports: ``native``, ``zero-shot pair``, ``student related:2 (langid)``."""
    out = kind if kind == "native" else f"{kind} {spec}"
    return out + (f" ({weighting})" if weighting else "")


@dataclass(frozen=True)
class Group:
    """Cells that share one model: (model, setting, target, training seed)."""

    model: str
    setting: str  # kind
    sources: tuple[str, ...]  # for joint: the sources, then the target
    target: str
    weighting: str = ""
    train_seed: int = 0
    spec: str = ""  # the config's sources spec (pair, related:2, en,ru; native: "")

    @property
    def label(self) -> str:
        src = "+".join(self.sources)
        w = f"/{self.weighting}" if self.weighting else ""
        return f"{self.model}:{self.setting}{w}:{src}->{self.target}#seed{self.train_seed}"


def material_langs(g: Group) -> tuple[str, ...]:
    """The languages whose (labelled) training material a group's model saw: the target for native,
    the sources for zero-shot, sources and target for joint, and for a student the union of its
    teachers' training data (its sources; the target text it was distilled on carries no labels)."""
    return (g.target,) if g.setting == "native" else g.sources


def plan(cfg: dict) -> list[tuple[Group, list[dict]]]:
    """Every group with its cells' descriptive parameters (clean cell first), per training seed."""
    out = []
    for model in cfg["models"]:
        for target in cfg["targets"]:
            for s in cfg["settings"]:
                kind = s["kind"]
                spec = "" if kind == "native" else str(s.get("sources", "pair"))
                if kind == "native":
                    sources = (target,)
                else:
                    sources = tuple(resolve_sources(spec, target))
                    if target in sources:
                        raise XnerError(f"{kind}: target {target} among its sources")
                if kind == "joint":
                    sources = (*sources, target)
                weighting = s.get("weighting", "uniform") if kind == "student" else ""
                for train_seed in cfg.get("train_seeds", [0]):
                    g = Group(model, kind, sources, target, weighting, int(train_seed), spec)
                    base = {"model": model, "setting": kind, "sources_spec": spec, "sources": list(sources),
                            "target": target, "weighting": weighting, "train_seed": int(train_seed)}
                    cells = [{**base, "perturbation": "clean", "rate": None, "seed": None}]
                    for item in cfg["perturbations"]:
                        pert, args = perturbation_entry(item)
                        extra = {"perturbation_args": args} if args else {}
                        for rate in cfg["rates"]:
                            for seed in cfg["seeds"]:
                                cells.append({**base, "perturbation": pert, **extra, "rate": rate, "seed": seed})
                    out.append((g, cells))
    return out
