"""Planning a sweep: a config expanded into groups (cells that share one model) and their cells."""

from __future__ import annotations

from dataclasses import dataclass

from xner.errors import XnerError

__all__ = ["Group", "languages", "plan", "resolve_sources"]


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


@dataclass(frozen=True)
class Group:
    """Cells that share one model: (model, setting, target)."""

    model: str
    setting: str  # kind
    sources: tuple[str, ...]
    target: str
    weighting: str = ""

    @property
    def label(self) -> str:
        src = "+".join(self.sources)
        w = f"/{self.weighting}" if self.weighting else ""
        return f"{self.model}:{self.setting}{w}:{src}->{self.target}"


def plan(cfg: dict) -> list[tuple[Group, list[dict]]]:
    """Every group with its cells' parameters (clean cell first)."""
    out = []
    for model in cfg["models"]:
        for target in cfg["targets"]:
            for s in cfg["settings"]:
                kind = s["kind"]
                if kind == "native":
                    sources = (target,)
                else:
                    sources = tuple(resolve_sources(s.get("sources", "pair"), target))
                    if target in sources:
                        raise XnerError(f"{kind}: target {target} among its sources")
                if kind == "joint":
                    sources = (*sources, target)
                g = Group(model, kind, sources, target, s.get("weighting", "uniform") if kind == "student" else "")
                base = {"model": model, "setting": kind, "sources": list(sources), "target": target,
                        "weighting": g.weighting, "config": cfg.get("name", "")}
                cells = [{**base, "perturbation": "clean", "rate": None, "seed": None}]
                for pert in cfg["perturbations"]:
                    for rate in cfg["rates"]:
                        for seed in cfg["seeds"]:
                            cells.append({**base, "perturbation": pert, "rate": rate, "seed": seed})
                out.append((g, cells))
    return out
