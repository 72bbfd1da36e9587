"""Small NER corpora generated with Faker's localized providers, in several scripts.

Used by the tests so they pass on a machine without ../shared/data.  Deterministic for a seed.
"""

from __future__ import annotations

import random
from pathlib import Path

from faker import Faker

LOCALES = {"en": "en_US", "ru": "ru_RU", "ar": "ar_AA", "hi": "hi_IN", "fa": "fa_IR", "es": "es_ES",
           "id": "id_ID", "ms": "id_ID", "el": "el_GR", "ja": "ja_JP"}


def _chunk(words: list[str], typ: str) -> list[tuple[str, str]]:
    return [(w, ("B-" if i == 0 else "I-") + typ) for i, w in enumerate(words)]


def sentences(lang: str, n: int, seed: int = 0) -> list[list[tuple[str, str]]]:
    fake = Faker(LOCALES.get(lang, "en_US"))
    fake.seed_instance(seed)
    rng = random.Random(seed)
    filler = [w for w in fake.words(nb=60, unique=True) if w.strip()] or ["word"]
    out = []
    for _ in range(n):
        sent: list[tuple[str, str]] = []
        for _ in range(rng.randint(1, 4)):
            sent += [(rng.choice(filler), "O") for _ in range(rng.randint(0, 3))]
            kind = rng.random()
            if kind < 0.35:
                sent += _chunk(fake.name().split(), "PER")
            elif kind < 0.7:
                sent += _chunk(fake.city().split(), "LOC")
            else:
                sent += _chunk(fake.company().split()[:4], "ORG")
        sent += [(rng.choice(filler), "O") for _ in range(rng.randint(0, 2))]
        out.append(sent)
    return out


def write_tsv(path: Path, sents: list[list[tuple[str, str]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for s in sents:
            for w, t in s:
                f.write(f"{w}\t{t}\n")
            f.write("\n")


def make_data_dir(root: Path, langs: dict[str, tuple[int, int, int]], seed: int = 0) -> Path:
    """``{lang: (n_train, n_dev, n_test)}`` -> ``root/{lang}/{train,dev,test}.tsv``."""
    for k, (lang, sizes) in enumerate(langs.items()):
        for j, (split, n) in enumerate(zip(("train", "dev", "test"), sizes, strict=True)):
            write_tsv(root / lang / f"{split}.tsv", sentences(lang, n, seed=seed * 1000 + k * 10 + j))
    return root
