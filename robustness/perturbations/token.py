"""Token perturbations: in-place word edits that keep every length and tag.

The reference study's P2 (``context_swap``), Srinivasan & Vajjala's context masking
(``context_mask``: sequential masked-LM fills, as they defined it) and random O-words (``random_token``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from xner.corpus import WordVocab, gather_spans
from xner.errors import XnerError
from xner.overlap import joint_ids, stopwords_of, study_source_words, study_target_ok

from .. import kernels as K
from .base import Perturbation, State, register, replace_words
from .constraints import Constraint, InTrainingOWords, NotFrequent, OTokens, StudyContextWords
from .mlm import mlm_fill

__all__ = ["CONTEXT_FILTERS", "FILLS", "ContextMask", "ContextSwap", "ContextSwapState", "RandomToken",
           "RandomTokenState"]

CONTEXT_FILTERS = ("study", "frequency")
FILLS = ("sequential", "parallel")


@dataclass
class ContextSwapState(State):
    base: WordVocab  # the vocabulary the state was prepared on
    vocab: WordVocab  # ``base`` plus the replacement strings
    repl: np.ndarray  # per word id of ``base``: its replacement's id in ``vocab`` (-1: none)
    candidates: int
    vectors: str


def _nearest(a: np.ndarray, b: np.ndarray, same: np.ndarray | None) -> np.ndarray:
    """Per row of ``a``: the column of ``b`` with the largest cosine, ``same[i, j]`` excluded and
    identical vectors (cosine 1) excluded as the study did; -1 where nothing is left."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    out = np.empty(a.shape[0], dtype=np.int64)
    for i in range(0, a.shape[0], 2048):
        s = a[i : i + 2048] @ b.T
        if same is not None:
            s[same[i : i + 2048]] = -np.inf
            s[s >= 1 - 1e-6] = -np.inf
        j = s.argmax(1)
        out[i : i + 2048] = np.where(np.isfinite(s[np.arange(s.shape[0]), j]), j, -1)
    return out


@register
class ContextSwap(Perturbation[ContextSwapState]):
    """Study P2: shared O-words -> the nearest test word unseen in training, by cosine of a fixed
    encoder's vector for the word alone.

    ``filter="study"`` (default, the study's): a test O-word whose lower-cased form is no
    stopwords-iso stop word of the target, holds no punctuation, has more than one character and is
    a training O-word (not a stop word of the training language); candidates are the test O-words
    that pass the same filter and are not training O-words, lower-cased; the replacement keeps a
    lower-case word lower-case and capitalises any other.  ``filter="frequency"`` (xner's former):
    O-words shared with training minus the ``stopwords`` most frequent O-words of test and training,
    candidates any test O-word unseen in training, words as written.  ``vectors="fixed"`` (default)
    takes ``Context.vectors`` (one encoder per experiment, e.g. the pre-trained base model);
    ``vectors="model"`` the evaluated model (``Context.runtime``)."""

    name = "context_swap"
    unit = "tokens"
    defaults = {"rate": None, "filter": "study", "stopwords": 100, "vectors": "fixed"}
    needs = ("train",)
    origin = ("study", 2)

    def requirements(self) -> tuple[str, ...]:
        if self.params["filter"] not in CONTEXT_FILTERS or self.params["vectors"] not in ("fixed", "model"):
            raise XnerError(f"context_swap: filter is one of {', '.join(CONTEXT_FILTERS)}, vectors fixed or model")
        extra = ("vectors",) if self.params["vectors"] == "fixed" else ("runtime",)
        return tuple(dict.fromkeys((*super().requirements(), *extra)))

    def eligibility(self) -> tuple[Constraint, ...]:
        if self.params["filter"] == "study":
            return (OTokens(), StudyContextWords(), *self.extra)
        n = int(self.params["stopwords"])
        return (OTokens(), InTrainingOWords(), NotFrequent(n), NotFrequent(n, of="train"), *self.extra)

    def _prepare(self, scope, eligible):
        self.requirements()
        corpus, ctx = scope.corpus, scope.ctx
        train = ctx.train
        src = ctx.vectors if self.params["vectors"] == "fixed" else ctx.runtime
        strings = corpus.vocab.strings
        repl = np.full(len(corpus.vocab), -1, dtype=np.int64)
        vocab = corpus.vocab
        o_ids = np.unique(corpus.words[corpus.tags == 0])
        src_words = np.unique(corpus.words[eligible])
        if self.params["filter"] == "study":
            stop = stopwords_of(ctx.lang or corpus.lang)
            shared = study_source_words(train)
            cand = sorted({s.lower() for s in (strings[w] for w in o_ids.tolist())
                           if study_target_ok(s, stop) and s.lower() not in shared})
            lowers = sorted({strings[w].lower() for w in src_words.tolist()})
        else:
            tw = joint_ids(corpus.vocab, train.vocab)
            cand = [strings[w] for w in o_ids[tw[o_ids] >= len(train.vocab)].tolist()]
            lowers = [strings[w] for w in src_words.tolist()]
        if lowers and cand:
            vec = np.asarray(src.word_vectors(lowers + cand), dtype=np.float32)
            same = None
            if self.params["filter"] == "study":
                pos = {c: j for j, c in enumerate(cand)}
                same = np.zeros((len(lowers), len(cand)), dtype=np.bool_)
                for i, w in enumerate(lowers):
                    if w in pos:
                        same[i, pos[w]] = True
            near = _nearest(vec[: len(lowers)], vec[len(lowers) :], same)
            alt = {w: cand[j] for w, j in zip(lowers, near.tolist(), strict=True) if j >= 0}
            vocab = corpus.vocab.copy()
            for w in src_words.tolist():
                s = strings[w]
                a = alt.get(s.lower() if self.params["filter"] == "study" else s)
                if a is not None:
                    if self.params["filter"] == "study" and s != s.lower():
                        a = a.capitalize()
                    repl[w] = vocab.add(a)
        return ContextSwapState(base=corpus.vocab, vocab=vocab, repl=repl, candidates=len(cand), vectors=repr(src),
                                p=self.edit_probability(scope, eligible))

    def _apply(self, scope, eligible, seed, st):
        corpus = scope.corpus
        if corpus.vocab is not st.base:
            raise XnerError("context_swap: state prepared on another vocabulary")
        sel = self.select(scope, eligible & (st.repl[corpus.words] >= 0), st.p, seed)
        words = corpus.words.copy()
        words[sel] = st.repl[corpus.words[sel]]
        return replace_words(corpus, words, st.vocab, scope.prev, sel, {
            "eligible": int(eligible.sum()), "probability": st.p, "candidates": st.candidates, "vectors": st.vectors})


@register
class ContextMask(Perturbation[State]):
    """Srinivasan & Vajjala's masking: ``k`` times in sequence, a random O token is masked in the
    current sentence, filled with one of a masked LM's ``top_k`` predictions, and every occurrence
    of its word (among the tokens that may be edited) takes the fill (``fill="sequential"``, default).
    ``fill="parallel"`` (xner's former) masks k tokens at once and fills only those positions; with a
    ``rate`` tokens are drawn by rate and filled in parallel.  Without a masked LM (``Context.mlm``)
    the fill is the mask token itself; with one, no mask token is left."""

    name = "context_mask"
    unit = "tokens"
    defaults = {"rate": None, "k": 3, "top_k": 5, "mask_token": None, "fill": "sequential"}
    constraints = (OTokens(),)
    origin = ("srinivasan-vajjala", 2)

    def _prepare(self, scope, eligible):
        if self.params["fill"] not in FILLS:
            raise XnerError(f"context_mask: fill is one of {', '.join(FILLS)}")
        return State(p=None if self.params["rate"] is None else self.edit_probability(scope, eligible))

    def _mask_token(self, ctx) -> str:
        return self.params["mask_token"] or (getattr(getattr(ctx.runtime, "tokenizer", None), "mask_token", None)
                                             or "[MASK]")

    def _apply(self, scope, eligible, seed, st):
        corpus, ctx = scope.corpus, scope.ctx
        how = f"mlm:{ctx.mlm}" if ctx.mlm else f"mask token {self._mask_token(ctx)}"
        stats = {"eligible": int(eligible.sum()), "probability": st.p, "fill": how}
        if st.p is None and self.params["fill"] == "sequential":
            words, vocab, sel = self._sequential(corpus, ctx, eligible, seed)
            return replace_words(corpus, words, vocab, scope.prev, sel, stats)
        sid = corpus.sentence_ids
        if st.p is None:
            sel = K.select_k_per_sentence(eligible, corpus.offsets, sid, int(self.params["k"]), seed, self.key)
        else:
            sel = self.select(scope, eligible, st.p, seed)
        vocab = corpus.vocab.copy()
        words = corpus.words.copy()
        if ctx.mlm:
            words[sel] = vocab.add_many(mlm_fill(ctx.mlm, corpus, sel, int(self.params["top_k"]), seed, self.key))
        else:
            words[sel] = vocab.add(self._mask_token(ctx))
        return replace_words(corpus, words, vocab, scope.prev, sel, stats)

    def _sequential(self, corpus, ctx, eligible, seed):
        vocab = corpus.vocab.copy()
        words = corpus.words.copy()
        todo = eligible.copy()
        tok_sent = np.repeat(np.arange(len(corpus)), corpus.lengths)
        sid = corpus.sentence_ids
        m = np.int64(len(corpus.vocab) + 1)
        key_of = tok_sent.astype(np.int64) * m + corpus.words
        for r in range(int(self.params["k"])):
            pick = K.select_k_per_sentence(todo, corpus.offsets, sid, 1, seed, self.key)
            pk = np.flatnonzero(pick)
            if not pk.size:
                break
            occ = todo & np.isin(key_of, key_of[pk])  # every occurrence of the picked words, same sentence
            fill = np.full(len(corpus), -1, dtype=np.int64)
            if ctx.mlm:
                rows = np.unique(tok_sent[pk])
                cur = replace(corpus, words=words, vocab=vocab, columns=None, meta=dict(corpus.meta)).subset(rows)
                sub_pick = pick[gather_spans(corpus.offsets, rows)]
                fills = mlm_fill(ctx.mlm, cur, sub_pick, int(self.params["top_k"]), seed, self.key, salt=r)
                fill[tok_sent[pk]] = vocab.add_many(fills)
            else:
                fill[tok_sent[pk]] = vocab.add(self._mask_token(ctx))
            words[occ] = fill[tok_sent[occ]]
            todo &= ~occ
        return words, vocab, eligible & ~todo


@dataclass
class RandomTokenState(State):
    cand: np.ndarray  # the O-words of the test set (sorted word ids)


@register
class RandomToken(Perturbation[RandomTokenState]):
    """A rate of O tokens replaced by random O-words of the same test set."""

    name = "random_token"
    unit = "tokens"
    defaults = {"rate": 0.3}
    constraints = (OTokens(),)
    origin = ("xner", 2)

    def _prepare(self, scope, eligible):
        corpus = scope.corpus
        cand = np.unique(corpus.words[corpus.tags == 0])
        return RandomTokenState(cand=cand, p=self.edit_probability(scope, eligible) if cand.size > 1 else 0.0)

    def _apply(self, scope, eligible, seed, st):
        corpus = scope.corpus
        cand = st.cand
        eligible = eligible & np.isin(corpus.words, cand)
        sid = corpus.sentence_ids
        sel = self.select(scope, eligible, st.p, seed)
        words = corpus.words.copy()
        if cand.size > 1 and sel.any():
            pick = K.pick_tokens(sel, corpus.offsets, sid, cand.size - 1, seed, self.key, 17)
            own = np.searchsorted(cand, corpus.words[sel])
            j = pick[sel]
            words[sel] = cand[j + (j >= own)]  # never the word itself
        return replace_words(corpus, words, corpus.vocab, scope.prev, sel,
                             {"eligible": int(eligible.sum()), "probability": st.p})
