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
from pathlib import Path

import numpy as np

from xner.corpus import Corpus, concat
from xner.fingerprint import corpus_sha256

__all__ = ["Material"]


class Material:
    def __init__(self, source, scheme: str = "standard", split_seed: int = 42, train_cap: int = 0, test_cap: int = 0,
                 tested: tuple[str, ...] | list[str] = ()):
        self.source = source
        self.tested = tuple(tested)  # the sweep's targets: their held-out text leaves every language's text
        self.scheme = scheme
        self.split_seed = int(split_seed)
        self.train_cap = int(train_cap or 0)
        self.test_cap = int(test_cap or 0)
        self._corpora: dict[tuple[str, str], Corpus] = {}
        self._sha: dict[tuple[str, str], str] = {}
        self._parts: dict[tuple[str, int, int], Corpus] = {}
        self._held: dict[tuple[str, str], set[bytes]] = {}

    @classmethod
    def of(cls, source, cfg: dict) -> Material:
        return cls(source, cfg.get("split_scheme", "standard"), cfg.get("split_seed", 42),
                   cfg.get("train_max_sentences", 0), cfg.get("test_max_sentences", 0), cfg.get("targets") or ())

    def describe(self) -> dict:
        """The split and caps (part of every cell's identity)."""
        out = {"scheme": self.scheme, "seed": self.split_seed if self.scheme == "study" else None,
               "train_max_sentences": self.train_cap, "test_max_sentences": self.test_cap}
        if self.tested:  # whose test text was taken out of every training text
            out["heldout_of"] = sorted(self.tested)
        return out

    def corpus(self, lang: str, split: str) -> Corpus:
        """``split`` (train or test) of ``lang`` under the scheme, capped."""
        from xner.splits import load_split

        key = (lang, split)
        if key not in self._corpora:
            c = load_split(self.source, lang, split, self.scheme, self.split_seed)
            if split == "train":
                c = self.without_heldout(c, lang)  # a sentence whose text is also a test/dev sentence
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

    def part(self, lang: str, sentences: int = 0, seed: int = 0, share: int = 0) -> Corpus:
        """A teacher's share of ``lang``'s training material: all of it (``sentences`` 0, or as many
        as it has), else ``sentences`` of them: slice ``share`` (0: the first ``sentences``) of a
        permutation seeded by ``seed`` (the teacher's training seed), kept in corpus order; the same
        seed gives nested subsets, different shares of one seed disjoint ones."""
        full = self.train(lang)
        if not sentences or (sentences >= len(full) and not share):
            return full
        key = (lang, int(sentences), int(seed), int(share))
        if key not in self._parts:
            a = int(share) * int(sentences)
            if a + int(sentences) > len(full):
                raise ValueError(f"share {share} of {sentences} sentences needs {a + int(sentences)} of {lang}, "
                                 f"which has {len(full)}")
            idx = np.sort(np.random.default_rng(int(seed)).permutation(len(full))[a: a + int(sentences)])
            c = full.subset(idx)
            c.meta["budget"] = {"sentences": int(sentences), "seed": int(seed), **({"share": int(share)} if share else {})}
            self._parts[key] = c
        return self._parts[key]

    def part_sha256(self, lang: str, sentences: int = 0, seed: int = 0, share: int = 0) -> str:
        """Content fingerprint of :meth:`part` (that of the whole material when it is all of it)."""
        if not sentences or (sentences >= len(self.train(lang)) and not share):
            return self.sha256(lang, "train")
        key = (lang, f"part:{int(sentences)}:{int(seed)}:{int(share)}")
        if key not in self._sha:
            self._sha[key] = corpus_sha256(self.part(lang, sentences, seed, share))
        return self._sha[key]

    def training_parts(self, parts) -> Corpus:
        """The union of (language, seed, sentences[, share]) parts (``plan.material_parts``: e.g. a
        student's teachers'), per language in order of first appearance: a language's whole material if
        any part is all of it, else the union of its parts' sentences."""
        by_lang: dict[str, list] = {}
        for lang, seed, n, *rest in parts:
            by_lang.setdefault(lang, []).append((int(seed), int(n), int(rest[0]) if rest else 0))
        out = []
        for lang, ps in by_lang.items():
            full = self.train(lang)
            if any(not n or (n >= len(full) and not sh) for _, n, sh in ps):
                out.append(full)
            elif len(ps) == 1:
                out.append(self.part(lang, ps[0][1], ps[0][0], ps[0][2]))
            else:
                idx = np.unique(np.concatenate([np.random.default_rng(s).permutation(len(full))[sh * n: (sh + 1) * n]
                                                for s, n, sh in ps]))
                out.append(full.subset(idx))
        return out[0] if len(out) == 1 else concat(out, lang="+".join(by_lang))

    def training(self, langs: tuple[str, ...] | list[str]) -> Corpus:
        """The training material of several languages, as one corpus."""
        parts = [self.train(x) for x in langs]
        return parts[0] if len(parts) == 1 else concat(parts, lang="+".join(langs))

    def heldout(self, lang: str) -> set[bytes]:
        """Content hashes of every sentence ``lang``'s models are tested or validated on: the test split
        under the scheme, uncapped, and (standard scheme) the dev split; the study's split pools dev,
        train and extra, so its test part is all that is held out."""
        from xner.fingerprint import sentence_hashes
        from xner.splits import load_split

        key = (lang, "heldout")
        if key not in self._held:
            held = set(sentence_hashes(load_split(self.source, lang, "test", self.scheme, self.split_seed)))
            if self.scheme != "study" and self.source.has(lang, "dev"):
                held |= set(sentence_hashes(self.source.load(lang, "dev")))
            self._held[key] = held
        return self._held[key]

    def without_heldout(self, c: Corpus, lang: str) -> Corpus:
        """``c`` without the sentences whose text is a held-out sentence of ``lang`` or of any language
        the sweep tests on (by content: WikiANN repeats sentences across splits, and entity-only lines
        such as "David Coulthard" across languages); how many were dropped is in ``meta["heldout_dropped"]``."""
        from xner.fingerprint import sentence_hashes

        held = set(self.heldout(lang))
        for t in self.tested:
            if t != lang:
                held |= self.heldout(t)
        keep = np.fromiter((h not in held for h in sentence_hashes(c)), dtype=bool, count=len(c))
        if keep.all():
            return c
        out = c.subset(np.flatnonzero(keep))
        out.meta = {**c.meta, "heldout_dropped": int((~keep).sum())}
        return out

    def unlabelled(self, lang: str) -> list[Corpus]:
        """The text a pretraining step may read for ``lang`` (its tags are never used): its training
        portion under the split scheme, uncapped, and (standard scheme) its ``extra`` split where the
        source has one (the study's split already pools it); never a sentence whose text is a test or
        dev sentence (checked by content)."""
        from xner.splits import load_split

        out = [load_split(self.source, lang, "train", self.scheme, self.split_seed)]
        if self.scheme != "study" and self.source.has(lang, "extra"):
            out.append(self.source.load(lang, "extra"))
        return [self.without_heldout(c, lang) for c in out]

    def unlabelled_sha256(self, lang: str) -> list[str]:
        """Content fingerprints of :meth:`unlabelled` (computed once per language)."""
        key = (lang, "unlabelled")
        if key not in self._sha:
            self._sha[key] = [corpus_sha256(c) for c in self.unlabelled(lang)]
        return self._sha[key]

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

    def model_text(self, model_dir: str | Path, n: int = 256) -> Corpus | None:
        """Up to ``n`` sentences of the text a model of this sweep was trained on, from its run card:
        a teacher's or native model's training languages, a student's (unlabelled) target text; static
        int8 calibrates on it.  None when the card names none."""
        import json

        try:
            card = json.loads((Path(model_dir) / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        langs = [t["lang"] for t in card.get("train") or []] if card.get("kind") == "train" else \
            [card["target"]] if card.get("kind") == "distill" and card.get("target") else []
        parts = [self.train(x) for x in langs if x]
        if not parts:
            return None
        per = max(1, n // len(parts))
        picked = [p.subset(np.arange(min(per, len(p)))) for p in parts]
        return picked[0] if len(picked) == 1 else concat(picked)
