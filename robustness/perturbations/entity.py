"""Entity perturbations: chunks replaced by other chunks (any length, re-emitted as ``B-X I-X ...``).

The reference study's P1 (``entity_swap_shared``), P4 (``name_swap``) and P5 (``place_swap``);
Srinivasan & Vajjala's mention resampling is in :mod:`.resample`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from xner.corpus import Corpus, WordVocab
from xner.errors import XnerError
from xner.overlap import chunk_keys

from .. import kernels as K
from ..pools import resolve_pool
from .base import Perturbation, Perturbed, State, register
from .constraints import Constraint, EntityTokens, SharedWithTraining

__all__ = ["EntitySwapShared", "NameSwap", "PlaceSwap", "PoolState", "SPANS", "SharedSwapState", "chunk_replace"]


def _intern_items(vocab: WordVocab, items: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item_start, item_end, pool_words) with strings added to ``vocab``."""
    lengths = np.fromiter((len(x) for x in items), dtype=np.int64, count=len(items))
    off = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum(lengths, out=off[1:])
    words = vocab.add_many(w for x in items for w in x)
    return off[:-1].copy(), off[1:].copy(), words


def chunk_replace(corpus: Corpus, prev: np.ndarray, chunks: np.ndarray, chosen: np.ndarray, vocab: WordVocab,
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
    out = chunk_replace(corpus, prev, chunks, chosen, vocab, s, e, pw)
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
    pool: dict  # where the pool comes from, its size


SPANS = ("given", "chunk")


class _LocaleSwap(Perturbation[PoolState]):
    entity_type: ClassVar[str] = "PER"
    defaults = {"rate": None, "pool": "auto"}

    def eligibility(self) -> tuple[Constraint, ...]:
        return (EntityTokens((self.entity_type,)), *self.extra)

    def _given(self) -> bool:
        span = self.params.get("span", "chunk")
        if span not in SPANS:
            raise XnerError(f"{self.name}: span is one of {', '.join(SPANS)}")
        return span == "given"

    def _type(self, corpus: Corpus) -> int:
        if self.entity_type not in corpus.labels.types:
            raise XnerError(f"{self.name}: corpus has no {self.entity_type} type")
        return corpus.labels.types.index(self.entity_type)

    def _prepare(self, scope, eligible):
        corpus = scope.corpus
        t = self._type(corpus)
        pool = resolve_pool(self.params["pool"], self.entity_type, scope.ctx.lang or corpus.lang, scope.ctx.source,
                            test=corpus, given=self._given())
        return PoolState(items={t: pool.items}, pool=pool.describe(), p=self.edit_probability(scope, eligible))

    def _apply(self, scope, eligible, seed, st):
        self._type(scope.corpus)
        chunks = scope.chunks
        if self._given():  # the first token of each chunk: the given name of a person
            chunks = chunks.copy()
            chunks[:, 2] = chunks[:, 1] + 1
        out = _type_pool_replace(self, scope.corpus, seed, scope.prev, st.items, eligible, chunks, st.p)
        out.stats.update(st.pool)
        return out


@register
class NameSwap(_LocaleSwap):
    """Study P4: person names of the target's culture (see :mod:`..pools`).  ``span="given"`` (default,
    the study's): the first token of each PER chunk (B-PER, the given name) -> a given name;
    ``span="chunk"`` (xner's option): the whole chunk -> "First Last"."""

    name = "name_swap"
    entity_type = "PER"
    defaults = {"rate": None, "pool": "auto", "span": "given"}
    origin = ("study", 4)


@register
class PlaceSwap(_LocaleSwap):
    """Study P5: LOC chunks -> place names of the target's language (CLDR territory and region names,
    else its training split; see :mod:`..pools`)."""

    name = "place_swap"
    entity_type = "LOC"
    origin = ("study", 5)
