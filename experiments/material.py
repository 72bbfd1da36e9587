"""What a sweep's models see: the corpora of each language under the sweep's split scheme and caps.

One object answers, for training, distillation, export gates, evaluation, overlap and the study's
P1/P2 perturbations alike, so that "training material" always means what the model was trained on:
the first ``train_max_sentences`` of the train split when a cap applies, the study's pooled 80/20
split when ``split_scheme = "study"`` (its test part never trained on), and every language a model
saw.  Corpora are deterministic functions of (source, scheme, seed, caps), so a Ray worker rebuilding
them gets the driver's very sentences.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from xner.corpus import Corpus, concat
from xner.fingerprint import corpus_sha256

__all__ = ["Material"]


class Material:
    def __init__(self, source, scheme: str = "standard", split_seed: int = 42, train_cap: int = 0, test_cap: int = 0):
        self.source = source
        self.scheme = scheme
        self.split_seed = int(split_seed)
        self.train_cap = int(train_cap or 0)
        self.test_cap = int(test_cap or 0)
        self._corpora: dict[tuple[str, str], Corpus] = {}
        self._sha: dict[tuple[str, str], str] = {}

    @classmethod
    def of(cls, source, cfg: dict) -> Material:
        return cls(source, cfg.get("split_scheme", "standard"), cfg.get("split_seed", 42),
                   cfg.get("train_max_sentences", 0), cfg.get("test_max_sentences", 0))

    def describe(self) -> dict:
        """The split and caps (part of every cell's identity)."""
        return {"scheme": self.scheme, "seed": self.split_seed if self.scheme == "study" else None,
                "train_max_sentences": self.train_cap, "test_max_sentences": self.test_cap}

    def corpus(self, lang: str, split: str) -> Corpus:
        """``split`` (train or test) of ``lang`` under the scheme, capped."""
        from xner.splits import load_split

        key = (lang, split)
        if key not in self._corpora:
            c = load_split(self.source, lang, split, self.scheme, self.split_seed)
            cap = self.train_cap if split == "train" else self.test_cap
            if cap and cap < len(c):
                c = c.subset(np.arange(cap))
                c.meta["cap"] = cap
            self._corpora[key] = c
        return self._corpora[key]

    def train(self, lang: str) -> Corpus:
        return self.corpus(lang, "train")

    def test(self, lang: str) -> Corpus:
        return self.corpus(lang, "test")

    def training(self, langs: tuple[str, ...] | list[str]) -> Corpus:
        """The training material of several languages, as one corpus."""
        parts = [self.train(x) for x in langs]
        return parts[0] if len(parts) == 1 else concat(parts, lang="+".join(langs))

    def sha256(self, lang: str, split: str) -> str:
        """Content fingerprint of ``corpus(lang, split)``."""
        key = (lang, split)
        if key not in self._sha:
            self._sha[key] = corpus_sha256(self.corpus(lang, split))
        return self._sha[key]

    @cached_property
    def source_name(self) -> str:
        import os

        name = str(self.source.name)
        return name if name.startswith("hub:") else os.path.abspath(name)
