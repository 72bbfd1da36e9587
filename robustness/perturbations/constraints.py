"""What a perturbation may edit, apart from how it edits (TextAttack's pre-transformation constraints).

A constraint says per token whether it may be edited; a chunk may be replaced when every one of its
tokens may.  ``fit`` sees the whole test set once (corpus-level lists such as stop words are frozen
then, so batches of the set agree with the whole) and returns the fitted constraint; ``mask`` and
``chunk_mask`` then answer for the whole set or any batch of it.  Constraints combine with ``&`` and
with any perturbation, besides its own: ``make("char_noise", constraints=[EntityTokens()])``;
training augmentation takes the same objects (``augment_corpus(..., constraints=...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from xner.corpus import Corpus, WordVocab
from xner.overlap import chunk_keys, joint_ids, stopwords_of, study_source_words, study_target_ok

if TYPE_CHECKING:
    from .base import Context

__all__ = ["AllOf", "Alphabetic", "Constraint", "EntityTokens", "InTrainingOWords", "NotEdited", "NotFrequent",
           "OTokens", "Scope", "SharedWithTraining", "StudyContextWords", "WordTable", "WordsWhere", "all_tokens", "alpha_of",
           "frequent_o_words", "paint_chunks"]


@dataclass
class Scope:
    """What a constraint looks at: a corpus (the whole test set or a batch of it), the context and the
    tokens already edited by earlier steps of a combination."""

    corpus: Corpus
    ctx: Context
    prev: np.ndarray  # bool per token

    @cached_property
    def chunks(self) -> np.ndarray:
        return self.corpus.chunks()


def all_tokens(mask: np.ndarray, chunks: np.ndarray) -> np.ndarray:
    """Per chunk: whether ``mask`` holds for every one of its tokens."""
    bad = np.zeros(mask.size + 1, dtype=np.int64)
    np.cumsum(~mask, out=bad[1:])
    return bad[chunks[:, 2]] == bad[chunks[:, 1]]


def paint_chunks(n_tokens: int, chunks: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Per token: whether it lies in one of the chunks selected by ``which``."""
    d = np.zeros(n_tokens + 1, dtype=np.int64)
    np.add.at(d, chunks[which, 1], 1)
    np.add.at(d, chunks[which, 2], -1)
    return np.cumsum(d[:-1]) > 0


class Constraint:
    """A pre-transformation constraint; subclasses give ``mask`` (and ``fit`` when they hold
    corpus-level state, ``chunk_mask`` when they are about chunks)."""

    def requires(self) -> tuple[str, ...]:
        """Context requirements (keys of ``CONTEXT_NEEDS``)."""
        return ()

    def fit(self, scope: Scope) -> Constraint:
        return self

    def mask(self, scope: Scope) -> np.ndarray:
        raise NotImplementedError

    def chunk_mask(self, scope: Scope, chunks: np.ndarray) -> np.ndarray:
        return all_tokens(self.mask(scope), chunks)

    def __and__(self, other: Constraint) -> AllOf:
        return AllOf((*_parts(self), *_parts(other)))


def _parts(c: Constraint) -> tuple[Constraint, ...]:
    return c.parts if isinstance(c, AllOf) else (c,)


@dataclass(frozen=True)
class AllOf(Constraint):
    """Every part holds (no parts: everything may be edited)."""

    parts: tuple[Constraint, ...] = ()

    def requires(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(n for p in self.parts for n in p.requires()))

    def fit(self, scope: Scope) -> AllOf:
        return AllOf(tuple(p.fit(scope) for p in self.parts))

    def find(self, kind: type) -> Any:
        """The first part of a type (a fitted one after ``fit``), or None."""
        return next((p for p in self.parts if isinstance(p, kind)), None)

    def mask(self, scope: Scope) -> np.ndarray:
        out = np.ones(scope.corpus.n_tokens, dtype=np.bool_)
        for p in self.parts:
            out &= p.mask(scope)
        return out

    def chunk_mask(self, scope: Scope, chunks: np.ndarray) -> np.ndarray:
        out = np.ones(chunks.shape[0], dtype=np.bool_)
        for p in self.parts:
            out &= p.chunk_mask(scope, chunks)
        return out


# -- token classes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OTokens(Constraint):
    """Tokens outside entities."""

    def mask(self, scope: Scope) -> np.ndarray:
        return scope.corpus.tags == 0


@dataclass(frozen=True)
class EntityTokens(Constraint):
    """Tokens of entities (of the given types only, when named)."""

    types: tuple[str, ...] = ()

    def _ids(self, corpus: Corpus) -> list[int]:
        return [corpus.labels.types.index(t) for t in self.types if t in corpus.labels.types]

    def mask(self, scope: Scope) -> np.ndarray:
        tags = scope.corpus.tags
        if not self.types:
            return tags != 0
        t = tags.astype(np.int64)
        return (t > 0) & np.isin((t - 1) // 2, self._ids(scope.corpus))

    def chunk_mask(self, scope: Scope, chunks: np.ndarray) -> np.ndarray:
        if not self.types:
            return np.ones(chunks.shape[0], dtype=np.bool_)
        return np.isin(chunks[:, 3], self._ids(scope.corpus))


@dataclass(frozen=True)
class NotEdited(Constraint):
    """Tokens that no earlier part of a combination has edited."""

    def mask(self, scope: Scope) -> np.ndarray:
        return ~scope.prev


# -- word properties --------------------------------------------------------------------------------


class WordTable(Constraint):
    """A fitted word-level constraint: a bool per entry of the fitted vocabulary; other vocabularies
    (a copy that an earlier step of a combination grew, or another one) are judged by ``judge`` on the
    strings the table lacks."""

    def __init__(self, source: Constraint, vocab: WordVocab, table: np.ndarray,
                 judge: Callable[[list[str]], np.ndarray]):
        self.source, self.vocab, self.table, self.judge = source, vocab, table, judge

    def __repr__(self) -> str:
        return repr(self.source)

    def _descends(self, v: WordVocab) -> bool:
        while v is not None:
            if v is self.vocab:
                return True
            v = getattr(v, "parent", None)
        return False

    def mask(self, scope: Scope) -> np.ndarray:
        vocab = scope.corpus.vocab
        table = self.table
        if vocab is not self.vocab:
            if self._descends(vocab):  # the fitted strings keep their ids in a grown copy
                table = np.concatenate([table, self.judge(vocab.strings[table.size :])])
            else:
                table = self.judge(vocab.strings)
        return table[scope.corpus.words]


def alpha_of(strings: list[str]) -> np.ndarray:
    """Whether each string has a letter (punctuation and numbers get no typos)."""
    return np.fromiter((not s.isalpha() and any(map(str.isalpha, s)) or s.isalpha() for s in strings),
                       dtype=np.bool_, count=len(strings))


@dataclass(frozen=True)
class Alphabetic(Constraint):
    """Words with a letter."""

    def fit(self, scope: Scope) -> WordTable:
        vocab = scope.corpus.vocab
        return WordTable(self, vocab, alpha_of(vocab.strings), alpha_of)


@dataclass(frozen=True)
class WordsWhere(Constraint):
    """Words whose string passes ``test`` (its qualified name stands for it in keys and reprs)."""

    test: Callable[[str], bool]

    def __repr__(self) -> str:
        return f"WordsWhere({getattr(self.test, '__qualname__', self.test)})"

    def fit(self, scope: Scope) -> WordTable:
        def judge(strings: list[str]) -> np.ndarray:
            return np.fromiter(map(self.test, strings), dtype=np.bool_, count=len(strings))

        vocab = scope.corpus.vocab
        return WordTable(self, vocab, judge(vocab.strings), judge)


def frequent_o_words(c: Corpus, n: int) -> np.ndarray:
    """The ``n`` most frequent O-words of a corpus (a language-agnostic stop-word list), as word ids."""
    o = c.words[c.tags == 0]
    if not o.size or n <= 0:
        return np.zeros(0, dtype=np.int64)
    counts = np.bincount(o)
    return np.argsort(-counts, kind="stable")[:n]


def _in_train(train: Corpus, ids: np.ndarray) -> Callable[[list[str]], np.ndarray]:
    """A judge: whether a string's id in the training vocabulary is one of ``ids``."""
    return lambda strings: np.isin(np.fromiter((train.vocab.get(s) for s in strings), np.int64, len(strings)), ids)


@dataclass(frozen=True)
class NotFrequent(Constraint):
    """Not one of the ``n`` most frequent O-words (stop words) of the test set, or with
    ``of="train"`` of the training corpus."""

    n: int = 100
    of: str = "test"

    def requires(self) -> tuple[str, ...]:
        return ("train",) if self.of == "train" else ()

    def fit(self, scope: Scope) -> WordTable:
        c = scope.corpus
        if self.of == "train":
            train = scope.ctx.train
            stop = frequent_o_words(train, self.n)
            judge = _in_train(train, stop)
            frequent = np.isin(joint_ids(c.vocab, train.vocab), stop)
        else:
            stop = frequent_o_words(c, self.n)
            words = {c.vocab.strings[w] for w in stop.tolist()}
            judge = lambda strings: np.fromiter((s in words for s in strings), np.bool_, len(strings))  # noqa: E731
            frequent = np.zeros(len(c.vocab), dtype=np.bool_)
            frequent[stop] = True
        return WordTable(self, c.vocab, ~frequent, lambda strings: ~judge(strings))


@dataclass(frozen=True)
class InTrainingOWords(Constraint):
    """Words that are O-words of the training corpus (the study's shared context)."""

    def requires(self) -> tuple[str, ...]:
        return ("train",)

    def fit(self, scope: Scope) -> WordTable:
        c, train = scope.corpus, scope.ctx.train
        tr_o = np.unique(train.words[train.tags == 0])
        return WordTable(self, c.vocab, np.isin(joint_ids(c.vocab, train.vocab), tr_o), _in_train(train, tr_o))


@dataclass(frozen=True)
class StudyContextWords(Constraint):
    """The study's P2 filter: the lower-cased word is no stopwords-iso stop word of the target
    language (none where stopwords-iso has no list), holds no ASCII punctuation, has more than one
    character, and is an O-word of the training corpus that is no stop word of the training language."""

    def requires(self) -> tuple[str, ...]:
        return ("train",)

    def fit(self, scope: Scope) -> WordTable:
        c, train = scope.corpus, scope.ctx.train
        stop = stopwords_of(scope.ctx.lang or c.lang)
        src = study_source_words(train)

        def judge(strings: list[str]) -> np.ndarray:
            return np.fromiter((study_target_ok(w, stop) and w.lower() in src for w in strings), np.bool_, len(strings))

        return WordTable(self, c.vocab, judge(c.vocab.strings), judge)


# -- chunks -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedWithTraining(Constraint):
    """Entity chunks whose words are also a chunk of the training corpus (the study's shared
    entities, of any type)."""

    train_keys: np.ndarray | None = field(default=None, repr=False, compare=False)
    vocab: WordVocab | None = field(default=None, repr=False, compare=False)

    def requires(self) -> tuple[str, ...]:
        return ("train",)

    @staticmethod
    def _keys(train: Corpus, vocab: WordVocab) -> np.ndarray:
        table = joint_ids(train.vocab, vocab)
        return chunk_keys(table[train.words], train.chunks(), False)

    def fit(self, scope: Scope) -> SharedWithTraining:
        return replace(self, train_keys=self._keys(scope.ctx.train, scope.corpus.vocab), vocab=scope.corpus.vocab)

    def chunk_mask(self, scope: Scope, chunks: np.ndarray) -> np.ndarray:
        c = scope.corpus
        keys = self.train_keys if c.vocab is self.vocab else self._keys(scope.ctx.train, c.vocab)
        return np.isin(chunk_keys(c.words.astype(np.int64), chunks, False), keys)

    def mask(self, scope: Scope) -> np.ndarray:
        return paint_chunks(scope.corpus.n_tokens, scope.chunks, self.chunk_mask(scope, scope.chunks))
