"""Statistics over results: Pearson and Spearman correlations with percentile bootstrap intervals.

(Intervals of F1 itself, and of F1 change, come from :mod:`xner.metrics`: a matrix product over
resampled sentence weights, with no re-scoring.)
"""

from __future__ import annotations

import numpy as np

__all__ = ["correlation", "pearson", "percentile_interval", "spearman"]


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 3 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks from 0, ties given their average rank."""
    order = np.argsort(a, kind="stable")
    r = np.empty(a.size)
    r[order] = np.arange(a.size)
    _, inv, counts = np.unique(a, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=r)
    return sums[inv] / counts[inv]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    return pearson(_ranks(x), _ranks(y))


def percentile_interval(values: np.ndarray, alpha: float = 0.05) -> list[float] | None:
    """The central ``1 - alpha`` percentile interval of the finite values (None if there are none)."""
    values = values[np.isfinite(values)]
    if not values.size:
        return None
    return [float(np.percentile(values, 100 * alpha / 2)), float(np.percentile(values, 100 * (1 - alpha / 2)))]


def correlation(x: np.ndarray, y: np.ndarray, n: int = 1000, seed: int = 0) -> dict:
    """Pearson and Spearman with percentile bootstrap intervals over the (x, y) pairs."""
    rng = np.random.default_rng(seed)
    out = {"n": int(x.size), "pearson": pearson(x, y), "spearman": spearman(x, y)}
    if x.size >= 4:
        for name, f in (("pearson", pearson), ("spearman", spearman)):
            vals = []
            for _ in range(n):
                i = rng.integers(0, x.size, x.size)
                vals.append(f(x[i], y[i]))
            out[f"{name}_ci"] = percentile_interval(np.array(vals))
    return out
