"""Token perturbations: in-place word edits that keep every length and tag.

The reference study's P2 (``context_swap``), Srinivasan & Vajjala's context masking
(``context_mask``, filled by a masked LM when one is given) and random O-words (``random_token``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xner.overlap import joint_ids

from .. import kernels as K
from .base import Perturbation, State, register, replace_words
from .constraints import Constraint, InTrainingOWords, NotFrequent, OTokens
from .mlm import mlm_fill

__all__ = ["ContextMask", "ContextSwap", "ContextSwapState", "RandomToken", "RandomTokenState"]


@dataclass
class ContextSwapState(State):
    repl: np.ndarray  # per word id: its nearest test word unseen in training (-1: none)
    candidates: int


@register
class ContextSwap(Perturbation[ContextSwapState]):
    """Study P2: O-words shared with the training O-words (not stop words) -> the nearest test word
    unseen in training, by cosine of the model's vector for the word alone."""

    name = "context_swap"
    unit = "tokens"
    defaults = {"rate": None, "stopwords": 100}
    needs = ("train", "runtime")
    origin = ("study", 2)

    def eligibility(self) -> tuple[Constraint, ...]:
        n = int(self.params["stopwords"])
        return (OTokens(), InTrainingOWords(), NotFrequent(n), NotFrequent(n, of="train"), *self.extra)

    def _prepare(self, scope, eligible):
        corpus, train = scope.corpus, scope.ctx.train
        tw = joint_ids(corpus.vocab, train.vocab)[corpus.words]  # test ids -> train id space
        cand = np.unique(corpus.words[(corpus.tags == 0) & (tw >= len(train.vocab))])  # O-words unseen in training
        src_words = np.unique(corpus.words[eligible])
        repl = np.full(len(corpus.vocab), -1, dtype=np.int64)
        if src_words.size and cand.size:
            strings = corpus.vocab.strings
            vec = scope.ctx.runtime.word_vectors([strings[w] for w in src_words.tolist()] +
                                                 [strings[w] for w in cand.tolist()])
            vec = vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
            a, b = vec[: src_words.size], vec[src_words.size :]
            nearest = np.empty(src_words.size, dtype=np.int64)
            for i in range(0, src_words.size, 2048):
                nearest[i : i + 2048] = (a[i : i + 2048] @ b.T).argmax(1)
            repl[src_words] = cand[nearest]
        return ContextSwapState(repl=repl, candidates=int(cand.size), p=self.edit_probability(scope, eligible))

    def _apply(self, scope, eligible, seed, st):
        corpus = scope.corpus
        sel = self.select(scope, eligible & (st.repl[corpus.words] >= 0), st.p, seed)
        words = corpus.words.copy()
        words[sel] = st.repl[corpus.words[sel]]
        return replace_words(corpus, words, corpus.vocab, scope.prev, sel, {
            "eligible": int(eligible.sum()), "probability": st.p, "candidates": st.candidates})


@register
class ContextMask(Perturbation[State]):
    """k O-tokens per sentence (or a rate of tokens) masked; filled by a masked LM's top-k when one
    is given, else replaced by the mask token itself."""

    name = "context_mask"
    unit = "tokens"
    defaults = {"rate": None, "k": 3, "top_k": 5, "mask_token": None}
    constraints = (OTokens(),)
    origin = ("srinivasan-vajjala", 2)

    def _prepare(self, scope, eligible):
        return State(p=None if self.params["rate"] is None else self.edit_probability(scope, eligible))

    def _apply(self, scope, eligible, seed, st):
        corpus, ctx = scope.corpus, scope.ctx
        sid = corpus.sentence_ids
        if st.p is None:
            sel = K.select_k_per_sentence(eligible, corpus.offsets, sid, int(self.params["k"]), seed, self.key)
        else:
            sel = self.select(scope, eligible, st.p, seed)
        vocab = corpus.vocab.copy()
        words = corpus.words.copy()
        if ctx.mlm:
            words[sel] = vocab.add_many(mlm_fill(ctx.mlm, corpus, sel, int(self.params["top_k"]), seed, self.key))
            how = f"mlm:{ctx.mlm}"
        else:
            tok = self.params["mask_token"] or (getattr(getattr(ctx.runtime, "tokenizer", None), "mask_token", None)
                                                or "[MASK]")
            words[sel] = vocab.add(tok)
            how = f"mask token {tok}"
        return replace_words(corpus, words, vocab, scope.prev, sel, {"eligible": int(eligible.sum()),
                                                                     "probability": st.p, "fill": how})


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
