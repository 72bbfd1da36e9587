"""Power from a pilot: ``xner sweep CONFIG --plan --power STORE``.

A pilot store's cells give, for each of the config's declared contrasts (at its endpoint and per
perturbation and rate), the variance components the inference layer estimates (:mod:`.inference`):
between training seeds (beyond sentence noise), the sentence-sampling variance of one seed's value
and the part of it the seeds share, and between targets (τ²).  From them, the minimum detectable
effect at 80% power is projected for more training seeds, the config's number of targets and its
test-set size, with α Bonferroni-adjusted within each contrast's family (primary or secondary)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xner.errors import XnerError

from .inference import ALPHA, project

__all__ = ["SEEDS", "power_table", "render_power"]

#: training seeds the projection is shown for
SEEDS = (3, 5, 10)


def _mean(vals) -> float:
    vals = [v for v in vals if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else 0.0


def power_table(cfg: dict, store_path: str | Path, seeds: tuple[int, ...] = SEEDS, n_boot: int = 2000) -> dict:
    """The projection for every declared contrast of ``cfg`` that the pilot store can estimate."""
    from .analysis import Analysis
    from .contrasts import declared_contrasts
    from .store import Store

    if not Path(store_path).is_file():
        raise XnerError(f"--power {store_path}: no such results store (a pilot sweep's results.sqlite)")
    if not cfg.get("contrasts"):
        raise XnerError(f"config {cfg.get('name')!r} declares no contrasts ([[contrasts]]): nothing to project")
    with Store(store_path) as st:
        rows = st.rows()
        blobs = st.counts([r["key"] for r in rows])
    an = Analysis(rows, blobs, n_boot)
    declared = declared_contrasts(an, cfg)
    if not declared:
        raise XnerError(f"{store_path}: none of the config's declared contrasts has cells in this store (the labels "
                        "must match the config's settings)")
    from .uncertainty import unpack_counts

    seeds_seen = max((r["estimate"].get("seeds") or 0) for r in declared)
    targets_seen = max(len(r["targets"]) for r in declared)
    if seeds_seen < 2:
        raise XnerError(f"{store_path}: the pilot has one training seed per condition, so it says nothing about the "
                        "variance between training runs; run it with --train-seeds 0,1 (or more) first")
    if len(cfg.get("targets") or []) > 1 and targets_seen < 2:
        raise XnerError(f"{store_path}: the pilot has one target, so it says nothing about the variance between "
                        "targets (τ²); run it on two or more targets first")
    pilot_sentences = _mean([r.get("test_sentences") or (unpack_counts(blobs[r["key"]]).shape[0] if r["key"] in blobs
                                                         else None)
                             for r in rows if r["params"]["perturbation"] == "clean"])
    planned = int(cfg.get("test_max_sentences") or 0) or pilot_sentences
    ratio = planned / pilot_sentences if pilot_sentences else 1.0
    targets = len(cfg.get("targets") or []) or 1
    fam = {True: sum(r["primary"] for r in declared) or 1, False: sum(not r["primary"] for r in declared) or 1}
    out = []
    for r in declared:
        comps = [pe.get("components") or {} for pe in r["per_target"].values()]
        comp = {"seed": _mean(c.get("seed_component") for c in comps),
                "within": _mean(c.get("within_sentence_var") for c in comps),
                "shared": _mean(c.get("shared_sentence_var") for c in comps),
                "tau2": ((r["estimate"].get("extra") or {}).get("tau2") or 0.0)}
        alpha = ALPHA / fam[r["primary"]]
        proj = {n: project(comp, n, targets, ratio, alpha) for n in seeds}
        out.append({"a": r["a"], "b": r["b"], "model": r["model"], "where": r["where"], "measure": r["measure"],
                    "primary": r["primary"], "alpha": alpha, "pilot_value": r["estimate"].get("value"),
                    "pilot_targets": len(r["targets"]), "pilot_seeds": r["estimate"].get("seeds"),
                    "components": comp, "mde": {str(n): p["mde"] for n, p in proj.items()}})
    return {"config": cfg.get("name"), "store": str(store_path), "targets": targets,
            "test_sentences": planned, "pilot_test_sentences": pilot_sentences, "seeds": list(seeds),
            "contrasts": out}


def render_power(p: dict) -> str:
    head = (f"Minimum detectable effect (80% power, x 100) for {p['config']}: {p['targets']} target(s), "
            f"{p['test_sentences']:.0f} test sentences per target (pilot: {p['pilot_test_sentences']:.0f}), from the "
            f"variance components of {p['store']}; α Bonferroni within each family")
    cols = ["contrast (a − b)", "model", "where", "α", "pilot a − b"] + [f"MDE {n} seeds" for n in p["seeds"]]
    lines = [head, "", " | ".join(cols), " | ".join("---" for _ in cols)]
    for r in p["contrasts"]:
        name = f"{r['a']} − {r['b']}" + (" (primary)" if r["primary"] else "")
        pv = r["pilot_value"]
        lines.append(" | ".join([name, r["model"], r["where"], f"{r['alpha']:.4f}",
                                 "—" if pv is None else f"{100 * pv:+.2f}",
                                 *(("—" if r["mde"][str(n)] is None else f"{100 * r['mde'][str(n)]:.2f}")
                                   for n in p["seeds"])]))
    return "\n".join(lines)
