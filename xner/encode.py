"""Word -> sub-token encoding with a cache, and numba-built model inputs.

Each distinct word string is tokenized once (``add_special_tokens=False``, as the fast tokenizers
do per word with ``is_split_into_words``) and cached as a CSR of sub-token ids.  A corpus is then
encoded by array gathers only: only words new to the cache reach the tokenizer.

Alignment rules:

* the first sub-token of each word carries its label (``label_all=True`` labels every sub-token);
* a word with no sub-tokens (an empty or unknown-to-the-normaliser string) becomes ``[UNK]``, so
  every word gets a prediction;
* a sentence longer than the model's limit is split into consecutive segments of whole words, and
  a single word longer than the limit keeps its first pieces.  Nothing is lost; what was affected
  is counted in :class:`EncodeStats`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np

from .corpus import Corpus
from .errors import XnerError
from .jit import lazy_njit

IGNORE = -100


@dataclass
class EncodeStats:
    sentences: int = 0
    words: int = 0
    segments: int = 0
    split_sentences: int = 0  # sentences spread over several segments
    truncated_words: int = 0  # words whose sub-tokens were cut at the limit
    empty_words: int = 0  # words with no sub-tokens, encoded as [UNK]
    new_words_tokenized: int = 0

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Encoded:
    """Model inputs for a corpus: one row per segment (a sentence or part of one)."""

    ids: np.ndarray  # int32[n_pieces_total] concatenated rows incl. special tokens
    row_offsets: np.ndarray  # int64[n_seg + 1]
    seg_sent: np.ndarray  # int64[n_seg]
    seg_tok: np.ndarray  # int64[n_seg + 1]: corpus tokens of segment s are seg_tok[s]:seg_tok[s+1]
    first_pos: np.ndarray  # int32[n_tokens]: position of each word's first sub-token in its row
    piece_word: np.ndarray  # int64[n_pieces_total]: corpus token of each piece (-1 for specials)
    pad_id: int
    stats: EncodeStats

    @property
    def n_segments(self) -> int:
        return self.seg_sent.size

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.row_offsets)

    def row(self, s: int) -> np.ndarray:
        return self.ids[self.row_offsets[s] : self.row_offsets[s + 1]]

    def labels_for(self, tags: np.ndarray, label_all: bool = False) -> np.ndarray:
        """Per-piece labels (``-100`` on specials and, unless ``label_all``, on later sub-tokens)."""
        return _piece_labels(self.piece_word, self.row_offsets, self.seg_tok, self.first_pos,
                             np.ascontiguousarray(tags, dtype=np.int64), label_all)

    def batches(self, token_budget: int = 8192, max_batch: int = 256, sort: bool = True,
                max_pad: float = 0.25) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Length-bucketed padded batches: (segment indices, input_ids int64[b, L], attention_mask).

        Rows go in order of length; a batch closes at ``token_budget`` padded tokens, ``max_batch``
        rows, or when the next row is more than ``max_pad`` (plus 8 tokens) longer than the batch's
        shortest, so that no batch spends much of its work on padding."""
        order = np.argsort(self.lengths, kind="stable") if sort else np.arange(self.n_segments)
        lengths = self.lengths
        i = 0
        n = order.size
        while i < n:
            j = i
            longest = 0
            shortest = int(lengths[order[i]])
            while j < n and j - i < max_batch:
                L = max(longest, int(lengths[order[j]]))
                if j > i and ((j - i + 1) * L > token_budget or (sort and L > shortest * (1 + max_pad) + 8)):
                    break
                longest = L
                j += 1
            idx = order[i:j]
            ids, mask = pad_rows(self.ids, self.row_offsets, idx, longest, self.pad_id)
            yield idx, ids, mask
            i = j


@lazy_njit
def pad_rows(ids: np.ndarray, row_offsets: np.ndarray, idx: np.ndarray, width: int, pad: int):
    out = np.full((idx.shape[0], width), pad, dtype=np.int64)
    mask = np.zeros((idx.shape[0], width), dtype=np.int64)
    for r in range(idx.shape[0]):
        a = row_offsets[idx[r]]
        b = row_offsets[idx[r] + 1]
        for k in range(b - a):
            out[r, k] = ids[a + k]
            mask[r, k] = 1
    return out, mask


@lazy_njit
def _segments(offsets: np.ndarray, wlen: np.ndarray, budget: int):
    """Greedy packing of whole words into segments of at most ``budget`` pieces."""
    n_tok = wlen.shape[0]
    seg_sent = np.empty(n_tok + offsets.shape[0], dtype=np.int64)
    seg_tok = np.empty(n_tok + offsets.shape[0] + 1, dtype=np.int64)
    ns = 0
    split = 0
    for s in range(offsets.shape[0] - 1):
        a = offsets[s]
        b = offsets[s + 1]
        start = a
        used = 0
        first = True
        for i in range(a, b):
            w = min(wlen[i], budget)
            if used + w > budget and i > start:
                seg_sent[ns] = s
                seg_tok[ns] = start
                ns += 1
                if first:
                    split += 1
                    first = False
                start = i
                used = 0
            used += w
        seg_sent[ns] = s
        seg_tok[ns] = start
        ns += 1
    seg_tok[ns] = n_tok
    return seg_sent[:ns].copy(), seg_tok[: ns + 1].copy(), split


@lazy_njit
def _gather(seg_tok: np.ndarray, tok_start: np.ndarray, tok_len: np.ndarray, pieces: np.ndarray,
            budget: int, cls_id: int, sep_id: int, unk_id: int):
    n_seg = seg_tok.shape[0] - 1
    n_tok = tok_start.shape[0]
    row_offsets = np.zeros(n_seg + 1, dtype=np.int64)
    for s in range(n_seg):
        n = 2
        for i in range(seg_tok[s], seg_tok[s + 1]):
            n += max(1, min(tok_len[i], budget))
        row_offsets[s + 1] = row_offsets[s] + n
    total = row_offsets[n_seg]
    ids = np.empty(total, dtype=np.int32)
    piece_word = np.full(total, -1, dtype=np.int64)
    first_pos = np.empty(n_tok, dtype=np.int32)
    for s in range(n_seg):
        p = row_offsets[s]
        ids[p] = cls_id
        p += 1
        for i in range(seg_tok[s], seg_tok[s + 1]):
            first_pos[i] = p - row_offsets[s]
            m = min(tok_len[i], budget)
            if m == 0:
                ids[p] = unk_id
                piece_word[p] = i
                p += 1
            for k in range(m):
                ids[p] = pieces[tok_start[i] + k]
                piece_word[p] = i
                p += 1
        ids[p] = sep_id
    return ids, row_offsets, piece_word, first_pos


@lazy_njit
def _piece_labels(piece_word, row_offsets, seg_tok, first_pos, tags, label_all):
    out = np.full(piece_word.shape[0], -100, dtype=np.int64)
    for s in range(row_offsets.shape[0] - 1):
        base = row_offsets[s]
        for i in range(seg_tok[s], seg_tok[s + 1]):
            out[base + first_pos[i]] = tags[i]
    if label_all:
        for p in range(piece_word.shape[0]):
            if piece_word[p] >= 0 and out[p] == -100:
                t = tags[piece_word[p]]
                # a continuation piece of a B-X word is labelled I-X
                out[p] = t + 1 if t % 2 == 1 else t
    return out


@lazy_njit
def gather_first(logits_rows: np.ndarray, seg_idx: np.ndarray, seg_tok: np.ndarray, first_pos: np.ndarray,
                 out: np.ndarray) -> None:
    """Copy each word's first-sub-token vector of a batch into ``out[token]``."""
    for r in range(seg_idx.shape[0]):
        s = seg_idx[r]
        for i in range(seg_tok[s], seg_tok[s + 1]):
            out[i] = logits_rows[r, first_pos[i]]


class _Grow:
    """An append-only numpy buffer with doubling capacity: appends are amortised O(1), and a view of
    the filled prefix taken earlier stays valid (appends write past it; a larger buffer is new)."""

    def __init__(self, dtype):
        self.buf = np.zeros(1024, dtype=dtype)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.n + values.size
        if need > self.buf.size:
            bigger = np.zeros(max(need, 2 * self.buf.size), dtype=self.buf.dtype)
            bigger[: self.n] = self.buf[: self.n]
            self.buf = bigger
        self.buf[self.n : need] = values
        self.n = need

    def view(self) -> np.ndarray:
        return self.buf[: self.n]


class WordEncoder:
    """Caches sub-token ids per word string for one tokenizer.

    Safe to share between threads: the cache is changed and read under one lock (the Rust tokenizer
    releases the GIL while it works, so unguarded appends interleave).  ``max_words`` bounds the
    cache for long-running services: when a new batch would pass it, the cache starts afresh.
    """

    def __init__(self, tokenizer, max_length: int = 128, max_words: int | None = None, family=None):
        if not getattr(tokenizer, "is_fast", False):
            raise XnerError("a fast (Rust) tokenizer is required")
        self.tokenizer = tokenizer
        self.max_length = int(min(max_length, getattr(tokenizer, "model_max_length", max_length) or max_length))
        if self.max_length < 3:
            raise XnerError("max_length must be at least 3")
        if max_words is not None and max_words < 1:
            raise XnerError("the word cache needs room for at least one word")
        self.max_words = max_words
        if family is not None:  # the family's spec names the tokens around a segment
            self.cls_id = getattr(tokenizer, family.cls_token + "_id")
            self.sep_id = getattr(tokenizer, family.sep_token + "_id")
        else:
            self.cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
            self.sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.unk_id = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
        if self.cls_id is None or self.sep_id is None:
            raise XnerError("tokenizer has no CLS/BOS or SEP/EOS token")
        self._lock = threading.RLock()
        self.tokenized = 0
        self.resets = 0
        self._reset()

    def _reset(self) -> None:
        self._index: dict[str, int] = {}
        self._starts = _Grow(np.int64)
        self._lens = _Grow(np.int64)
        self._store = _Grow(np.int32)
        # per-vocabulary (start, length) tables, extended as an append-only vocabulary grows
        self._tables: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @property
    def _pieces(self) -> np.ndarray:
        return self._store.view()

    def __len__(self) -> int:
        return len(self._index)

    @property
    def cache_pieces(self) -> int:
        """Sub-tokens held by the cache (for memory bounds)."""
        return self._store.n

    def add_words(self, words: list[str], batch: int = 4096) -> int:
        """Tokenize the given strings that are new to the cache; returns how many were new."""
        with self._lock:
            new = [w for w in dict.fromkeys(words) if w not in self._index]
            if not new:
                return 0
            if self.max_words is not None and len(self._index) + len(new) > self.max_words and self._index:
                self._reset()
                self.resets += 1
                new = list(dict.fromkeys(words))
            backend = self.tokenizer.backend_tokenizer  # the Rust tokenizer: same pipeline, no per-word wrapping
            for k in range(0, len(new), batch):
                part = new[k : k + batch]
                enc = [e.ids for e in backend.encode_batch(part, add_special_tokens=False)]
                lens = np.fromiter((len(ids) for ids in enc), dtype=np.int64, count=len(enc))
                starts = self._store.n + np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
                base = len(self._index)
                self._index.update((w, base + i) for i, w in enumerate(part))
                self._starts.extend(starts)
                self._lens.extend(lens)
                self._store.extend(np.fromiter((t for ids in enc for t in ids), dtype=np.int32, count=int(lens.sum())))
            self.tokenized += len(new)
            return len(new)

    def _entries(self, strings: list[str]) -> np.ndarray:
        self.add_words(strings)
        index = self._index
        return np.fromiter((index[s] for s in strings), dtype=np.int64, count=len(strings))

    def vocab_table(self, vocab) -> tuple[np.ndarray, np.ndarray]:
        """(start, length) into the piece store for every id of a corpus vocabulary.

        Tables are kept per vocabulary and only its new tail is looked up; a copied vocabulary
        (a perturbed corpus) reuses its parent's table for the shared prefix.
        """
        with self._lock:
            return self._vocab_table(vocab)[:2]

    def _vocab_table(self, vocab) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(vocab)
        resets = self.resets
        table = self._tables.get(vocab)
        if table is None:  # the nearest ancestor with a table shares a prefix of ids
            shared, anc = n, vocab
            while anc.parent is not None and anc not in self._tables:
                shared = min(shared, anc.base)
                anc = anc.parent
            table = self._tables[anc][:shared] if anc in self._tables else np.zeros(0, dtype=np.int64)
        if table.size < n:
            tail = self._entries(vocab.strings[table.size : n])
            if self.resets != resets:  # the cache started afresh: every entry of the table is stale
                table, tail = np.zeros(0, dtype=np.int64), self._entries(vocab.strings[:n])
            table = np.concatenate([table, tail])
            self._tables[vocab] = table
        starts, lens = self._starts.view(), self._lens.view()
        return starts[table[:n]], lens[table[:n]], self._store.view()

    def encode(self, corpus: Corpus) -> Encoded:
        with self._lock:
            before = self.tokenized
            vstart, vlen, pieces = self._vocab_table(corpus.vocab)
            new = self.tokenized - before
        tok_start = vstart[corpus.words]
        tok_len = vlen[corpus.words]
        budget = self.max_length - 2
        seg_sent, seg_tok, split = _segments(corpus.offsets, np.maximum(tok_len, 1), budget)
        ids, row_offsets, piece_word, first_pos = _gather(seg_tok, tok_start, tok_len, pieces, budget,
                                                          self.cls_id, self.sep_id, self.unk_id)
        stats = EncodeStats(len(corpus), corpus.n_tokens, int(seg_sent.size), int(split),
                            int((tok_len > budget).sum()), int((tok_len == 0).sum()), new)
        return Encoded(ids, row_offsets, seg_sent, seg_tok, first_pos, piece_word, self.pad_id, stats)
