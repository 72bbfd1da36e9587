"""The inference layer: intervals, p-values, pooling, multiplicity and power for a sweep's numbers.

Every estimate starts from *units*: one value per training seed (a ΔF1, a relative drop, or a paired
contrast of two conditions) with its replicates over resampled test sentences (the same sentence
weights for every cell scored on one test set, :class:`.uncertainty.Resampler`, so pairing holds
inside each replicate).  Three unit counts matter and they are small: 3 training seeds, 4 targets.
The estimators therefore use small-sample distributions, not bootstrap percentiles of a mean of 3:

* :func:`over_seeds` (one target): the mean over training seeds with
  ``SE² = S²/n + c``, where ``S²`` is the between-seed variance of the seed values and ``c`` the
  sentence-sampling variance the seeds share (the mean covariance of their replicates: one test set
  serves every seed, so that part of the error does not average out over seeds); a t interval with
  n - 1 degrees of freedom (the seeds are the units).  It generalises over training seeds and test sentences.
  With one seed only the sentence part exists and the interval says so (``over = "sentences"``).
* :func:`pool_targets`: a random-effects combination over targets (DerSimonian-Laird τ², the
  Hartung-Knapp variance with ``t(K-1)``), reporting τ², I², Cochran's Q and the sign count; it
  generalises to other targets like these.  Beside it, the fixed-targets estimand ("these K
  targets", the plain mean with each target's own seed and sentence variance).
* :func:`percentile`: the hierarchical percentile bootstrap (targets, then seeds, then sentences),
  kept as a named option (``--interval percentile``) for comparison; it is too narrow with 3-4 units.
* :func:`holm` and :func:`benjamini_hochberg`: the primary family is Holm-adjusted, everything else
  gets BH q-values.  :func:`mde`: the minimum detectable effect at 80% power for an estimate's SE, df
  and family-adjusted α; :func:`project` projects it to other numbers of seeds, targets and sentences
  from a pilot's variance components.  :func:`cluster_correlation`: Pearson and Spearman with an
  interval that resamples clusters (targets), not points.

Tested against statsmodels (random effects, multiplicity) and by simulation (coverage of the
default intervals with 3 seeds and 4 targets, ``tests/test_inference.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

__all__ = ["ALPHA", "INTERVALS", "POWER", "Estimate", "Unit", "benjamini_hochberg", "cluster_correlation", "combine", "holm",
           "mde", "over_seeds", "percentile", "pool_targets", "project", "t_interval"]

ALPHA = 0.05
POWER = 0.8
#: interval methods: ``t`` (default: seeds and targets as the units they are), ``percentile`` (bootstrap)
INTERVALS = ("t", "percentile")

Unit = tuple[float, "np.ndarray | None"]  # (a training seed's value, its sentence-bootstrap replicates or None)


@dataclass
class Estimate:
    """A number with its uncertainty: what it generalises over (``over``), its SE and df (t), the
    interval, a two-sided p-value against 0 and the variance components behind it."""

    value: float | None
    lo: float | None = None
    hi: float | None = None
    se: float | None = None
    df: float | None = None
    p: float | None = None
    over: str = ""  # "training seeds + sentences", "sentences", "targets (random effects)", "these targets", ...
    method: str = "t"
    seeds: int = 0
    targets: int = 0
    per_seed: list[float] = field(default_factory=list)
    components: dict = field(default_factory=dict)  # seed_var, shared_sentence_var, within_sentence_var, tau2, ...
    extra: dict = field(default_factory=dict)  # pooled: tau2, i2, q, signs, per-target values; fixed-target estimand

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def has_interval(self) -> bool:
        return self.lo is not None and self.hi is not None


def t_interval(value: float, se: float, df: float, alpha: float = ALPHA) -> tuple[float, float, float]:
    """(lo, hi, two-sided p against 0) of ``value`` with standard error ``se`` on ``df`` degrees of
    freedom (``inf``: normal)."""
    if not np.isfinite(se) or se < 0:
        return float("nan"), float("nan"), float("nan")
    crit = stats.norm.isf(alpha / 2) if not np.isfinite(df) else stats.t.isf(alpha / 2, df)
    if se == 0:
        return value, value, 0.0 if value != 0 else 1.0
    z = abs(value) / se
    p = 2 * (stats.norm.sf(z) if not np.isfinite(df) else stats.t.sf(z, df))
    return value - crit * se, value + crit * se, float(p)


def _reps(units: list[Unit]) -> np.ndarray | None:
    """[seeds, replicates] of the units' replicates, keeping only replicates finite for every seed
    (a relative drop is undefined in a replicate whose clean F1 is 0)."""
    reps = [r for _, r in units]
    if not reps or any(r is None for r in reps):
        return None
    out = np.stack([np.asarray(r, dtype=np.float64) for r in reps])
    return out[:, np.isfinite(out).all(axis=0)]


def over_seeds(units: list[Unit], alpha: float = ALPHA) -> Estimate:
    """Mean over training seeds of one target's values, with a t interval over seeds that carries
    the sentence-sampling variance shared by the seeds (module docstring).  Degrees of freedom: n - 1
    (the seeds are the units).  A Satterthwaite df, larger when the shared sentence part is large,
    is no safer: it is computed from the same S² as the SE, so a small S² gives a narrow interval
    *and* a small quantile (2 seeds covered 87-90% with it; ``tests/test_inference.py``)."""
    units = [u for u in units if u is not None and u[0] is not None and np.isfinite(u[0])]
    n = len(units)
    if not n:
        return Estimate(None)
    vals = np.array([v for v, _ in units], dtype=np.float64)
    value = float(vals.mean())
    est = Estimate(value, seeds=n, targets=1, per_seed=[float(v) for v in vals])
    reps = _reps(units)
    if reps is not None and reps.shape[1] > 1:
        cov = np.atleast_2d(np.cov(reps))  # [n, n] over replicates
        within = float(np.mean(np.diag(cov)))
        shared = float(np.mean(cov[~np.eye(n, dtype=bool)])) if n > 1 else within
        shared = max(0.0, shared)
    else:
        within = shared = None
    s2 = float(vals.var(ddof=1)) if n > 1 else None
    if s2 is None and shared is None:
        return est  # one seed, no counts: no interval
    seed_part = s2 / n if s2 is not None else 0.0
    se2 = seed_part + (shared or 0.0)
    df = float(n - 1) if n > 1 else float("inf")  # one seed: only the sentence part, estimated from many
    se = float(np.sqrt(se2))
    lo, hi, p = t_interval(value, se, df, alpha)
    est.lo, est.hi, est.se, est.df, est.p = lo, hi, se, float(df), p
    est.over = "training seeds + sentences" if n > 1 else "sentences (one training seed)"
    est.components = {"seed_var": s2, "shared_sentence_var": shared, "within_sentence_var": within,
                      "seed_component": None if s2 is None else max(0.0, s2 - max(0.0, (within or 0) - (shared or 0)))}
    return est


def pool_targets(per_target: dict[str, Estimate], alpha: float = ALPHA, modified: bool = True) -> Estimate:
    """Random-effects mean over targets (DerSimonian-Laird τ², Hartung-Knapp variance, ``t(K-1)``),
    with the fixed-targets estimand ("these targets", the plain mean, each target's own variance) in
    ``extra["fixed"]``.  Targets without an SE are left out and named in ``extra["left_out"]``.
    ``modified``: the Hartung-Knapp variance is never below the plain random-effects variance
    (Knapp & Hartung's ad hoc rule, ``q* = max(1, q)``; Röver, Knapp & Friede 2015 recommend it for
    few studies: unmodified, 4 targets covered 92-94% in the simulation of ``tests/test_inference.py``,
    modified 94-96%)."""
    usable = {t: e for t, e in per_target.items() if e.value is not None and e.se is not None and np.isfinite(e.se)}
    left = sorted(set(per_target) - set(usable))
    k = len(usable)
    if not k:
        vals = [e.value for e in per_target.values() if e.value is not None]
        return Estimate(float(np.mean(vals)) if vals else None, targets=len(vals), extra={"left_out": left})
    names = sorted(usable)
    y = np.array([usable[t].value for t in names], dtype=np.float64)
    v = np.maximum(np.array([usable[t].se ** 2 for t in names], dtype=np.float64), 1e-12)
    signs = {"positive": int((y > 0).sum()), "negative": int((y < 0).sum()), "zero": int((y == 0).sum())}
    seeds = max(e.seeds for e in usable.values())
    fixed = _fixed_targets([usable[t] for t in names], alpha)
    extra = {"per_target": {t: float(usable[t].value) for t in names}, "signs": signs, "left_out": left,
             "fixed": fixed.to_json()}
    if k == 1:
        e = usable[names[0]]
        return Estimate(e.value, e.lo, e.hi, e.se, e.df, e.p, "one target: " + e.over, "t", e.seeds, 1,
                        e.per_seed, e.components, extra)
    w = 1 / v
    mu_fe = float((w * y).sum() / w.sum())
    q = float((w * (y - mu_fe) ** 2).sum())
    c = float(w.sum() - (w ** 2).sum() / w.sum())
    tau2 = max(0.0, (q - (k - 1)) / c) if c > 0 else 0.0
    i2 = max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0
    wr = 1 / (v + tau2)
    mu = float((wr * y).sum() / wr.sum())
    q_hk = float((wr * (y - mu) ** 2).sum() / (k - 1))
    var_hk = (max(1.0, q_hk) if modified else q_hk) / float(wr.sum())
    se = float(np.sqrt(var_hk))
    lo, hi, p = t_interval(mu, se, k - 1, alpha)
    extra.update(tau2=tau2, i2=i2, q=q, hk_scale=q_hk, hk_modified=modified, mean_fixed_effect=mu_fe)
    return Estimate(mu, lo, hi, se, float(k - 1), p, f"targets (random effects, {k} targets)", "t", seeds, k,
                    [], {"tau2": tau2}, extra)


def _fixed_targets(ests: list[Estimate], alpha: float) -> Estimate:
    """The mean over exactly these targets; its variance is each target's (seeds and sentences)
    divided by K², with Satterthwaite degrees of freedom from the targets' own."""
    k = len(ests)
    y = np.array([e.value for e in ests])
    v = np.array([e.se ** 2 for e in ests]) / k ** 2
    se2 = float(v.sum())
    dfs = np.array([e.df if e.df is not None else np.inf for e in ests], dtype=np.float64)
    denom = float(np.sum(np.where(np.isfinite(dfs), v ** 2 / np.where(np.isfinite(dfs), dfs, 1), 0.0)))
    df = se2 ** 2 / denom if denom > 0 else float("inf")
    se = float(np.sqrt(se2))
    lo, hi, p = t_interval(float(y.mean()), se, df, alpha)
    seeds = max(e.seeds for e in ests)
    inside = "seeds and sentences" if seeds > 1 else "sentences (one training seed)"
    return Estimate(float(y.mean()), lo, hi, se, float(df), p, f"these {k} targets ({inside} inside each)",
                    "t", seeds, k)


def percentile(units: list[list[Unit]], seed: int = 0, alpha: float = ALPHA) -> Estimate:
    """The hierarchical percentile bootstrap: in each replicate, targets (outer list, when several)
    and training seeds are drawn with replacement and the replicate's sentence resample is used.
    Kept as a named option; with 3 seeds and 4 targets it is too narrow (``tests/test_inference.py``)."""
    units = [u for u in units if u]
    if not units:
        return Estimate(None, method="percentile")
    value = float(np.mean([np.mean([v for v, _ in u]) for u in units]))
    out = Estimate(value, method="percentile", seeds=max(len(u) for u in units), targets=len(units),
                   over="bootstrap over targets x training seeds x sentences")
    if any(r is None for u in units for _, r in u):
        return out
    n = len(units[0][0][1])
    rng = np.random.default_rng(seed)
    rows = np.arange(n)[:, None]
    per_target = []
    for u in units:
        reps = np.stack([r for _, r in u])  # [seeds, n]
        draw = rng.integers(0, len(u), size=(n, len(u)))
        per_target.append(reps[draw, rows].mean(axis=1))
    pt = np.stack(per_target)  # [targets, n]
    draw = rng.integers(0, len(units), size=(n, len(units)))
    reps = pt[draw, rows].mean(axis=1)
    out.lo = float(np.nanpercentile(reps, 100 * alpha / 2))
    out.hi = float(np.nanpercentile(reps, 100 * (1 - alpha / 2)))
    out.se = float(np.nanstd(reps, ddof=1)) if n > 1 else None
    return out


def combine(units: dict[str, list[Unit]], method: str = "t", seed: int = 0, alpha: float = ALPHA) -> Estimate:
    """The default composition: one target's units over training seeds (:func:`over_seeds`), several
    targets by random effects (:func:`pool_targets`); ``method="percentile"``: :func:`percentile`."""
    units = {t: u for t, u in units.items() if u}
    if method == "percentile":
        return percentile(list(units.values()), seed=seed, alpha=alpha)
    if method != "t":
        raise ValueError(f"interval method is one of {INTERVALS}, got {method!r}")
    if len(units) <= 1:
        return over_seeds(next(iter(units.values()), []), alpha)
    return pool_targets({t: over_seeds(u, alpha) for t, u in units.items()}, alpha)


# -- multiplicity ---------------------------------------------------------------------------------

def holm(p: list[float | None], m: int | None = None) -> list[float | None]:
    """Holm's step-down adjusted p-values (None stays None).  ``m``: the family's size when some of
    its tests could not be computed (they count: a family does not shrink by losing a member)."""
    idx = [i for i, x in enumerate(p) if x is not None and np.isfinite(x)]
    out: list[float | None] = [None] * len(p)
    m = max(len(idx), m or 0)
    order = sorted(idx, key=lambda i: p[i])
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def benjamini_hochberg(p: list[float | None]) -> list[float | None]:
    """Benjamini-Hochberg q-values (step-up; None stays None)."""
    idx = [i for i, x in enumerate(p) if x is not None and np.isfinite(x)]
    out: list[float | None] = [None] * len(p)
    m = len(idx)
    order = sorted(idx, key=lambda i: p[i], reverse=True)
    running = 1.0
    for k, i in enumerate(order):
        rank = m - k
        running = min(running, p[i] * m / rank)
        out[i] = min(1.0, running)
    return out


# -- power ----------------------------------------------------------------------------------------

def mde(se: float | None, df: float | None, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest true effect a two-sided test at ``alpha`` detects with probability ``power``, for
    an estimate with standard error ``se`` on ``df`` degrees of freedom: solved exactly with the
    noncentral t (normal when df is infinite); ``(t(1-α/2) + t(power)) x SE`` falls short at few df."""
    if se is None or not np.isfinite(se) or se <= 0:
        return None
    d = df if df is not None and np.isfinite(df) and df > 0 else None
    if d is None:
        return float((stats.norm.isf(alpha / 2) + stats.norm.ppf(power)) * se)
    from scipy.optimize import brentq

    crit = stats.t.isf(alpha / 2, d)

    def shortfall(delta: float) -> float:
        upper = stats.nct.sf(crit, d, delta)
        lower = stats.nct.cdf(-crit, d, delta)  # the wrong tail: ~0, and NaN far out in scipy's nct
        return (upper if np.isfinite(upper) else 1.0) + (lower if np.isfinite(lower) else 0.0) - power

    hi = crit + stats.norm.ppf(power) + 10.0
    while shortfall(hi) < 0:
        hi *= 2
    return float(brentq(shortfall, 0.0, hi, xtol=1e-10) * se)


def project(components: dict, seeds: int, targets: int = 1, sentences_ratio: float = 1.0,
            alpha: float = ALPHA, power: float = POWER) -> dict:
    """The SE, df and MDE of a mean over ``targets`` targets of ``seeds`` training seeds each, on test
    sets ``sentences_ratio`` times the pilot's, from the pilot's variance components: ``seed``
    (between-seed variance beyond sentence noise), ``within`` and ``shared`` (sentence-sampling
    variance of one seed's value, and the part seeds share), ``tau2`` (between-target variance)."""
    seed = max(0.0, components.get("seed") or 0.0)
    within = max(0.0, components.get("within") or 0.0) / sentences_ratio
    shared = min(max(0.0, components.get("shared") or 0.0) / sentences_ratio, within)
    tau2 = max(0.0, components.get("tau2") or 0.0)
    per_target = (seed + within - shared) / seeds + shared
    se2 = (per_target + (tau2 if targets > 1 else 0.0)) / targets
    seed_part = (seed + within - shared) / seeds / targets
    if targets > 1:
        df = float(targets - 1)
    elif seeds > 1 and seed_part > 0:
        df = se2 ** 2 / (seed_part ** 2 / (seeds - 1))
    else:
        df = float("inf")
    se = float(np.sqrt(se2))
    return {"seeds": seeds, "targets": targets, "sentences_ratio": sentences_ratio, "se": se, "df": df,
            "mde": mde(se, df, alpha, power)}


# -- correlations ---------------------------------------------------------------------------------

def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 3 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def cluster_correlation(x: np.ndarray, y: np.ndarray, clusters: list, n: int = 2000, seed: int = 0,
                        alpha: float = ALPHA) -> dict:
    """Pearson and Spearman over points, with percentile intervals from a bootstrap that draws whole
    clusters (targets: the points of one target share its test set) with replacement."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    lab = np.asarray([str(c) for c in clusters])
    names = sorted(set(lab.tolist()))
    out = {"n": int(x.size), "clusters": len(names), "pearson": _pearson(x, y),
           "spearman": _pearson(stats.rankdata(x), stats.rankdata(y)) if x.size >= 3 else float("nan")}
    if len(names) < 3 or x.size < 4:
        out["note"] = f"no interval: {len(names)} cluster(s); a cluster bootstrap needs at least 3"
        return out
    members = [np.flatnonzero(lab == c) for c in names]
    rng = np.random.default_rng(seed)
    pr, sr = [], []
    for _ in range(n):
        idx = np.concatenate([members[j] for j in rng.integers(0, len(names), len(names))])
        xs, ys = x[idx], y[idx]
        pr.append(_pearson(xs, ys))
        sr.append(_pearson(stats.rankdata(xs), stats.rankdata(ys)))
    for name, vals in (("pearson", np.array(pr)), ("spearman", np.array(sr))):
        vals = vals[np.isfinite(vals)]
        out[f"{name}_ci"] = [float(np.percentile(vals, 100 * alpha / 2)), float(np.percentile(vals, 100 * (1 - alpha / 2)))] \
            if vals.size else None
    out["distinct_resamples"] = _multisets(len(names))
    return out


def _multisets(k: int) -> int:
    """Distinct cluster resamples of k clusters: C(2k-1, k)."""
    from math import comb

    return comb(2 * k - 1, k)
