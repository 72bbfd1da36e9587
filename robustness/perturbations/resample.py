"""Srinivasan & Vajjala's mention resampling (``entity_resample``), as they defined it, and xner's
former variant as an option.

``method="sv"`` (default): every mention (``rate=None``) takes another mention of the same type from
the same test set, of the same length when possible, that does not already occur in its sentence,
without replacement (a donor donates once; only when none is left may one donate again), in corpus
order with the donors in an order keyed by the seed (their script drew in list order, with a random
fallback).  ``method="shift"`` (xner's former): a cyclic shift inside each (type, length) group.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numba
import numpy as np

from xner.corpus import Corpus
from xner.errors import XnerError
from xner.overlap import chunk_keys

from .. import kernels as K
from .base import Perturbation, State, register
from .entity import chunk_replace

__all__ = ["RESAMPLE_METHODS", "Donors", "EntityResample", "ResampleState", "sv_donors"]

RESAMPLE_METHODS = ("sv", "shift")


@numba.njit(cache=True)
def _contains(words, a, b, d0, d1):
    """Whether words[d0:d1] occurs as a contiguous run inside words[a:b]."""
    n = d1 - d0
    for i in range(a, b - n + 1):
        ok = True
        for k in range(n):
            if words[i + k] != words[d0 + k]:
                ok = False
                break
        if ok:
            return True
    return False


@numba.njit(cache=True)
def _fits(d, r, chunks, words, offsets, surface, taken, n_taken):
    if surface[d] == surface[r]:
        return False
    for k in range(n_taken):  # a surface already given to this sentence
        if surface[taken[k]] == surface[d]:
            return False
    s = chunks[r, 0]
    return not _contains(words, offsets[s], offsets[s + 1], chunks[d, 1], chunks[d, 2])


@numba.njit(cache=True)
def sv_donors(chunks, words, offsets, surface, recipient, gl_of, gl_order, gl_start, gl_end, t_order, t_start,
              t_end):
    """Srinivasan & Vajjala's resampling: every recipient chunk, in corpus order, takes the first donor
    of its (type, length) group, in the groups' keyed order, that is unused, has another surface and
    does not occur in the recipient's sentence (nor was given to it already); else the first such
    donor of its type of any length; else a used one (with replacement); -1 when none fits."""
    n = chunks.shape[0]
    donor = np.full(n, -1, dtype=np.int64)
    used = np.zeros(n, dtype=np.bool_)
    gl_head = gl_start.copy()
    t_head = t_start.copy()
    taken = np.empty(64, dtype=np.int64)
    n_taken = 0
    cur = -1
    for r in range(n):
        if chunks[r, 0] != cur:
            cur = chunks[r, 0]
            n_taken = 0
        if not recipient[r]:
            continue
        g = gl_of[r]
        t = chunks[r, 3]
        while gl_head[g] < gl_end[g] and used[gl_order[gl_head[g]]]:
            gl_head[g] += 1
        while t_head[t] < t_end[t] and used[t_order[t_head[t]]]:
            t_head[t] += 1
        best = -1
        for j in range(gl_head[g], gl_end[g]):
            d = gl_order[j]
            if not used[d] and _fits(d, r, chunks, words, offsets, surface, taken, n_taken):
                best = d
                break
        if best < 0:
            for j in range(t_head[t], t_end[t]):
                d = t_order[j]
                if not used[d] and _fits(d, r, chunks, words, offsets, surface, taken, n_taken):
                    best = d
                    break
        if best < 0:
            for j in range(t_start[t], t_end[t]):
                d = t_order[j]
                if _fits(d, r, chunks, words, offsets, surface, taken, n_taken):
                    best = d
                    break
        if best >= 0:
            donor[r] = best
            used[best] = True
            if n_taken < 64:
                taken[n_taken] = best
                n_taken += 1
    return donor


def _chunk_ids(corpus: Corpus, chunks: np.ndarray) -> np.ndarray:
    """A global id per chunk: (sentence id, position inside the sentence)."""
    local = chunks[:, 1] - corpus.offsets[chunks[:, 0]]
    return corpus.sentence_ids[chunks[:, 0]] * 100_000 + local


def _groups(values: np.ndarray, keys: np.ndarray, n_groups: int):
    """Members sorted by (group, key): (order, start per group, end per group)."""
    order = np.lexsort((np.arange(values.size), keys, values))
    counts = np.bincount(values, minlength=n_groups)
    end = np.cumsum(counts)
    return order.astype(np.int64), (end - counts).astype(np.int64), end.astype(np.int64)


@dataclass
class Donors:
    """One seed's donors: the chunks that have one (sorted global ids) and the donated words."""

    keys: np.ndarray
    start: np.ndarray
    end: np.ndarray
    words: np.ndarray
    p: float
    reused: int = 0  # recipients served by a donor that had donated already


@dataclass
class ResampleState(State):
    corpus: Corpus  # the whole prepared corpus: donors are its chunks
    chunks: np.ndarray
    ids: np.ndarray  # global chunk ids
    allowed: np.ndarray  # chunks the constraints let be edited
    surface: np.ndarray
    seeds: dict[int, Donors] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@register
class EntityResample(Perturbation[ResampleState]):
    """Each mention -> another same-type mention of the same test set (Srinivasan & Vajjala): by
    default every mention, length-matched when possible, not already in its sentence, without
    replacement (``method="sv"``); ``method="shift"`` is xner's former cyclic shift.  Donors depend
    on the seed."""

    name = "entity_resample"
    defaults = {"rate": None, "method": "sv"}
    origin = ("srinivasan-vajjala", 1)

    def _prepare(self, scope, eligible):
        if self.params["method"] not in RESAMPLE_METHODS:
            raise XnerError(f"entity_resample: method is one of {', '.join(RESAMPLE_METHODS)}")
        # donors depend on the seed, which ``prepare`` does not get: they are drawn (once per seed, on
        # the whole corpus, so that batches agree with the whole) by the first ``_apply`` that needs them
        corpus, chunks = scope.corpus, scope.chunks
        return ResampleState(corpus=corpus, chunks=chunks, ids=_chunk_ids(corpus, chunks), allowed=eligible,
                             surface=chunk_keys(corpus.words.astype(np.int64), chunks, False))

    def _donors(self, st: ResampleState, seed: int) -> Donors:
        with st.lock:
            if seed not in st.seeds:
                if len(st.seeds) >= 8:
                    st.seeds.clear()
                st.seeds[seed] = self._draw(st, seed)
            return st.seeds[seed]

    def _assign(self, st: ResampleState, seed: int) -> np.ndarray:
        chunks, ids = st.chunks, st.ids
        lengths = chunks[:, 2] - chunks[:, 1]
        if self.params["method"] == "shift":
            return K.shift_donors([np.stack([chunks[:, 3], lengths], 1), chunks[:, 3]], ids, seed, self.key)
        if not chunks.shape[0]:
            return np.zeros(0, np.int64)
        keys = K.uniforms(seed, self.key, ids.astype(np.int64), 99991)
        gl = np.unique(np.stack([chunks[:, 3], lengths], 1), axis=0, return_inverse=True)[1].ravel().astype(np.int64)
        gl_order, gl_start, gl_end = _groups(gl, keys, int(gl.max()) + 1)
        types = chunks[:, 3].astype(np.int64)
        t_order, t_start, t_end = _groups(types, keys, int(types.max()) + 1)
        return sv_donors(chunks, st.corpus.words, st.corpus.offsets, st.surface, st.allowed, gl, gl_order, gl_start,
                         gl_end, t_order, t_start, t_end)

    def _draw(self, st: ResampleState, seed: int) -> Donors:
        chunks, ids, surf, words = st.chunks, st.ids, st.surface, st.corpus.words
        donor = self._assign(st, seed)
        has = (donor >= 0) & (surf[np.maximum(donor, 0)] != surf)
        # donors are words of this corpus: keep them as word ids (batches share the vocabulary)
        order = np.argsort(ids[has])
        d = donor[has][order]
        lengths = chunks[d, 2] - chunks[d, 1]
        ends = np.cumsum(lengths)
        spans = zip(chunks[d, 1].tolist(), chunks[d, 2].tolist(), strict=True)
        return Donors(keys=ids[has][order], start=ends - lengths, end=ends,
                      words=np.concatenate([words[a:b] for a, b in spans]) if d.size else np.zeros(0, np.int32),
                      p=self.probability(chunks.shape[0], int((has & st.allowed).sum())),
                      reused=int(d.size - np.unique(d).size))

    def _apply(self, scope, eligible, seed, st):
        corpus = scope.corpus
        if corpus.vocab is not st.corpus.vocab:
            raise XnerError("entity_resample: state prepared on another vocabulary")
        dn = self._donors(st, seed)
        chunks = scope.chunks
        ids = _chunk_ids(corpus, chunks)
        pos = np.searchsorted(dn.keys, ids)
        pos_c = np.minimum(pos, max(dn.keys.size - 1, 0))
        has = (dn.keys[pos_c] == ids) if dn.keys.size else np.zeros(ids.size, bool)
        # one Bernoulli draw per chunk, keyed by the chunk's global id (each chunk as a one-unit "sentence")
        take = K.select_tokens(np.ones(chunks.shape[0], np.bool_), np.arange(chunks.shape[0] + 1), ids, dn.p,
                               seed, self.key)
        chosen = np.where(take & has & eligible, pos_c, -1)
        out = chunk_replace(corpus, scope.prev, chunks, chosen, corpus.vocab, dn.start, dn.end, dn.words)
        out.stats.update(eligible=int((has & eligible).sum()), probability=dn.p, method=self.params["method"],
                         donors_reused=dn.reused)
        return out
