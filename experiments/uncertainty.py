"""Intervals over sentences, training seeds and targets, from per-sentence counts.

Every cell keeps its per-sentence, per-type (true positives, predicted, gold) counts — the
intermediate result of :class:`xner.metrics.EntityCounts` — packed as a compressed ``.npy``
(:func:`pack_counts`) in the results store beside its row.  From them the report recomputes any
F1 on resampled sentences without touching a model:

* :class:`Resampler` draws, for each test set (named by its content hash), one fixed set of
  sentence-resample weights; every cell scored on that test set is resampled with the same weights,
  so ΔF1 (perturbed - clean of one model) and contrasts (ΔF1 of one setting - ΔF1 of another, on the
  same sentences) are paired, as :func:`xner.metrics.paired_bootstrap` pairs one cell.
* The inference layer (:mod:`.inference`) turns a condition's per-seed values and their
  replicates into intervals, p-values and pooled estimates.

Micro F1 from totals is seqeval's arithmetic: ``2 tp / (predicted + gold)``, 0 when both are 0.
"""

from __future__ import annotations

import io
import zlib

import numpy as np

__all__ = ["Resampler", "micro_f1", "pack_counts", "unpack_counts"]


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

    def __init__(self, n: int = 2000, seed: int = 0, keep: int = 4):
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
