"""What moves a source set's robustness: the report's regression over random source sets.

For every student of a random source set (:mod:`.sourcesets`) and target, the paired contrast at the
config's endpoint (the set's student minus the pair student: same target, training seed and test
sentences; positive = the set keeps more F1) is regressed on the set's properties: K (sources), the
diversity index, the distance to the target, the share of sources in the target's script, and the
set student's clean F1 (the floor).  Per target by OLS; pooled with target fixed effects.  The sets
are the units (training seeds are replicates, averaged inside each set):

* intervals: a bootstrap that draws sets with replacement inside each target and refits (B = the
  report's replicates);
* p-values: Freedman-Lane permutation tests (residuals of the model without the regressor, permuted
  inside each target, added back, the full model refitted; the t statistic compared);
* multiplicity: Holm over the primary slopes (pooled diversity and K); BH q-values over the rest;
  each slope's minimum detectable effect at 80% power from its bootstrap SE on n - p degrees of freedom.

A regressor that does not vary (within every target, for the pooled fit) is left out and named.
"""

from __future__ import annotations

import numpy as np

from .contrasts import endpoint_units
from .inference import ALPHA, benjamini_hochberg, holm, mde

__all__ = ["PRIMARY", "REGRESSORS", "regression", "set_records"]

REGRESSORS = ("k", "diversity", "distance", "script_share", "clean_f1")
PRIMARY = ("diversity", "k")


def set_records(an, cfg: dict) -> list[dict]:
    """One record per (model, target, source-set condition) with its contrast at the endpoint."""
    from .sourcesets import set_properties

    ep = cfg.get("endpoint") or {}
    if not (ep.get("perturbations") and "rate" in ep):
        return []
    out = []
    for c in an.conds:
        first = next(iter(c.clean.values()), None)
        if first is None or not first["params"].get("source_set"):
            continue
        b = an.baseline(c, "student1")
        if b is None:
            continue
        uc, ub = endpoint_units(an, c, ep), endpoint_units(an, b, ep)
        seeds = sorted(set(uc) & set(ub))
        if not seeds:
            continue
        diffs = [uc[s][0] - ub[s][0] for s in seeds]
        props = dict(first.get("set_properties") or set_properties(c.sources, c.target))
        rec = {"model": c.model, "target": c.target, "label": c.label, "sources": list(c.sources),
               "baseline": b.label, "y": float(np.mean(diffs)), "y_seeds": diffs, "seeds": len(seeds),
               "clean_f1": float(np.mean([r["f1"] for r in c.clean.values()])),
               "baseline_clean_f1": float(np.mean([r["f1"] for r in b.clean.values()])),
               "set_index": first["params"]["source_set"].get("index")}
        for k in REGRESSORS:
            if k != "clean_f1":
                rec[k] = props.get(k)
        rec["teachers"] = props.get("teachers")
        rec["weights_mean"], rec["weights_sd"] = props.get("weights_mean"), props.get("weights_sd")
        out.append(rec)
    return out


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
        cols.append([float(r[k]) for r in recs])
        names.append(k)
    return np.array(cols, dtype=np.float64).T, names


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients, classical standard errors); NaN SEs when there are no residual degrees of freedom."""
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    dof = x.shape[0] - np.linalg.matrix_rank(x)
    if dof <= 0:
        return beta, np.full_like(beta, np.nan)
    resid = y - x @ beta
    s2 = float(resid @ resid) / dof
    try:
        cov = s2 * np.linalg.pinv(x.T @ x)
    except np.linalg.LinAlgError:
        return beta, np.full_like(beta, np.nan)
    return beta, np.sqrt(np.maximum(np.diag(cov), 0.0))


def _varying(recs: list[dict], regs: tuple[str, ...], fe: bool) -> tuple[list[str], dict[str, str]]:
    """Regressors that vary (within some target when pooled with fixed effects) and have values."""
    keep, dropped = [], {}
    for k in regs:
        vals = [r.get(k) for r in recs]
        if any(v is None or not np.isfinite(v) for v in vals):
            dropped[k] = "missing for some sets"
            continue
        by = {}
        for r in recs:
            by.setdefault(r["target"] if fe else "", []).append(r[k])
        if all(np.ptp(v) < 1e-12 for v in by.values()):
            dropped[k] = "does not vary" + (" within a target" if fe and len(by) > 1 else "")
            continue
        keep.append(k)
    return keep, dropped


def _fit_block(recs: list[dict], fe: bool, n_boot: int, n_perm: int, seed: int) -> dict:
    regs, dropped = _varying(recs, REGRESSORS, fe)
    y = np.array([r["y"] for r in recs], dtype=np.float64)
    x, names = _design(recs, regs, fe)
    n, p = x.shape
    out = {"sets": n, "targets": sorted({r["target"] for r in recs}), "dropped": dropped, "slopes": {}}
    if n <= p:
        out["note"] = f"{n} sets for {p} parameters: no fit"
        return out
    beta, se = _ols(x, y)
    strata = np.array([r["target"] if fe else "" for r in recs])
    groups = [np.flatnonzero(strata == s) for s in sorted(set(strata))]
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        idx = np.concatenate([g[rng.integers(0, g.size, g.size)] for g in groups])
        xb = x[idx]
        if np.linalg.matrix_rank(xb) < p:
            continue
        boot.append(np.linalg.lstsq(xb, y[idx], rcond=None)[0])
    boot = np.array(boot) if boot else np.empty((0, p))
    for j, name in enumerate(names):
        if name not in regs:
            continue
        # Freedman-Lane: permute the reduced model's residuals inside each stratum
        keep = [i for i in range(p) if i != j]
        xr = x[:, keep]
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
        boot_se = float(bs.std(ddof=1)) if bs.size > 1 else None
        out["slopes"][name] = {
            "value": float(beta[j]), "se": float(se[j]), "boot_se": boot_se,
            "lo": float(np.percentile(bs, 2.5)) if bs.size else None,
            "hi": float(np.percentile(bs, 97.5)) if bs.size else None,
            "p": (extreme + 1) / (n_perm + 1), "df": n - p, "replicates": int(bs.size), "permutations": n_perm}
    return out


def regression(an, cfg: dict, n_boot: int = 2000, n_perm: int = 2000, seed: int = 0) -> dict:
    """Per model: per-target fits and the pooled fit (target fixed effects), with Holm over the
    pooled primary slopes and BH q-values over every other slope; the records it was fitted on."""
    recs = set_records(an, cfg)
    out = {"records": recs, "models": {}}
    for model in sorted({r["model"] for r in recs}):
        mr = [r for r in recs if r["model"] == model]
        per = {t: _fit_block([r for r in mr if r["target"] == t], False, n_boot, n_perm, seed)
               for t in sorted({r["target"] for r in mr})}
        pooled = _fit_block(mr, True, n_boot, n_perm, seed) if len(per) > 1 else None
        out["models"][model] = {"per_target": per, "pooled": pooled}
    # multiplicity: the pooled primary slopes of every model form the primary family
    prim, rest = [], []
    for m in out["models"].values():
        if m["pooled"]:
            for name, s in m["pooled"]["slopes"].items():
                (prim if name in PRIMARY else rest).append(s)
        for block in m["per_target"].values():
            rest.extend(block["slopes"].values())
    for fam, adj, key in ((prim, holm, "p_holm"), (rest, benjamini_hochberg, "q")):
        for s, v in zip(fam, adj([s["p"] for s in fam]), strict=True):
            s[key] = v
            s["family"] = "primary (Holm)" if key == "p_holm" else "secondary (BH)"
            s["mde"] = mde(s["boot_se"], s["df"], ALPHA / max(1, len(fam)))
    return out
