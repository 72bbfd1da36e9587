"""Intervals over sentences, training seeds and targets, from per-sentence counts.

Every cell keeps its per-sentence, per-type (true positives, predicted, gold) counts — the
intermediate result of :class:`xner.metrics.EntityCounts` — packed as a compressed ``.npy``
(:func:`pack_counts`) in the results store beside its row.  From them the report recomputes any
F1 on resampled sentences without touching a model:

* :class:`Resampler` draws, for each test set (named by its content hash), one fixed set of
  sentence-resample weights; every cell scored on that test set is resampled with the same weights,
  so ΔF1 (perturbed - clean of one model) and contrasts (ΔF1 of one setting - ΔF1 of another, on the
  same sentences) are paired, as :func:`xner.metrics.paired_bootstrap` pairs one cell.
* :func:`hierarchical` combines replicates: for each bootstrap replicate it draws targets (when
  pooled) and training seeds with replacement and averages that replicate's values, giving a
  percentile interval that covers sentence, training-seed and target variation together.

Micro F1 from totals is seqeval's arithmetic: ``2 tp / (predicted + gold)``, 0 when both are 0.
"""

from __future__ import annotations

import io
import zlib

import numpy as np

__all__ = ["Resampler", "hierarchical", "micro_f1", "pack_counts", "unpack_counts"]


def pack_counts(counts: np.ndarray) -> bytes:
    """int counts [sentences, types, 3] -> zlib-compressed ``.npy`` bytes in the smallest unsigned dtype."""
    c = np.asarray(counts)
    top = int(c.max()) if c.size else 0
    dt = np.uint8 if top < 1 << 8 else np.uint16 if top < 1 << 16 else np.uint32
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(c, dtype=dt), allow_pickle=False)
    return zlib.compress(buf.getvalue(), 6)


def unpack_counts(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(zlib.decompress(blob)), allow_pickle=False)


def micro_f1(totals: np.ndarray) -> np.ndarray:
    """Micro F1 of totals [..., 3] = (true positives, predicted, gold)."""
    t = np.asarray(totals, dtype=np.float64)
    denom = t[..., 1] + t[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, 2 * t[..., 0] / np.where(denom > 0, denom, 1.0), 0.0)


class Resampler:
    """Bootstrap replicates of F1 over sentences, with one set of weights per test set."""

    def __init__(self, n: int = 1000, seed: int = 0, keep: int = 4):
        self.n = max(1, int(n))
        self.seed = int(seed)
        self.keep = keep
        self._weights: dict[tuple[str, int], np.ndarray] = {}

    def weights(self, test_id: str, m: int) -> np.ndarray:
        """float32 [n, m]: how often each sentence is drawn in each replicate."""
        key = (test_id, m)
        w = self._weights.get(key)
        if w is None:
            if len(self._weights) >= self.keep:
                self._weights.pop(next(iter(self._weights)))
            tid = int(test_id[:12], 16) if all(c in "0123456789abcdef" for c in test_id[:12]) and test_id else \
                int.from_bytes(test_id.encode()[:8].ljust(8, b"\0"), "little")
            rng = np.random.default_rng([self.seed, tid, m])
            idx = rng.integers(0, m, size=(self.n, m)) if m else np.zeros((self.n, 0), np.int64)
            flat = (np.arange(self.n, dtype=np.int64)[:, None] * m + idx).ravel()
            w = np.bincount(flat, minlength=self.n * m).reshape(self.n, m).astype(np.float32)
            self._weights[key] = w
        return w

    def f1(self, test_id: str, counts: np.ndarray) -> tuple[float, np.ndarray]:
        """(F1 of the test set, F1 of each replicate) for counts [sentences, types, 3]."""
        m = counts.shape[0]
        tot = counts.reshape(m, -1, 3).sum(axis=1).astype(np.float32)  # micro F1 needs totals over types
        reps = micro_f1(self.weights(test_id, m) @ tot)
        return float(micro_f1(tot.sum(axis=0))), reps


def hierarchical(units: list[list[tuple[float, np.ndarray | None]]], seed: int = 0, alpha: float = 0.05) -> dict:
    """Mean over targets (outer list) of the mean over training seeds (inner lists) of values, each
    with its bootstrap replicates over sentences; the interval resamples targets (when more than one)
    and seeds with replacement inside each replicate.  Without replicates, no interval."""
    units = [u for u in units if u]
    if not units:
        return {"value": None, "lo": None, "hi": None, "targets": 0, "seeds": 0}
    value = float(np.mean([np.mean([v for v, _ in u]) for u in units]))
    out = {"value": value, "lo": None, "hi": None, "targets": len(units), "seeds": max(len(u) for u in units)}
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
    out["lo"] = float(np.percentile(reps, 100 * alpha / 2))
    out["hi"] = float(np.percentile(reps, 100 * (1 - alpha / 2)))
    return out
