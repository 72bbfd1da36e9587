"""What moves a source set's robustness: the report's regression over random source sets.

For every student of a random source set (:mod:`.sourcesets`) and target, the paired contrast at the
config's endpoint (the set's student minus the pair student: same target, training seed and test
sentences; positive = the set keeps more F1) is regressed on the set's properties: K (sources), the
diversity index (per 0.1 of the index: its spread within a target is 0.04-0.10, so a slope per unit
would extrapolate far beyond the data), the distance to the target, the share of sources in the
target's script, and the set student's clean F1.  Per target by OLS; pooled with target fixed effects.

Which sets enter: the uniform-weighting students of random sets (a ``langid`` student repeats a set
with other weights: it is analysed only by its declared contrast); not a set whose student or pair
student is at the floor (clean F1 below the analysis's floor: no verdict there; counted per fit);
not a set missing a property value (counted; the regressor stays for the other sets).

The sets are the units.  Training seeds are replicates, averaged inside each set before the fit.
Sets share teachers (every K=2 set of a target holds the same pair teacher on N/2, ...), so with one
training seed the bootstrap and the permutations over sets cannot see teacher training noise: the
inference is conditional on those teachers.  With several seeds each set's value is its mean over
seeds and the fit reports the within-set spread over seeds.

* identification: a regressor that does not vary (within every target, for the pooled fit) or is a
  linear function of the regressors before it (e.g. the script share is ``1/K`` in fa when every set
  holds the pair language) is left out and named, primaries (K, diversity) first, so a secondary
  never displaces a primary; a primary that is not identified keeps its row, "not computed";
* intervals: a bootstrap that draws sets with replacement inside each target and refits (B = the
  report's replicates);
* p-values: Freedman-Lane permutation tests (residuals of the model without the regressor, permuted
  inside each target, added back, the full model refitted; the t statistic compared);
* multiplicity: Holm over the primary slopes (K and diversity of the pooled fit, or of the only
  target's fit when there is one target; two per model, a slope that cannot be computed counts);
  BH q-values over the rest; each slope's minimum detectable effect at 80% power from its
  bootstrap SE on n - rank degrees of freedom.
* sensitivity (secondary, pre-declared): the genetic diversity (mean pairwise URIEL+ genetic
  distance) in place of the typological diversity index.
"""

from __future__ import annotations

import numpy as np

from .contrasts import endpoint_units
from .inference import ALPHA, benjamini_hochberg, holm, mde

__all__ = ["NAMES", "PRIMARY", "REGRESSORS", "SENSITIVITY", "UNITS", "regression", "set_records"]

#: the design's order: primaries first, so a secondary aliased with them is the one left out
REGRESSORS = ("k", "diversity", "distance", "script_share", "clean_f1")
PRIMARY = ("k", "diversity")
#: pre-declared sensitivity fits: regressor -> the one it replaces
SENSITIVITY = {"genetic_diversity": "diversity"}
#: a slope is per this much of its regressor (the design column is value / unit)
UNITS = {"diversity": 0.1, "genetic_diversity": 0.1}
NAMES = {"k": "K (sources)", "diversity": "diversity index (per 0.1)", "distance": "distance to target",
         "script_share": "share in target's script", "clean_f1": "clean F1 of the set's student",
         "genetic_diversity": "genetic diversity (per 0.1; sensitivity, in place of the diversity index)"}


def _name(k: str) -> str:
    return NAMES.get(k, k).split(" (")[0]


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
        if not seeds:
            continue
        diffs = [uc[s][0] - ub[s][0] for s in seeds]
        props = {**set_properties(c.sources, c.target), **(first.get("set_properties") or {})}
        rec = {"model": c.model, "target": c.target, "label": c.label, "sources": list(c.sources),
               "baseline": b.label, "y": float(np.mean(diffs)), "y_seeds": diffs, "seeds": len(seeds),
               "clean_f1": float(np.mean([r["f1"] for r in c.clean.values()])),
               "baseline_clean_f1": float(np.mean([r["f1"] for r in b.clean.values()])),
               "floor": "; ".join(f"{o.label}: {f}" for o in (c, b) if (f := an.floor(o))),
               "set_index": first["params"]["source_set"].get("index")}
        for k in (*REGRESSORS, *SENSITIVITY):
            if k != "clean_f1":
                rec[k] = props.get(k)
        rec["teachers"] = props.get("teachers")
        rec["weights_mean"], rec["weights_sd"] = props.get("weights_mean"), props.get("weights_sd")
        out.append(rec)
    return out


def _missing(v) -> bool:
    return v is None or not np.isfinite(v)


def _design(recs: list[dict], regs: list[str], fe: bool) -> tuple[np.ndarray, list[str]]:
    cols, names = [], []
    targets = sorted({r["target"] for r in recs})
    if fe and len(targets) > 1:
        for t in targets:
            cols.append([1.0 if r["target"] == t else 0.0 for r in recs])
            names.append(f"target:{t}")
    else:
        cols.append([1.0] * len(recs))
        names.append("intercept")
    for k in regs:
        cols.append([float(r[k]) / UNITS.get(k, 1.0) for r in recs])
        names.append(k)
    return np.array(cols, dtype=np.float64).T, names


def _rank(x: np.ndarray) -> int:
    """Numerical rank of a design with its columns scaled to unit length (so units do not matter)."""
    if x.size == 0:
        return 0
    norms = np.linalg.norm(x, axis=0)
    xs = x / np.where(norms > 0, norms, 1.0)
    s = np.linalg.svd(xs, compute_uv=False)
    return int((s > 1e-9 * max(x.shape) * max(s[0], 1.0)).sum())


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients, classical standard errors) of a full-rank design; NaN SEs without residual df."""
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    dof = x.shape[0] - x.shape[1]
    if dof <= 0:
        return beta, np.full_like(beta, np.nan)
    resid = y - x @ beta
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.pinv(x.T @ x)
    return beta, np.sqrt(np.maximum(np.diag(cov), 0.0))


def _varying(recs: list[dict], regs: tuple[str, ...], fe: bool) -> tuple[list[str], dict[str, str]]:
    """Regressors that vary (within some target when pooled with fixed effects)."""
    keep, dropped = [], {}
    for k in regs:
        by: dict[str, list] = {}
        for r in recs:
            by.setdefault(r["target"] if fe else "", []).append(r[k])
        if all(np.ptp(v) < 1e-12 for v in by.values()):
            dropped[k] = "does not vary" + (" within a target" if fe and len(by) > 1 else "")
            continue
        keep.append(k)
    return keep, dropped


def _identified(x: np.ndarray, names: list[str], where: str) -> tuple[list[int], dict[str, str]]:
    """The columns kept in order, each only when it raises the rank of those before it; the others
    named with what they are a linear function of (a primary comes before every secondary, so a
    secondary aliased with a primary is the one left out)."""
    keep: list[int] = []
    aliased = {}
    for j in range(x.shape[1]):
        if _rank(x[:, keep + [j]]) > len(keep):
            keep.append(j)
            continue
        coef = np.linalg.lstsq(x[:, keep], x[:, j], rcond=None)[0]
        with_ = [_name(names[i]) for i, c in zip(keep, coef, strict=True)
                 if abs(c) > 1e-8 and not names[i].startswith(("intercept", "target:"))]
        aliased[names[j]] = "a linear function of " + (" and ".join(with_) if with_ else "the intercept") + where
    return keep, aliased


def _not_computed(why: str) -> dict:
    return {"value": None, "se": None, "boot_se": None, "lo": None, "hi": None, "p": None, "df": None,
            "replicates": 0, "permutations": 0, "not_computed": why}


def _usable(recs: list[dict], regs: tuple[str, ...], out: dict) -> tuple[list[dict], list[str]]:
    """Sets off the floor with a value for every regressor that any set has; the rest counted."""
    fit = [r for r in recs if not r.get("floor")]
    out["floored"] = len(recs) - len(fit)
    regs_ = []
    for k in regs:
        if all(_missing(r.get(k)) for r in fit):
            out["dropped"][k] = "missing for every set"
        else:
            regs_.append(k)
    ok = [r for r in fit if not any(_missing(r.get(k)) for k in regs_)]
    out["missing_value_sets"] = len(fit) - len(ok)
    return ok, regs_


def _seed_spread(recs: list[dict]) -> float | None:
    """The within-set SD of the contrast over training seeds (pooled over sets with >= 2 seeds)."""
    var = [np.var(r["y_seeds"], ddof=1) for r in recs if len(r.get("y_seeds") or []) > 1]
    return float(np.sqrt(np.mean(var))) if var else None


def _fit_block(recs: list[dict], fe: bool, n_boot: int, n_perm: int, seed: int,
               regs: tuple[str, ...] = REGRESSORS, only: tuple[str, ...] | None = None) -> dict:
    """One OLS fit over sets (see the module's docstring); ``only``: the slopes to test (all by default)."""
    out: dict = {"targets": sorted({r["target"] for r in recs}), "dropped": {}, "slopes": {}}
    recs, regs_ = _usable(recs, regs, out)
    out["sets"] = len(recs)
    out["seeds_per_set"] = sorted({int(r.get("seeds") or 1) for r in recs})
    out["seed_sd"] = _seed_spread(recs)
    tested = [k for k in regs if k in (only or regs)]
    primaries = [k for k in PRIMARY if k in tested]
    if not recs:
        out["note"] = "no set to fit"
        out["slopes"] = {k: _not_computed(out["note"]) for k in primaries}
        return out
    kept, dropped = _varying(recs, tuple(regs_), fe)
    out["dropped"].update(dropped)
    x, names = _design(recs, kept, fe)
    where = f" in {out['targets'][0]}" if len(out["targets"]) == 1 else " within targets"
    cols, aliased = _identified(x, names, where)
    for k, why in aliased.items():
        out["dropped"][k] = ("not identified: " if k in PRIMARY else "aliased, left out: ") + why
    x, names = x[:, cols], [names[i] for i in cols]
    y = np.array([r["y"] for r in recs], dtype=np.float64)
    n, p = x.shape
    out["rank"] = p
    for k in primaries:
        if k not in names:
            out["slopes"][k] = _not_computed(out["dropped"].get(k, "left out"))
    if n <= p:
        out["note"] = f"{n} sets for {p} parameters: no fit"
        for k in primaries:
            out["slopes"][k] = _not_computed(out["note"])
        return out
    beta, se = _ols(x, y)
    strata = np.array([r["target"] if fe else "" for r in recs])
    groups = [np.flatnonzero(strata == s) for s in sorted(set(strata))]
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        idx = np.concatenate([g[rng.integers(0, g.size, g.size)] for g in groups])
        if _rank(x[idx]) == p:
            boot.append(np.linalg.lstsq(x[idx], y[idx], rcond=None)[0])
    boot = np.array(boot) if boot else np.empty((0, p))
    for j, name in enumerate(names):
        if name not in tested:
            continue
        # Freedman-Lane: permute the reduced model's residuals inside each stratum
        xr = x[:, [i for i in range(p) if i != j]]
        br = np.linalg.lstsq(xr, y, rcond=None)[0]
        fitted, resid = xr @ br, y - xr @ br
        t_obs = beta[j] / se[j] if se[j] > 0 else np.inf
        extreme = 0
        for _ in range(n_perm):
            r = resid.copy()
            for g in groups:
                r[g] = r[g][rng.permutation(g.size)]
            bp, sp = _ols(x, fitted + r)
            extreme += abs(bp[j] / sp[j] if sp[j] > 0 else np.inf) >= abs(t_obs) - 1e-12
        bs = boot[:, j] if boot.size else np.array([])
        out["slopes"][name] = {
            "value": float(beta[j]), "se": float(se[j]), "boot_se": float(bs.std(ddof=1)) if bs.size > 1 else None,
            "lo": float(np.percentile(bs, 2.5)) if bs.size else None,
            "hi": float(np.percentile(bs, 97.5)) if bs.size else None, "per": UNITS.get(name, 1.0),
            "p": (extreme + 1) / (n_perm + 1), "df": n - p, "replicates": int(bs.size), "permutations": n_perm}
    return out


def _block(recs: list[dict], fe: bool, n_boot: int, n_perm: int, seed: int) -> dict:
    """The fit and its pre-declared sensitivity fits (each adding its one slope, marked)."""
    out = _fit_block(recs, fe, n_boot, n_perm, seed)
    for alt, replaces in SENSITIVITY.items():
        regs = tuple(alt if k == replaces else k for k in REGRESSORS)
        s = _fit_block(recs, fe, n_boot, n_perm, seed, regs, only=(alt,))
        if alt in s["slopes"]:
            out["slopes"][alt] = {**s["slopes"][alt], "sensitivity": f"in place of {replaces}"}
        elif alt in s["dropped"]:
            out["dropped"][alt] = f"{s['dropped'][alt]} (sensitivity fit)"
    return out


def regression(an, cfg: dict, n_boot: int = 2000, n_perm: int = 2000, seed: int = 0) -> dict:
    """Per model: per-target fits and the pooled fit (target fixed effects), with Holm over the
    primary slopes (module docstring) and BH q-values over every other slope; the records."""
    recs = set_records(an, cfg)
    out = {"records": recs, "models": {}}
    prim, rest = [], []
    for model in sorted({r["model"] for r in recs}):
        mr = [r for r in recs if r["model"] == model]
        per = {t: _block([r for r in mr if r["target"] == t], False, n_boot, n_perm, seed)
               for t in sorted({r["target"] for r in mr})}
        pooled = _block(mr, True, n_boot, n_perm, seed) if len(per) > 1 else None
        primary = pooled or next(iter(per.values()))
        primary["primary"] = True
        out["models"][model] = {"per_target": per, "pooled": pooled}
        for block in [*([pooled] if pooled else []), *per.values()]:
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
            if s["p"] is None:
                continue
            s[key] = v
            s["mde"] = mde(s["boot_se"], s["df"], ALPHA / max(1, size))
    return out
