"""Standard splits and the reference study's split.

The study pooled every sentence of a language, capped the pool at 17,003 sentences and split it
80/20 into train and test (no dev set, no seed).  Here the pool is shuffled with a seeded
permutation, so the split is deterministic for a seed.
"""

from __future__ import annotations

import numpy as np

from .corpus import Corpus, concat
from .errors import XnerError

STUDY_CAP = 17_003
STUDY_TEST_SHARE = 0.2
SCHEMES = ("standard", "study")


def study_split(pool: list[Corpus], seed: int = 42, cap: int = STUDY_CAP,
                test_share: float = STUDY_TEST_SHARE) -> dict[str, Corpus]:
    """Pool the given corpora (all splits of one language), cap, shuffle with ``seed``, split."""
    if not pool:
        raise XnerError("study split: nothing to pool")
    if not 0 < test_share < 1:
        raise XnerError("test share must be between 0 and 1")
    full = concat(pool)
    n = len(full)
    order = np.random.default_rng(seed).permutation(n)[: min(n, cap)]
    n_test = int(round(order.size * test_share))
    train = full.subset(order[: order.size - n_test])
    test = full.subset(order[order.size - n_test :])
    for name, c in (("train", train), ("test", test)):
        c.meta.update(split=name, scheme="study", seed=seed, cap=cap, pool=int(n))
    return {"train": train, "test": test}


def load_split(source, lang: str, split: str, scheme: str = "standard", seed: int = 42) -> Corpus:
    """One split of ``lang`` from a data source under the given scheme."""
    if scheme == "standard":
        return source.load(lang, split)
    if scheme == "study":
        if split not in ("train", "test"):
            raise XnerError("the study split has only train and test")
        parts = [source.load(lang, s) for s in ("train", "dev", "test", "extra") if source.has(lang, s)]
        return study_split(parts, seed)[split]
    raise XnerError(f"unknown split scheme {scheme!r}; choose standard or study")
