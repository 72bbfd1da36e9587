"""What moves a source set's robustness: the report's regression over random source sets.

For every student of a random source set (:mod:`.sourcesets`) and target, the paired contrast at the
config's endpoint (the set's student minus the pair student: same target, training seed and test
sentences; positive = the set keeps more F1) is regressed on the set's properties: K (sources), the
diversity index (per 0.1 of the index: its spread within a target is 0.04-0.10, so a slope per unit
would extrapolate far beyond the data), the distance to the target and the share of sources in the
target's script.  Per target by OLS; pooled with target fixed effects (:mod:`.setfit`).  The set
student's clean F1 is not a regressor of the primary fits: the set produces it, so controlling for it
can remove the very effect asked about; a pre-declared sensitivity fit adds it.

Which sets enter: the uniform-weighting students of random sets (a ``langid`` student repeats a set
with other weights: it is analysed only by its declared contrast); not a set whose student or pair
student is at the floor (:meth:`.analysis.Analysis.floor`: mean clean F1 over training seeds below the
floor, or any one training seed's below it; counted per fit); not a set missing a property value
(counted; the regressor stays for the other sets).

The sets are the units.  Training seeds are replicates, averaged inside each set before the fit.

**K is pooled over targets by random effects.**  Within a target every K=2 set holds the same pair
teacher on N/2 and every K=3 set the same one on N/3, so the difference between those two teachers is
collinear with K: resampling or permuting sets inside a target cannot see it, and a fixed-effects K
slope is conditional on those teachers (with a teacher SD of 0.01 its 5% test rejected 16.5% of the
time under no effect).  The pooled K slope is therefore the random-effects mean of the per-target K
slopes (each with its classical OLS SE; DerSimonian-Laird τ², Hartung-Knapp, df = targets - 1:
:func:`.inference.pool_targets`, the layer behind :func:`.inference.combine`), so the pair teachers'
difference becomes between-target heterogeneity.  It needs two or more targets with a K slope; a
per-target K slope (and a single target's primary) is conditional on that target's two pair teachers.
The diversity slope varies between sets that share those teachers, so the pooled fixed-effects fit
measures it (nominal in simulation) and stays its primary.

* multiplicity: Holm over the primary slopes (K and diversity of the pooled analysis, or of the only
  target's fit when there is one target), one family of 2 x models, a slope that cannot be computed
  counted; BH q-values over every other slope (a family of its own, apart from the declared
  contrasts'); each slope's minimum detectable effect at 80% power from its classical (or
  random-effects) SE on its df;
* sensitivity (secondary, pre-declared fits, each with its own sets and left-out counts): the genetic
  diversity (mean pairwise URIEL+ genetic distance) in place of the typological diversity index; the
  primary regressors with the set student's clean F1 added.
"""

from __future__ import annotations

import numpy as np

from .contrasts import endpoint_units
from .inference import ALPHA, Estimate, benjamini_hochberg, holm, mde, pool_targets
from .setfit import MIN_DF, NAMES, PRIMARY, UNITS, fit_block, not_computed

__all__ = ["MIN_DF", "NAMES", "PRIMARY", "REGRESSORS", "SENSITIVITY", "UNITS", "regression", "set_records",
           "verdict"]

#: the design's order: primaries first, so a secondary aliased with them is the one left out
REGRESSORS = ("k", "diversity", "distance", "script_share")
#: pre-declared sensitivity fits: name -> (regressors, the slopes reported, label)
SENSITIVITY = {
    "genetic": (tuple("genetic_diversity" if k == "diversity" else k for k in REGRESSORS), ("genetic_diversity",),
                "genetic diversity in place of the diversity index"),
    "clean_f1": ((*REGRESSORS, "clean_f1"), ("k", "diversity", "clean_f1"), "with the set student's clean F1"),
}
RE_METHOD = "random effects over the targets' slopes (DerSimonian-Laird, Hartung-Knapp)"
_PROPS = ("k", "diversity", "distance", "script_share", "genetic_diversity")


def set_records(an, cfg: dict) -> list[dict]:
    """One record per (model, target, uniform-weighting source-set condition) with its contrast at
    the endpoint, its properties and its floor flag."""
    from .sourcesets import set_properties

    ep = cfg.get("endpoint") or {}
    if not (ep.get("perturbations") and "rate" in ep):
        return []
    out = []
    for c in an.conds:
        first = next(iter(c.clean.values()), None)
        if first is None or not first["params"].get("source_set"):
            continue
        if (c.weighting or "uniform") != "uniform":  # a langid student: only its declared contrast
            continue
        b = an.baseline(c, "student1")
        if b is None:
            continue
        uc, ub = endpoint_units(an, c, ep), endpoint_units(an, b, ep)
        seeds = sorted(set(uc) & set(ub))
        floor = "; ".join(f"{o.label}: {f}" for o in (c, b) if (f := an.floor(o)))
        if not seeds:
            if not set(c.clean) & set(b.clean):
                continue  # never trained in a common seed: not a set of this analysis
            # a student (or its pair student) with clean F1 0 has no relative drop: the set is kept,
            # counted at the floor, never fitted (it used to vanish from the counts)
            floor = floor or "no endpoint value (clean F1 0, or no perturbed cells, in every training seed)"
        diffs = [uc[s][0] - ub[s][0] for s in seeds]
        props = {**set_properties(c.sources, c.target), **(first.get("set_properties") or {})}
        rec = {"model": c.model, "target": c.target, "label": c.label, "sources": list(c.sources),
               "baseline": b.label, "y": float(np.mean(diffs)) if diffs else None, "y_seeds": diffs,
               "seeds": len(seeds),
               "clean_f1": float(np.mean([r["f1"] for r in c.clean.values()])),
               "baseline_clean_f1": float(np.mean([r["f1"] for r in b.clean.values()])),
               "floor": floor, "set_index": first["params"]["source_set"].get("index")}
        for k in _PROPS:
            rec[k] = props.get(k)
        rec["teachers"] = props.get("teachers")
        rec["weights_mean"], rec["weights_sd"] = props.get("weights_mean"), props.get("weights_sd")
        out.append(rec)
    return out


def _block(recs: list[dict], fe: bool, n_boot: int, n_perm: int, seed: int) -> dict:
    """The fit and its pre-declared sensitivity fits (``sensitivity``: name -> a fit of its own)."""
    out = fit_block(recs, fe, n_boot, n_perm, seed, REGRESSORS)
    out["sensitivity"] = {}
    for key, (regs, tested, label) in SENSITIVITY.items():
        s = fit_block(recs, fe, n_boot, n_perm, seed, regs, only=tested)
        s["label"] = label
        for v in s["slopes"].values():
            v["sensitivity"] = label
        out["sensitivity"][key] = s
    return out


def _fit_block(recs: list[dict], fe: bool, n_boot: int, n_perm: int, seed: int,
               regs: tuple[str, ...] = REGRESSORS, only: tuple[str, ...] | None = None) -> dict:
    return fit_block(recs, fe, n_boot, n_perm, seed, regs, only)


def pool_slope(name: str, per_target: dict[str, dict | None]) -> dict:
    """The random-effects mean of the targets' slopes of ``name`` (each with its classical SE): not
    computed when fewer than two targets have one."""
    have = {t: s for t, s in per_target.items()
            if s and s.get("value") is not None and s.get("se") is not None and np.isfinite(s["se"]) and s["se"] > 0}
    left = {t: (s or {}).get("not_computed") or "no slope" for t, s in per_target.items() if t not in have}
    if len(have) < 2:
        why = (f"only {', '.join(have)} has a per-target slope" if have else "no target has a per-target slope") + \
            ": pooling over targets by random effects needs two or more"
        return {**not_computed(why), "method": RE_METHOD, "left_out": left}
    est = pool_targets({t: Estimate(s["value"], se=s["se"], df=s["df"], seeds=1, targets=1) for t, s in have.items()})
    return {"value": est.value, "se": est.se, "boot_se": None, "lo": est.lo, "hi": est.hi, "p": est.p, "df": est.df,
            "per": UNITS.get(name, 1.0), "replicates": None, "permutations": None, "method": RE_METHOD,
            "targets": sorted(have), "tau2": est.extra["tau2"], "i2": est.extra["i2"],
            "per_target": est.extra["per_target"], "left_out": left}


def _conditional(block: dict, target: str) -> None:
    """A per-target K slope is conditional on the target's two pair teachers (N/2 and N/3)."""
    for b in (block, *block["sensitivity"].values()):
        if "k" in b["slopes"]:
            b["slopes"]["k"]["conditional"] = (f"conditional on {target}'s two pair teachers (N/2 and N/3): a "
                                               "difference between them is part of this slope")


def verdict(s: dict, alpha: float = ALPHA) -> str:
    """The decision rule for a slope: a primary is supported when its Holm-adjusted p is below α (its
    sign says which way), any other slope is a discovery when its BH q is; else no evidence (read
    with the slope's interval and MDE)."""
    if s.get("value") is None:
        return "not computed"
    adj = s.get("p_holm") if s.get("p_holm") is not None else s.get("q")
    if adj is None:
        return "—"
    if adj < alpha:
        word = "supported" if s.get("p_holm") is not None else "discovery"
        return f"{word}: {'positive' if s['value'] > 0 else 'negative'}"
    return "no evidence"


def _blocks(m: dict) -> list[dict]:
    main = ([m["pooled"]] if m["pooled"] else []) + list(m["per_target"].values())
    return [x for b in main for x in (b, *b["sensitivity"].values())]


def regression(an, cfg: dict, n_boot: int = 2000, n_perm: int = 2000, seed: int = 0) -> dict:
    """Per model: per-target fits and the pooled analysis (diversity from the fit with target fixed
    effects, K by random effects over the targets' slopes), with Holm over the primary slopes (module
    docstring) and BH q-values over every other slope; the records."""
    recs = set_records(an, cfg)
    out = {"records": recs, "models": {}}
    prim, rest = [], []
    for model in sorted({r["model"] for r in recs}):
        mr = [r for r in recs if r["model"] == model]
        per = {t: _block([r for r in mr if r["target"] == t], False, n_boot, n_perm, seed)
               for t in sorted({r["target"] for r in mr})}
        for t, b in per.items():
            _conditional(b, t)
        pooled = _block(mr, True, n_boot, n_perm, seed) if len(per) > 1 else None
        if pooled:
            for key, b in (("", pooled), *pooled["sensitivity"].items()):
                if "k" in b["slopes"]:
                    b["slopes"]["k"] = {**pool_slope("k", {t: (pb["sensitivity"][key] if key else pb)["slopes"].get("k")
                                                            for t, pb in per.items()}),
                                        **({"sensitivity": b["label"]} if key else {})}
        primary = pooled or next(iter(per.values()))
        primary["primary"] = True
        out["models"][model] = m = {"per_target": per, "pooled": pooled}
        for block in _blocks(m):
            for name, s in block["slopes"].items():
                (prim if block is primary and name in PRIMARY else rest).append(s)
    # Holm's family: the declared primaries of every model, a slope that could not be computed included
    m = len(PRIMARY) * len(out["models"])
    for fam, key in ((prim, "p_holm"), (rest, "q")):
        ps = [s["p"] for s in fam]
        adjusted = holm(ps, m=m) if key == "p_holm" else benjamini_hochberg(ps)
        size = m if key == "p_holm" else len([p for p in ps if p is not None])
        for s, v in zip(fam, adjusted, strict=True):
            s["family"] = "primary (Holm)" if key == "p_holm" else "secondary (BH)"
            s["family_size"] = size
            if s["p"] is not None:
                s[key] = v
                s["mde"] = mde(s["se"], s["df"], ALPHA / max(1, size))
            s["verdict"] = verdict(s)
    return out
