"""Entity perturbations: chunks replaced by other chunks (any length, re-emitted as ``B-X I-X ...``).

The reference study's P1 (``entity_swap_shared``), P4 (``name_swap``) and P5 (``place_swap``), and
Srinivasan & Vajjala's mention resampling (``entity_resample``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from xner.corpus import Corpus, WordVocab
from xner.errors import XnerError
from xner.overlap import chunk_keys

from .. import kernels as K
from ..pools import resolve_pool
from .base import Perturbation, Perturbed, State, register
from .constraints import Constraint, EntityTokens, SharedWithTraining

__all__ = ["EntityResample", "EntitySwapShared", "NameSwap", "PlaceSwap", "PoolState", "ResampleState",
           "SharedSwapState"]


def _intern_items(vocab: WordVocab, items: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item_start, item_end, pool_words) with strings added to ``vocab``."""
    lengths = np.fromiter((len(x) for x in items), dtype=np.int64, count=len(items))
    off = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(lengths, out=off[1:])
    words = vocab.add_many(w for x in items for w in x)
    return off[:-1].copy(), off[1:].copy(), words


def _chunk_replace(corpus: Corpus, prev: np.ndarray, chunks: np.ndarray, chosen: np.ndarray, vocab: WordVocab,
                   item_start: np.ndarray, item_end: np.ndarray, pool_words: np.ndarray) -> Perturbed:
    nw, nt, noff, fresh, carried = K.replace_chunks(corpus.words, corpus.tags, corpus.offsets, prev, chunks,
                                                    chosen, item_start, item_end, pool_words)
    c = replace(corpus, words=nw, tags=nt, offsets=noff, vocab=vocab, columns=None, meta=dict(corpus.meta))
    return Perturbed(c, fresh | carried, {}, carried)


def _type_pool_replace(pert: Perturbation, corpus: Corpus, seed: int, prev: np.ndarray,
                       items_by_type: dict[int, list[list[str]]], eligible: np.ndarray, chunks: np.ndarray,
                       p: float) -> Perturbed:
    """Replace eligible chunks, each with probability ``p``, by random items of their type's pool."""
    vocab = corpus.vocab.copy()
    items, types = [], []
    for t, its in sorted(items_by_type.items()):
        items += its
        types += [t] * len(its)
    if not items:
        return Perturbed(corpus, prev.copy(), {"eligible": int(eligible.sum())}, prev.copy())
    s, e, pw = _intern_items(vocab, items)
    types_a = np.asarray(types, dtype=np.int64)
    counts = np.bincount(types_a, minlength=len(corpus.labels.types)).astype(np.int64)
    gstart = np.zeros_like(counts)
    np.cumsum(counts[:-1], out=gstart[1:])
    item_chunks = np.stack([np.zeros(len(s), np.int64), s, e, types_a], axis=1)
    item_surface = chunk_keys(pw.astype(np.int64), item_chunks, False)
    chunk_surface = chunk_keys(corpus.words.astype(np.int64), chunks, False)
    chosen = K.choose_chunks(chunks, corpus.offsets, corpus.sentence_ids, eligible, gstart, counts, item_surface,
                             chunk_surface, p, seed, pert.key)
    out = _chunk_replace(corpus, prev, chunks, chosen, vocab, s, e, pw)
    out.stats.update(eligible=int(eligible.sum()), probability=p, pool_items=len(items))
    return out


# -- the reference study's perturbations ------------------------------------------------------------


@dataclass
class SharedSwapState(State):
    items: dict[int, list[list[str]]]  # replacement chunks by type: test chunks unseen in training
    shared_chunks: int


@register
class EntitySwapShared(Perturbation[SharedSwapState]):
    """Study P1: test chunks also seen as training chunks -> same-type test chunks unseen in training."""

    name = "entity_swap_shared"
    defaults = {"rate": None}
    needs = ("train",)
    constraints = (SharedWithTraining(),)
    origin = ("study", 1)

    def _prepare(self, scope, eligible):
        corpus = scope.corpus
        chunks = scope.chunks
        keys = chunk_keys(corpus.words.astype(np.int64), chunks, False)
        shared = SharedWithTraining().fit(scope).chunk_mask(scope, chunks)
        items: dict[int, list[list[str]]] = {}
        seen: set[int] = set()
        words = corpus.vocab.strings
        for r in np.flatnonzero(~shared).tolist():
            k = int(keys[r])
            if k not in seen:
                seen.add(k)
                _, a, b, t = chunks[r].tolist()
                items.setdefault(t, []).append([words[w] for w in corpus.words[a:b].tolist()])
        return SharedSwapState(items=items, shared_chunks=int(shared.sum()),
                               p=self.edit_probability(scope, eligible))

    def _apply(self, scope, eligible, seed, st):
        shared = st.rule.find(SharedWithTraining).chunk_mask(scope, scope.chunks)
        out = _type_pool_replace(self, scope.corpus, seed, scope.prev, st.items, eligible, scope.chunks, st.p)
        out.stats["shared_chunks"] = int(shared.sum())
        return out


@dataclass
class PoolState(State):
    items: dict[int, list[list[str]]]  # the pool, under the perturbation's type
    pool: str  # where the pool comes from


class _LocaleSwap(Perturbation[PoolState]):
    entity_type: ClassVar[str] = "PER"
    defaults = {"rate": None, "pool": "auto"}

    def eligibility(self) -> tuple[Constraint, ...]:
        return (EntityTokens((self.entity_type,)), *self.extra)

    def _type(self, corpus: Corpus) -> int:
        if self.entity_type not in corpus.labels.types:
            raise XnerError(f"{self.name}: corpus has no {self.entity_type} type")
        return corpus.labels.types.index(self.entity_type)

    def _prepare(self, scope, eligible):
        corpus = scope.corpus
        t = self._type(corpus)
        items, desc = resolve_pool(self.params["pool"], self.entity_type, scope.ctx.lang or corpus.lang,
                                   scope.ctx.source)
        return PoolState(items={t: items}, pool=desc, p=self.edit_probability(scope, eligible))

    def _apply(self, scope, eligible, seed, st):
        self._type(scope.corpus)
        out = _type_pool_replace(self, scope.corpus, seed, scope.prev, st.items, eligible, scope.chunks, st.p)
        out.stats["pool"] = st.pool
        return out


@register
class NameSwap(_LocaleSwap):
    """Study P4: PER chunks -> person names of a locale / WikiANN language / file."""

    name = "name_swap"
    entity_type = "PER"
    origin = ("study", 4)


@register
class PlaceSwap(_LocaleSwap):
    """Study P5: LOC chunks -> place names of a locale / WikiANN language / file."""

    name = "place_swap"
    entity_type = "LOC"
    origin = ("study", 5)


# -- Srinivasan & Vajjala ----------------------------------------------------------------------------


def _chunk_ids(corpus: Corpus, chunks: np.ndarray) -> np.ndarray:
    """A global id per chunk: (sentence id, position inside the sentence)."""
    local = chunks[:, 1] - corpus.offsets[chunks[:, 0]]
    return corpus.sentence_ids[chunks[:, 0]] * 100_000 + local


@dataclass
class Donors:
    """One seed's donors: the chunks that have one (sorted global ids) and the donated words."""

    keys: np.ndarray
    start: np.ndarray
    end: np.ndarray
    words: np.ndarray
    p: float


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
    """Each mention -> another same-type mention of the same test set, length-matched when possible,
    without replacement: a cyclic shift inside each (type, length) group, in an order keyed by
    (seed, parameters, chunk), so every seed draws other donors."""

    name = "entity_resample"
    defaults = {"rate": 0.3}
    origin = ("srinivasan-vajjala", 1)

    def _prepare(self, scope, eligible):
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

    def _draw(self, st: ResampleState, seed: int) -> Donors:
        chunks, ids, surf, words = st.chunks, st.ids, st.surface, st.corpus.words
        donor = K.shift_donors([np.stack([chunks[:, 3], chunks[:, 2] - chunks[:, 1]], 1), chunks[:, 3]], ids, seed,
                               self.key)
        has = (donor >= 0) & (surf[np.maximum(donor, 0)] != surf)
        # donors are words of this corpus: keep them as word ids (batches share the vocabulary)
        order = np.argsort(ids[has])
        d = donor[has][order]
        lengths = chunks[d, 2] - chunks[d, 1]
        ends = np.cumsum(lengths)
        spans = zip(chunks[d, 1].tolist(), chunks[d, 2].tolist(), strict=True)
        return Donors(keys=ids[has][order], start=ends - lengths, end=ends,
                      words=np.concatenate([words[a:b] for a, b in spans]) if d.size else np.zeros(0, np.int32),
                      p=self.probability(chunks.shape[0], int((has & st.allowed).sum())))

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
        out = _chunk_replace(corpus, scope.prev, chunks, chosen, corpus.vocab, dn.start, dn.end, dn.words)
        out.stats.update(eligible=int((has & eligible).sum()), probability=dn.p)
        return out
