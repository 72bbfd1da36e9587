"""One OLS fit over source sets (:mod:`.setregression` composes them): the design, identification,
the floors and missing values, the bootstrap interval and the Freedman-Lane permutation p-value.

* identification: a regressor that does not vary (within every target, for the pooled fit) or is a
  linear function of the regressors before it (e.g. the script share is ``1/K`` in fa when every set
  holds the pair language) is left out and named, primaries (K, diversity) first, so a secondary
  never displaces a primary; a primary that is not identified keeps its row, "not computed";
* size: a fit needs ``n - rank >= MIN_DF`` residual degrees of freedom; with fewer it is reported as
  "too few sets" and its primaries are not computed (a fit with 1-3 df has a classical SE and a
  bootstrap that mean little);
* intervals: a bootstrap that draws sets with replacement inside each target and refits; the
  percentile interval's deviations from the estimate are scaled by ``sqrt(n / (n - p))`` (the
  bootstrap of residual-like quantities is too narrow by about that factor in small samples); the
  replicates kept (a draw whose design loses rank is skipped) are reported;
* p-values: Freedman-Lane permutation tests (residuals of the model without the regressor, permuted
  inside each target, added back, the full model refitted; the t statistic compared);
* each slope carries its classical OLS SE on ``n - rank`` df: the minimum detectable effect is
  computed from it (the bootstrap SE of a few sets is heavy-tailed and inflates it).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MIN_DF", "NAMES", "PRIMARY", "UNITS", "fit_block", "not_computed", "percentile_interval"]

PRIMARY = ("k", "diversity")
#: the fewest residual degrees of freedom a fit needs
MIN_DF = 4
#: a slope is per this much of its regressor (the design column is value / unit)
UNITS = {"diversity": 0.1, "genetic_diversity": 0.1}
NAMES = {"k": "K (sources)", "diversity": "diversity index (per 0.1)", "distance": "distance to target",
         "script_share": "share in target's script", "clean_f1": "clean F1 of the set's student",
         "genetic_diversity": "genetic diversity (per 0.1)"}


def name(k: str) -> str:
    return NAMES.get(k, k).split(" (")[0]


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
        with_ = [name(names[i]) for i, c in zip(keep, coef, strict=True)
                 if abs(c) > 1e-8 and not names[i].startswith(("intercept", "target:"))]
        aliased[names[j]] = "a linear function of " + (" and ".join(with_) if with_ else "the intercept") + where
    return keep, aliased


def not_computed(why: str) -> dict:
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


def percentile_interval(boot: np.ndarray, beta: float, n: int, p: int) -> tuple[float | None, float | None]:
    """The 95% percentile interval of bootstrap slopes, its deviations from ``beta`` scaled by
    ``sqrt(n / (n - p))`` (the small-sample correction of a bootstrap over n units with p parameters)."""
    if not boot.size:
        return None, None
    c = float(np.sqrt(n / (n - p))) if n > p else 1.0
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(beta + c * (lo - beta)), float(beta + c * (hi - beta))


def fit_block(recs: list[dict], fe: bool, n_boot: int, n_perm: int, seed: int, regs: tuple[str, ...],
              only: tuple[str, ...] | None = None) -> dict:
    """One OLS fit over sets (module docstring); ``only``: the slopes to test (all by default)."""
    out: dict = {"targets": sorted({r["target"] for r in recs}), "dropped": {}, "slopes": {}}
    recs, regs_ = _usable(recs, regs, out)
    out["sets"] = len(recs)
    out["fitted_targets"] = sorted({r["target"] for r in recs})
    out["seeds_per_set"] = sorted({int(r.get("seeds") or 1) for r in recs})
    out["seed_sd"] = _seed_spread(recs)
    tested = [k for k in regs if k in (only or regs)]
    primaries = [k for k in PRIMARY if k in tested]
    if not recs:
        out["note"] = "no set to fit"
        out["slopes"] = {k: not_computed(out["note"]) for k in primaries}
        return out
    kept, dropped = _varying(recs, tuple(regs_), fe)
    out["dropped"].update(dropped)
    x, names = _design(recs, kept, fe)
    where = f" in {out['fitted_targets'][0]}" if len(out["fitted_targets"]) == 1 else " within targets"
    cols, aliased = _identified(x, names, where)
    for k, why in aliased.items():
        out["dropped"][k] = ("not identified: " if k in PRIMARY else "aliased, left out: ") + why
    x, names = x[:, cols], [names[i] for i in cols]
    y = np.array([r["y"] for r in recs], dtype=np.float64)
    n, p = x.shape
    out["rank"] = p
    for k in primaries:
        if k not in names:
            out["slopes"][k] = not_computed(out["dropped"].get(k, "left out"))
    if n - p < MIN_DF:
        out["note"] = f"too few sets: {n} sets for {p} parameters ({max(n - p, 0)} df, a fit needs {MIN_DF})"
        for k in primaries:
            out["slopes"][k] = not_computed(out["note"])
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
    for j, nm in enumerate(names):
        if nm not in tested:
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
        lo, hi = percentile_interval(bs, float(beta[j]), n, p)
        out["slopes"][nm] = {
            "value": float(beta[j]), "se": float(se[j]), "boot_se": float(bs.std(ddof=1)) if bs.size > 1 else None,
            "lo": lo, "hi": hi, "per": UNITS.get(nm, 1.0), "p": (extreme + 1) / (n_perm + 1), "df": n - p,
            "replicates": int(bs.size), "replicates_drawn": n_boot, "permutations": n_perm,
            "method": "OLS over sets (bootstrap interval, Freedman-Lane p)"}
    return out
