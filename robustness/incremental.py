"""Incremental evaluation: infer only what a perturbation changed.

Most perturbations leave most sentences untouched.  A perturbed cell takes the clean run's
predictions for every sentence none of whose words was edited, and runs the model only on the rest;
predictions are cached per model by the sentence's token ids *and* its word boundaries (the word
each piece belongs to), so ``Kiev.`` (one word) and ``Kiev`` ``.`` (two words) never share an entry,
and a sentence produced identically
by several perturbations, rates or seeds (or left as it was by an edit) is inferred once.

For float32 graphs this is exact: ONNX Runtime computes each row of a batch independently, so a
sentence gets the same logits in any batch (a test compares every cell with full re-inference).
Dynamically quantised (int8) graphs compute activation scales per batch, so a sentence's tags can
depend on its batch-mates; ``xner bench --suite sweep`` measures how often.
"""

from __future__ import annotations

import threading

import numpy as np

from xner.corpus import Corpus, gather_spans

__all__ = ["PredictionCache", "changed_sentences"]


def changed_sentences(perturbed: Corpus, clean: Corpus, edit: np.ndarray) -> np.ndarray:
    """bool[n_sentences]: sentences with an edited word, or another length, than in the clean corpus."""
    if len(perturbed) != len(clean):
        return np.ones(len(perturbed), dtype=bool)
    cs = np.concatenate([[0], np.cumsum(np.asarray(edit, dtype=np.int64))])
    edited = cs[perturbed.offsets[1:]] - cs[perturbed.offsets[:-1]] > 0
    return edited | (perturbed.lengths != clean.lengths)


class PredictionCache:
    """Per-word tags of sentences one model has tagged, keyed by the sentences' token ids and word
    boundaries (the sentence-relative word of every piece, specials and segment breaks included)."""

    def __init__(self, runtime, allow_batch_dependent: bool = False):
        if getattr(runtime, "batch_dependent", False) and not allow_batch_dependent:
            from xner.errors import XnerError

            raise XnerError(f"{getattr(runtime, 'variant', 'this graph')} is dynamically quantised: a sentence's tags "
                            "depend on its batch, so reusing clean predictions is not exact; use a float or static "
                            "int8 variant (export --quantize int8), --no-incremental, or --allow-batch-dependent")
        self.runtime = runtime
        self._tags: dict[tuple, dict[bytes, np.ndarray]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.inferred = 0
        self.clean: Corpus | None = None
        self.clean_pred: np.ndarray | None = None

    def _keys(self, corpus: Corpus) -> list[bytes]:
        return self._keys_and_encoding(corpus)[0]

    def _keys_and_encoding(self, corpus: Corpus) -> tuple[list[bytes], object]:
        enc = self.runtime.encoder.encode(corpus)
        first = np.searchsorted(enc.seg_sent, np.arange(len(corpus)), side="left")
        last = np.searchsorted(enc.seg_sent, np.arange(len(corpus)), side="right")
        ro = enc.row_offsets
        # word of each piece relative to the sentence's first word (-1 for specials): two sentences
        # with the same pieces but other word boundaries get other keys
        rel = np.where(enc.piece_word >= 0, enc.piece_word - corpus.offsets[enc.seg_sent.repeat(np.diff(ro))], -1)
        return [enc.ids[ro[a] : ro[b]].tobytes() + b"|" + rel[ro[a] : ro[b]].astype(np.int32).tobytes()
                for a, b in zip(first.tolist(), last.tolist(), strict=True)], enc

    def set_clean(self, corpus: Corpus, pred: np.ndarray) -> None:
        """The clean test set and its predictions: what unchanged sentences take."""
        self.clean, self.clean_pred = corpus, pred
        self.add(corpus, pred)

    def add(self, corpus: Corpus, pred: np.ndarray) -> None:
        """Remember the tags ``pred`` (aligned with ``corpus``) of every sentence of ``corpus``."""
        table = self._table(corpus)
        keys = self._keys(corpus)
        with self._lock:
            for s, k in enumerate(keys):
                table.setdefault(k, pred[corpus.offsets[s] : corpus.offsets[s + 1]].copy())

    def _table(self, corpus: Corpus) -> dict[bytes, np.ndarray]:
        with self._lock:
            return self._tags.setdefault(tuple(corpus.labels.tags), {})

    def predict(self, corpus: Corpus, edit: np.ndarray) -> tuple[np.ndarray, int]:
        """Tags for a perturbed copy of the clean test set (:meth:`set_clean`): clean predictions where
        nothing changed, the cache where a sentence was seen, the model for the rest; returns (tags,
        sentences inferred)."""
        clean, clean_pred = self.clean, self.clean_pred
        if clean is None or clean_pred is None:
            raise ValueError("set_clean first: incremental evaluation needs the clean predictions")
        pred = np.empty(corpus.n_tokens, dtype=np.int8)
        changed = changed_sentences(corpus, clean, edit)
        same = np.flatnonzero(~changed)
        if same.size:
            pred[gather_spans(corpus.offsets, same)] = clean_pred[gather_spans(clean.offsets, same)]
        idx = np.flatnonzero(changed)
        if not idx.size:
            return pred, 0
        sub = corpus.subset(idx)
        keys, sub_enc = self._keys_and_encoding(sub)
        table = self._table(corpus)
        with self._lock:
            todo = list(dict.fromkeys(k for k in keys if k not in table))
        if todo:
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            pick = [first[k] for k in todo]
            if pick == list(range(len(keys))):  # every changed sentence is new and unique: its encoding as is
                run, enc = sub, sub_enc
            else:
                run = sub.subset(pick)
                enc = self.runtime.encoder.encode(run)
            tags = self.runtime.predict(run, enc)
            with self._lock:
                for j, k in enumerate(todo):
                    table.setdefault(k, tags[run.offsets[j] : run.offsets[j + 1]].copy())
        with self._lock:
            self.inferred += len(todo)
            self.hits += len(keys) - len(todo)
            for s, k in zip(idx.tolist(), keys, strict=True):
                pred[corpus.offsets[s] : corpus.offsets[s + 1]] = table[k]
        return pred, len(todo)
