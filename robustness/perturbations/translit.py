"""Transliteration: a rate of words replaced by their romanization (Latin script), tags kept.

Only words that a romanizer changes are eligible (those with a letter or digit of a non-Latin
script; see :func:`xner.translit.needs_romanization`), so the edit rate counts real
transliterations: on an English test set nothing is eligible and a rate is reported ``capped``.
Each distinct word is romanized once (:class:`xner.translit.Romanizer` memoises); the edit itself is
a lookup in a per-word-id table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xner.corpus import WordVocab
from xner.errors import XnerError
from xner.translit import DEFAULT_ROMANIZER, ROMANIZERS, Romanizer, romanizer

from .base import Perturbation, State, register, replace_words
from .constraints import Constraint, EntityTokens, Scope, WordTable

__all__ = ["Romanizable", "Transliterate", "TransliterateState"]


def _romanizer(name: str, scope: Scope) -> Romanizer:
    if name not in ROMANIZERS:
        raise XnerError(f"transliterate: romanizer is one of {', '.join(ROMANIZERS)}")
    return romanizer(name, scope.ctx.lang or scope.corpus.lang)


@dataclass(frozen=True)
class Romanizable(Constraint):
    """Words whose romanization differs from the word (by the named romanizer, in the target language)."""

    romanizer: str = DEFAULT_ROMANIZER

    def fit(self, scope: Scope) -> WordTable:
        rom = _romanizer(self.romanizer, scope)

        def judge(strings: list[str]) -> np.ndarray:
            return np.fromiter((a != b for a, b in zip(strings, rom(strings), strict=True)), np.bool_, len(strings))

        c = scope.corpus
        table = np.zeros(len(c.vocab), dtype=np.bool_)
        used = np.unique(c.words)  # only the corpus's own words (a shared vocabulary may hold many more)
        table[used] = judge(c.vocab.lookup(used))
        return WordTable(self, c.vocab, table, judge)


@dataclass
class TransliterateState(State):
    base: WordVocab  # the vocabulary the state was prepared on
    vocab: WordVocab  # ``base`` plus the romanizations
    repl: np.ndarray  # per word id of ``base``: its romanization's id in ``vocab`` (-1: not eligible)
    romanizer: dict  # name, version, language code


@register
class Transliterate(Perturbation[TransliterateState]):
    """A rate of word tokens replaced by their romanization (uroman by default, ``romanizer="anyascii"``
    when installed); ``entities_only`` limits it to entity tokens, as for ``char_noise``."""

    name = "transliterate"
    unit = "tokens"
    defaults = {"rate": 0.3, "romanizer": DEFAULT_ROMANIZER, "entities_only": False}
    origin = ("xner", 3)

    def eligibility(self) -> tuple[Constraint, ...]:
        own: tuple[Constraint, ...] = (Romanizable(str(self.params["romanizer"])),)
        if self.params["entities_only"]:
            own += (EntityTokens(),)
        return (*own, *self.extra)

    def _prepare(self, scope, eligible):
        c = scope.corpus
        rom = _romanizer(str(self.params["romanizer"]), scope)
        ids = np.unique(c.words[eligible])
        vocab = c.vocab.copy()
        repl = np.full(len(c.vocab), -1, dtype=np.int64)
        repl[ids] = vocab.add_many(rom(c.vocab.lookup(ids)))
        return TransliterateState(base=c.vocab, vocab=vocab, repl=repl, romanizer=rom.describe(),
                                  p=self.edit_probability(scope, eligible))

    def _apply(self, scope, eligible, seed, st):
        corpus = scope.corpus
        if corpus.vocab is not st.base:
            raise XnerError("transliterate: state prepared on another vocabulary")
        sel = self.select(scope, eligible, st.p, seed)
        words = corpus.words.copy()
        words[sel] = st.repl[corpus.words[sel]]
        return replace_words(corpus, words, st.vocab, scope.prev, sel, {
            "eligible": int(eligible.sum()), "probability": st.p, "romanizer": st.romanizer})
