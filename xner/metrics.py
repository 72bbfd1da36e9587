"""Entity-level precision / recall / F1, identical to seqeval, with a numba core.

Two modes, as in seqeval 1.2.2:

* ``default`` (conlleval semantics, seqeval's ``mode=None``): a chunk starts at ``B-X``, at an
  ``I-X`` after ``O`` or after another type; a stray ``I-X`` therefore opens a chunk.  ``E-``/``S-``
  tags are read too, with seqeval's rules (:mod:`xner.schemes`).
* ``strict`` (seqeval's ``mode='strict', scheme=...``): ``IOB2`` (the default: a chunk is
  ``B-X I-X*``; a stray ``I-X`` is not an entity), ``IOBES`` or ``BILOU``.

IOB2 tag ids (the corpus layout) take the fast path; other schemes use the four-slot layout of
:class:`~xner.schemes.SchemeLabels`.  Entities never cross sentence boundaries.  Counts are kept
per sentence and type so the bootstrap can resample sentences without re-extracting chunks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numba
import numpy as np

from .corpus import Corpus
from .corpus import extract_chunks as _lazy_extract_chunks
from .errors import XnerError
from .schemes import SCHEMES, SchemeLabels, extract_chunks_scheme, scoring_labels

MODES = ("default", "strict")

# ``corpus.extract_chunks`` is compiled lazily (a plain Python wrapper numba cannot call); the kernels
# below call a dispatcher of the same function.
extract_chunks = numba.njit(cache=True)(_lazy_extract_chunks.py_func)


@numba.njit(cache=True)
def _match(g: np.ndarray, p: np.ndarray, n_sents: int, n_types: int) -> np.ndarray:
    """int32[n_sents, n_types, 3]: (true positives, predicted, gold) per sentence and type."""
    out = np.zeros((n_sents, n_types, 3), dtype=np.int32)
    for r in range(g.shape[0]):
        out[g[r, 0], g[r, 3], 2] += 1
    for r in range(p.shape[0]):
        out[p[r, 0], p[r, 3], 1] += 1
    # both lists are sorted by start and chunks of one list never share a start
    a = 0
    b = 0
    while a < g.shape[0] and b < p.shape[0]:
        if g[a, 1] < p[b, 1]:
            a += 1
        elif g[a, 1] > p[b, 1]:
            b += 1
        else:
            if g[a, 2] == p[b, 2] and g[a, 3] == p[b, 3]:
                out[g[a, 0], g[a, 3], 0] += 1
            a += 1
            b += 1
    return out


@numba.njit(cache=True)
def _sentence_counts(gold: np.ndarray, pred: np.ndarray, offsets: np.ndarray, n_types: int,
                     strict: bool) -> np.ndarray:
    """IOB2 tag ids: int32[n_sents, n_types, 3] of (true positives, predicted, gold)."""
    return _match(extract_chunks(gold, offsets, strict), extract_chunks(pred, offsets, strict),
                  offsets.shape[0] - 1, n_types)


@numba.njit(cache=True)
def _sentence_counts_scheme(gold: np.ndarray, pred: np.ndarray, offsets: np.ndarray, n_types: int,
                            strict: bool) -> np.ndarray:
    """The same for four-slot (IOBES / BILOU) tag ids."""
    return _match(extract_chunks_scheme(gold, offsets, strict), extract_chunks_scheme(pred, offsets, strict),
                  offsets.shape[0] - 1, n_types)


def _prf(tp: np.ndarray, npred: np.ndarray, ngold: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """seqeval's arithmetic: 0 where a denominator is 0, F1 from P and R."""
    tp = tp.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(npred > 0, tp / np.maximum(npred, 1), 0.0)
        r = np.where(ngold > 0, tp / np.maximum(ngold, 1), 0.0)
        denom = p + r
        f = np.where(denom > 0, 2 * p * r / np.where(denom > 0, denom, 1.0), 0.0)
    return p, r, f


@dataclass
class TypeScore:
    precision: float
    recall: float
    f1: float
    support: int  # gold entities
    predicted: int
    correct: int


@dataclass
class Scores:
    """Micro scores, per-type scores (types sorted by name, as seqeval), optional intervals."""

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int
    correct: int
    per_type: dict[str, TypeScore]
    mode: str = "default"
    scheme: str | None = None  # strict mode's scheme (IOB2, IOBES or BILOU)
    n_sentences: int = 0
    n_tokens: int = 0
    ci: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict:
        d = asdict(self)
        return d


def _resample_weights(m: int, n: int, seed: int):
    """Batches of sentence-resample weights (float64[b, m], each row a bootstrap sample's counts)."""
    rng = np.random.default_rng(seed)
    batch = max(1, min(n, 2_000_000 // max(m, 1)))
    done = 0
    while done < n:
        b = min(batch, n - done)
        idx = rng.integers(0, m, size=(b, m))
        w = np.zeros((b, m), dtype=np.float64)
        np.add.at(w, (np.repeat(np.arange(b), m), idx.ravel()), 1.0)
        yield w
        done += b


class EntityCounts:
    """Per-sentence, per-type counts for a (gold, pred) pair; the basis of scores and bootstrap.

    ``scheme`` says how the tag ids are laid out: ``IOB2`` (the corpus layout), or ``IOBES`` /
    ``BILOU`` (the four-slot layout of :class:`~xner.schemes.SchemeLabels`; ``default`` mode reads
    ``B``/``I``/``E``/``S`` in it, as seqeval does, and refuses ``BILOU``).  In ``strict`` mode it is
    also the scheme whose chunks count.
    """

    def __init__(self, gold: np.ndarray, pred: np.ndarray, offsets: np.ndarray, types: list[str], mode: str = "default",
                 scheme: str = "IOB2"):
        if mode not in MODES:
            raise XnerError(f"unknown scoring mode {mode!r}; choose default or strict")
        if scheme not in SCHEMES:
            raise XnerError(f"unknown tagging scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
        if scheme == "BILOU" and mode == "default":
            raise XnerError("seqeval's default mode does not read BILOU (L-/U-) tags; use strict mode")
        gold = np.ascontiguousarray(gold, dtype=np.int8)
        pred = np.ascontiguousarray(pred, dtype=np.int8)
        if gold.shape != pred.shape:
            raise XnerError(f"gold has {gold.size} tokens, prediction {pred.size}")
        self.types = list(types)
        self.mode = mode
        self.scheme = scheme
        self.n_tokens = int(gold.size)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        kernel = _sentence_counts if scheme == "IOB2" else _sentence_counts_scheme
        self.counts = kernel(gold, pred, offsets, max(len(types), 1), mode == "strict")

    @property
    def n_sentences(self) -> int:
        return self.counts.shape[0]

    def totals(self, weights: np.ndarray | None = None) -> np.ndarray:
        c = self.counts.reshape(self.counts.shape[0], -1)
        tot = c.sum(axis=0) if weights is None else weights @ c
        return tot.reshape(-1, 3)

    def scores(self) -> Scores:
        tot = self.totals()
        present = (tot[:, 1] + tot[:, 2]) > 0  # seqeval reports types seen in gold or prediction
        p, r, f = _prf(tot[:, 0], tot[:, 1], tot[:, 2])
        per_type = {}
        for k in sorted(np.flatnonzero(present[: len(self.types)]), key=lambda k: self.types[k]):
            per_type[self.types[k]] = TypeScore(float(p[k]), float(r[k]), float(f[k]), int(tot[k, 2]),
                                                int(tot[k, 1]), int(tot[k, 0]))
        s = tot.sum(axis=0)
        mp, mr, mf = _prf(s[0:1], s[1:2], s[2:3])
        return Scores(float(mp[0]), float(mr[0]), float(mf[0]), int(s[2]), int(s[1]), int(s[0]), per_type,
                      self.mode, self.scheme if self.mode == "strict" else None, self.n_sentences, self.n_tokens)

    def bootstrap(self, n: int = 1000, seed: int = 0, alpha: float = 0.05) -> dict[str, list[float]]:
        """Percentile intervals over sentence resamples for micro P/R/F1 and each type's F1."""
        if n <= 0:
            return {}
        m = self.n_sentences
        flat = self.counts.reshape(m, -1).astype(np.float64)
        stats = {"precision": [], "recall": [], "f1": []}
        type_f1: list[np.ndarray] = []
        for w in _resample_weights(m, n, seed):
            tot = (w @ flat).reshape(w.shape[0], -1, 3)
            p, r, f = _prf(tot[..., 0], tot[..., 1], tot[..., 2])
            s = tot.sum(axis=1)
            mp, mr, mf = _prf(s[:, 0], s[:, 1], s[:, 2])
            stats["precision"].append(mp)
            stats["recall"].append(mr)
            stats["f1"].append(mf)
            type_f1.append(f)
        lo, hi = 100 * alpha / 2, 100 * (1 - alpha / 2)
        out = {k: [float(np.percentile(np.concatenate(v), lo)), float(np.percentile(np.concatenate(v), hi))]
               for k, v in stats.items()}
        tf = np.concatenate(type_f1)
        for k, t in enumerate(self.types):
            out[f"f1_{t}"] = [float(np.percentile(tf[:, k], lo)), float(np.percentile(tf[:, k], hi))]
        return out


def score_arrays(gold: np.ndarray, pred: np.ndarray, offsets: np.ndarray, types: list[str], mode: str = "default",
                 bootstrap: int = 0, seed: int = 0, alpha: float = 0.05, scheme: str = "IOB2") -> Scores:
    """Score tag-id arrays; ``scheme`` is their layout (see :class:`EntityCounts`)."""
    counts = EntityCounts(gold, pred, offsets, types, mode, scheme)
    s = counts.scores()
    if bootstrap:
        s.ci = counts.bootstrap(bootstrap, seed, alpha)
    return s


def score(gold: Corpus, pred: Corpus | np.ndarray, mode: str = "default", bootstrap: int = 0, seed: int = 0,
          alpha: float = 0.05) -> Scores:
    """Score predictions against a gold corpus; ``pred`` is a corpus over the same tokens or a tag-id array.

    Corpora read for scoring in another scheme (:class:`~xner.schemes.SchemeLabels`, as
    ``load_aligned`` returns them for E-/S-/L-/U- tags) are scored in that scheme."""
    if isinstance(pred, Corpus):
        if not np.array_equal(pred.offsets, gold.offsets):
            raise XnerError("gold and prediction have different sentence lengths")
        ptags = pred.tags if pred.labels == gold.labels else pred.labels.remap_to(gold.labels)[pred.tags]
    else:
        ptags = pred
    scheme = gold.labels.scheme if isinstance(gold.labels, SchemeLabels) else "IOB2"
    return score_arrays(gold.tags, ptags, gold.offsets, gold.labels.types, mode, bootstrap, seed, alpha, scheme)


def encode_tag_lists(seqs: list[list[str]], labels) -> tuple[np.ndarray, np.ndarray]:
    """Tag-string lists -> (int8 tag ids, offsets), interning each distinct tag once."""
    from itertools import chain

    table: dict[str, int] = {}

    def enc(t: str) -> int:
        i = table.get(t)
        if i is None:
            try:
                i = table[t] = labels.encode(t)
            except (KeyError, ValueError) as e:
                raise XnerError(f"bad tag {t!r}: {e}") from None
        return i

    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tags = np.fromiter(map(enc, chain.from_iterable(seqs)), dtype=np.int8, count=int(offsets[-1]))
    return tags, offsets


def score_lists(y_true: list[list[str]], y_pred: list[list[str]], mode: str = "default", bootstrap: int = 0,
                seed: int = 0, scheme: str | None = None) -> Scores:
    """seqeval-style entry point: lists of tag-string lists in, the same numbers out.

    ``default`` mode reads ``B-``, ``I-``, ``E-`` and ``S-`` tags (seqeval's ``mode=None``);
    ``strict`` mode reads ``scheme`` (``IOB2`` unless given; ``IOBES`` or ``BILOU``)."""
    labels = scoring_labels(mode, scheme)
    g, og = encode_tag_lists(y_true, labels)
    p, op = encode_tag_lists(y_pred, labels)
    if not np.array_equal(og, op):
        raise XnerError("y_true and y_pred differ in sentence count or lengths")
    if labels.fits_iob2:  # the fast path: IOB2 ids
        table = labels.iob2_table()
        return score_arrays(table[g], table[p], og, labels.types, mode, bootstrap, seed, scheme="IOB2")
    return score_arrays(g, p, og, labels.types, mode, bootstrap, seed, scheme=labels.scheme)


def paired_bootstrap(a: EntityCounts, b: EntityCounts, n: int = 1000, seed: int = 0,
                     alpha: float = 0.05) -> dict[str, list[float]]:
    """Percentile intervals of F1(b) and F1(b) - F1(a) over the same sentence resamples.

    ``a`` and ``b`` must count the same sentences (e.g. a clean test set and its perturbed copy).
    """
    if a.n_sentences != b.n_sentences:
        raise XnerError("paired bootstrap needs the same sentences on both sides")
    if n <= 0 or a.n_sentences == 0:
        return {}
    m = a.n_sentences
    fa = a.counts.reshape(m, -1).astype(np.float64)
    fb = b.counts.reshape(m, -1).astype(np.float64)
    f1b, delta = [], []
    for w in _resample_weights(m, n, seed):
        out = []
        for f in (fa, fb):
            s = (w @ f).reshape(w.shape[0], -1, 3).sum(1)
            out.append(_prf(s[:, 0], s[:, 1], s[:, 2])[2])
        f1b.append(out[1])
        delta.append(out[1] - out[0])
    lo, hi = 100 * alpha / 2, 100 * (1 - alpha / 2)
    f1b_a, d_a = np.concatenate(f1b), np.concatenate(delta)
    return {"f1": [float(np.percentile(f1b_a, lo)), float(np.percentile(f1b_a, hi))],
            "delta_f1": [float(np.percentile(d_a, lo)), float(np.percentile(d_a, hi))]}
