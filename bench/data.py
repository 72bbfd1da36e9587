"""Benchmark data: real WikiANN when a data folder is given or present, else generated text."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from xner.corpus import Corpus, concat

_SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "wikiann"


def default_data_dir(data_dir: str | None = None) -> str | None:
    d = data_dir or os.environ.get("XNER_DATA_DIR")
    if d:
        return d
    return str(_SHARED) if _SHARED.is_dir() else None


def bench_corpus(data_dir: str | None, n_tokens: int, langs: tuple[str, ...] = ("fa", "ar", "en", "hi", "ms")) -> Corpus:
    """About ``n_tokens`` tokens of WikiANN test/train sentences (repeated if needed)."""
    from xner.datadir import DataDir

    d = default_data_dir(data_dir)
    if d is None:
        return _generated(n_tokens)
    src = DataDir(d)
    parts = [src.load(lang, split) for lang in langs if (Path(d) / lang).is_dir() for split in ("test", "train")
             if src.has(lang, split)]
    if not parts:
        return _generated(n_tokens)
    c = concat(parts, lang="+".join(langs))
    reps = int(np.ceil(n_tokens / max(c.n_tokens, 1)))
    if reps > 1:
        c = concat([c] * reps)
    cut = int(np.searchsorted(c.offsets, n_tokens))
    c = c.subset(np.arange(min(cut, len(c))))
    c.source = f"wikiann:{d}"
    return c


def _generated(n_tokens: int) -> Corpus:
    rng = np.random.default_rng(0)
    words, tags, lengths = [], [], []
    total = 0
    while total < n_tokens:
        n = int(rng.integers(3, 15))
        t = np.zeros(n, dtype=np.int8)
        i = 0
        while i < n:
            if rng.random() < 0.3:
                k = int(rng.integers(0, 3))
                m = int(min(n - i, rng.integers(1, 4)))
                t[i] = 2 * k + 1
                t[i + 1 : i + m] = 2 * k + 2
                i += m
            i += 1
        words.append(rng.integers(0, 5000, n))
        tags.append(t)
        lengths.append(n)
        total += n
    from xner.corpus import WordVocab

    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    c = Corpus(np.concatenate(words), np.concatenate(tags), offsets, WordVocab(f"w{i}" for i in range(5000)))
    c.source = "generated"
    return c
