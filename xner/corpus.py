"""The columnar corpus: a few numpy arrays and an interned vocabulary.

A corpus never stores Python lists of strings per sentence.  ``words`` holds ids into a
``WordVocab`` (new strings such as swapped names or typos are appended to it), ``tags`` holds
ids into a ``LabelSet`` and sentence ``i`` is ``words[offsets[i]:offsets[i+1]]``.  Entity
chunks are derived with one numba pass and returned as arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .errors import XnerError
from .jit import lazy_njit
from .labels import LabelSet


class WordVocab:
    """Interned strings: id <-> string. Append-only, so ids stay valid when it grows."""

    __slots__ = ("_strings", "_index", "parent", "base", "__weakref__")

    def __init__(self, strings: Iterable[str] = ()):
        self._strings: list[str] = []
        self._index: dict[str, int] = {}
        self.parent: WordVocab | None = None  # the vocabulary this one was copied from
        self.base = 0  # ids below ``base`` mean the same strings as in ``parent``
        for s in strings:
            self.add(s)

    def add(self, s: str) -> int:
        i = self._index.get(s)
        if i is None:
            i = len(self._strings)
            self._strings.append(s)
            self._index[s] = i
        return i

    def add_many(self, strings: Iterable[str]) -> np.ndarray:
        index, table = self._index, self._strings
        out = []
        append = out.append
        for s in strings:
            i = index.get(s)
            if i is None:
                i = index[s] = len(table)
                table.append(s)
            append(i)
        return np.array(out, dtype=np.int32)

    def get(self, s: str, default: int = -1) -> int:
        return self._index.get(s, default)

    def __getitem__(self, i: int) -> str:
        return self._strings[i]

    def __len__(self) -> int:
        return len(self._strings)

    def __contains__(self, s: object) -> bool:
        return s in self._index

    @property
    def strings(self) -> list[str]:
        return self._strings

    def lookup(self, ids: np.ndarray) -> list[str]:
        st = self._strings
        return [st[i] for i in ids.tolist()]

    def copy(self) -> WordVocab:
        v = WordVocab()
        v._strings = list(self._strings)
        v._index = dict(self._index)
        v.parent, v.base = self, len(self._strings)  # lets caches keyed by vocabulary reuse the shared prefix
        return v


@dataclass
class Corpus:
    """Sentences of tagged words as flat arrays.

    ``columns`` keeps extra CoNLL columns (one string per token, the middle columns joined by a
    tab) so they survive a round trip; ``source`` says where the corpus was read from.
    """

    words: np.ndarray  # int32[n_tokens]
    tags: np.ndarray  # int8[n_tokens]
    offsets: np.ndarray  # int64[n_sents + 1]
    vocab: WordVocab
    labels: LabelSet = field(default_factory=LabelSet.wikiann)
    lang: str = ""
    source: str = ""
    columns: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.words = np.ascontiguousarray(self.words, dtype=np.int32)
        self.tags = np.ascontiguousarray(self.tags, dtype=np.int8)
        self.offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        if self.offsets.ndim != 1 or self.offsets.size == 0 or self.offsets[0] != 0:
            raise XnerError("corpus offsets must start at 0")
        if self.offsets[-1] != self.words.size or self.words.size != self.tags.size:
            raise XnerError("corpus arrays disagree in length")
        if self.columns is not None and len(self.columns) != self.words.size:
            raise XnerError("corpus extra columns disagree in length")

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_lists(
        cls,
        sentences: Sequence[Sequence[str]],
        tags: Sequence[Sequence[str]],
        labels: LabelSet | None = None,
        lang: str = "",
        vocab: WordVocab | None = None,
        source: str = "",
    ) -> Corpus:
        labels = labels if labels is not None else LabelSet.wikiann()
        vocab = vocab if vocab is not None else WordVocab()
        if len(sentences) != len(tags):
            raise XnerError("sentences and tags differ in count")
        lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
        for i, (s, t) in enumerate(zip(sentences, tags, strict=True)):
            if len(s) != len(t):
                raise XnerError(f"sentence {i}: {len(s)} words but {len(t)} tags")
        offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        words = vocab.add_many(w for s in sentences for w in s)
        enc = labels.encode
        tag_ids = np.fromiter((enc(x) for t in tags for x in t), dtype=np.int8, count=int(offsets[-1]))
        return cls(words, tag_ids, offsets, vocab, labels, lang, source)

    # -- views ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.offsets.size - 1

    @property
    def n_tokens(self) -> int:
        return int(self.words.size)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def sentence(self, i: int) -> tuple[list[str], list[str]]:
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.vocab.lookup(self.words[a:b]), self.labels.decode_array(self.tags[a:b])

    def sentences(self) -> list[list[str]]:
        words = self.vocab.lookup(self.words)
        o = self.offsets.tolist()
        return [words[o[i] : o[i + 1]] for i in range(len(self))]

    def tag_lists(self) -> list[list[str]]:
        tags = self.labels.decode_array(self.tags)
        o = self.offsets.tolist()
        return [tags[o[i] : o[i + 1]] for i in range(len(self))]

    def subset(self, index: np.ndarray | Sequence[int]) -> Corpus:
        """Sentences by index (in the given order); shares the vocabulary."""
        index = np.asarray(index, dtype=np.int64)
        tok = gather_spans(self.offsets, index)
        lengths = self.lengths[index]
        offsets = np.zeros(index.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        cols = [self.columns[i] for i in tok.tolist()] if self.columns is not None else None
        meta = dict(self.meta)
        meta["sentence_ids"] = self.sentence_ids[index]
        if isinstance(meta.get("first_lines"), np.ndarray):
            meta["first_lines"] = meta["first_lines"][index]
        return replace(self, words=self.words[tok], tags=self.tags[tok], offsets=offsets, columns=cols, meta=meta)

    @property
    def sentence_ids(self) -> np.ndarray:
        """Each sentence's index in the corpus it was first read as (kept through ``subset``): the
        key of its random stream in perturbations."""
        ids = self.meta.get("sentence_ids")
        return ids if ids is not None else np.arange(len(self), dtype=np.int64)

    def with_tags(self, tags: np.ndarray) -> Corpus:
        return replace(self, tags=tags, meta=dict(self.meta))

    def chunks(self) -> np.ndarray:
        """Entity chunks as an ``int64[n, 4]`` array of (sentence, start, end, type); IOB2 with
        conlleval semantics for a stray ``I-``; ``start``/``end`` are global token positions
        (end exclusive)."""
        return extract_chunks(self.tags, self.offsets)


def concat(corpora: Sequence[Corpus], lang: str | None = None) -> Corpus:
    """Concatenate corpora; words are re-interned into the first corpus's vocabulary copy."""
    if not corpora:
        raise XnerError("nothing to concatenate")
    first = corpora[0]
    vocab = first.vocab.copy()
    labels = first.labels
    words, tags, lengths, cols = [], [], [], []
    keep_cols = all(c.columns is not None for c in corpora)
    for c in corpora:
        if c.labels != labels:
            tags.append(c.labels.remap_to(labels)[c.tags])
        else:
            tags.append(c.tags)
        if c.vocab is first.vocab:
            words.append(c.words)
        else:
            table = vocab.add_many(c.vocab.strings)
            words.append(table[c.words] if c.words.size else c.words)
        lengths.append(c.lengths)
        if keep_cols:
            cols.extend(c.columns)  # type: ignore[arg-type]
    ln = np.concatenate(lengths)
    offsets = np.zeros(ln.size + 1, dtype=np.int64)
    np.cumsum(ln, out=offsets[1:])
    return Corpus(np.concatenate(words), np.concatenate(tags), offsets, vocab, labels,
                  lang if lang is not None else first.lang, "+".join(c.source for c in corpora),
                  cols if keep_cols else None)


@lazy_njit
def gather_spans(offsets: np.ndarray, index: np.ndarray) -> np.ndarray:
    n = 0
    for k in range(index.shape[0]):
        n += offsets[index[k] + 1] - offsets[index[k]]
    out = np.empty(n, dtype=np.int64)
    p = 0
    for k in range(index.shape[0]):
        for i in range(offsets[index[k]], offsets[index[k] + 1]):
            out[p] = i
            p += 1
    return out


@lazy_njit
def extract_chunks(tags: np.ndarray, offsets: np.ndarray, strict: bool = False) -> np.ndarray:
    """(sentence, start, end, type) of every chunk, ordered by start.

    Default (conlleval): a chunk starts at ``B-X`` or at an ``I-X`` that does not continue an ``X``
    chunk.  ``strict`` (IOB2): only ``B-X`` starts a chunk; a stray ``I-X`` belongs to none.
    Chunks never cross sentences.
    """
    out = np.empty((tags.shape[0], 4), dtype=np.int64)
    n = 0
    for s in range(offsets.shape[0] - 1):
        start = -1
        typ = -1
        for i in range(offsets[s], offsets[s + 1]):
            t = tags[i]
            k = (t - 1) // 2 if t != 0 else -1
            is_b = t != 0 and t % 2 == 1
            # close the open chunk unless this token continues it
            if start >= 0 and (t == 0 or is_b or k != typ):
                out[n, 0] = s
                out[n, 1] = start
                out[n, 2] = i
                out[n, 3] = typ
                n += 1
                start = -1
            if start < 0 and t != 0 and (is_b or not strict):
                start = i
                typ = k
        if start >= 0:
            out[n, 0] = s
            out[n, 1] = start
            out[n, 2] = offsets[s + 1]
            out[n, 3] = typ
            n += 1
    return out[:n].copy()
