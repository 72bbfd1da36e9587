"""Replacement pools for entity perturbations: Faker locales, WikiANN chunks by type, user files.

A pool source is written ``faker:LOCALE``, ``wikiann:LANG`` (that language's train split from the
data folder), ``file:PATH`` (one replacement per line, words separated by spaces) or ``auto`` (the
target language's own Faker locale, else the nearest one, see ``LOCALES``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from xner.corpus import Corpus
from xner.errors import XnerError

__all__ = ["LOCALES", "corpus_items", "faker_items", "resolve_pool"]

#: language -> Faker locale; ``own`` says whether Faker has the language itself
LOCALES: dict[str, tuple[str, bool]] = {
    "fr": ("fr_FR", True), "ar": ("ar_AA", True), "en": ("en_US", True), "es": ("es_ES", True),
    "cs": ("cs_CZ", True), "id": ("id_ID", True), "nl": ("nl_NL", True), "it": ("it_IT", True),
    "fa": ("fa_IR", True), "hi": ("hi_IN", True), "sk": ("sk_SK", True), "de": ("de_DE", True),
    "pt": ("pt_PT", True), "ca": ("es_CA", True),  # Faker's es_CA is Catalonia
    "ms": ("id_ID", False), "jv": ("id_ID", False), "af": ("nl_NL", False), "br": ("fr_FR", False),
    "oc": ("fr_FR", False), "sco": ("en_GB", False), "cy": ("en_GB", False), "scn": ("it_IT", False),
    "an": ("es_ES", False), "ast": ("es_ES", False),
}


def faker_items(locale: str, kind: str, n: int = 3000, seed: int = 0) -> list[list[str]]:
    """Distinct person names (``PER``) or place names (``LOC``) of a Faker locale, split into words."""
    from faker import Faker
    from faker.config import AVAILABLE_LOCALES

    if locale not in AVAILABLE_LOCALES:
        raise XnerError(f"Faker has no locale {locale!r}")
    fake = Faker(locale)
    fake.seed_instance(seed)
    seen: dict[str, None] = {}
    gens = [fake.city, fake.country] if kind == "LOC" else [lambda: f"{fake.first_name()} {fake.last_name()}"]
    if kind == "LOC" and hasattr(fake, "state"):
        gens.append(fake.state)
    tries = 0
    while len(seen) < n and tries < 8 * n:
        s = gens[tries % len(gens)]().strip()
        tries += 1
        if s:
            seen.setdefault(s, None)
    return [s.split() for s in seen]


def _faker_locale(lang: str) -> str | None:
    from faker.config import AVAILABLE_LOCALES

    for cand in (f"{lang}_{lang.upper()}", lang):
        if cand in AVAILABLE_LOCALES:
            return cand
    return next((loc for loc in sorted(AVAILABLE_LOCALES) if loc.split("_")[0] == lang), None)


@lru_cache(maxsize=32)
def _faker_tuple(locale: str, kind: str, seed: int) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(x) for x in faker_items(locale, kind, seed=seed))


def _cached_faker(locale: str, kind: str, seed: int) -> list[list[str]]:
    return [list(x) for x in _faker_tuple(locale, kind, seed)]


def corpus_items(c: Corpus, typ: str) -> list[list[str]]:
    """Distinct entity chunks of a type in a corpus."""
    if typ not in c.labels.types:
        return []
    k = c.labels.types.index(typ)
    ch = c.chunks()
    words = c.vocab.strings
    seen: dict[tuple[str, ...], None] = {}
    for _, a, b, _t in ch[ch[:, 3] == k].tolist():
        seen.setdefault(tuple(words[w] for w in c.words[a:b].tolist()), None)
    return [list(x) for x in seen]


def resolve_pool(spec: str, kind: str, target_lang: str, source=None, seed: int = 0) -> tuple[list[list[str]], str]:
    """(items, description) for a pool spec."""
    if spec == "auto":
        loc, own = LOCALES.get(target_lang) or (_faker_locale(target_lang), True)
        if loc:
            return _cached_faker(loc, kind, seed), f"faker:{loc}" + ("" if own else f" (nearest to {target_lang})")
        if source is not None and source.has(target_lang, "train"):
            return resolve_pool(f"wikiann:{target_lang}", kind, target_lang, source, seed)
        raise XnerError(f"no default name pool for {target_lang!r}; pass --pool faker:LOCALE or wikiann:LANG")
    if spec.startswith("faker:"):
        return _cached_faker(spec[6:], kind, seed), spec
    if spec.startswith("wikiann:"):
        if source is None:
            raise XnerError("a wikiann: pool needs a data folder (--data-dir)")
        items = corpus_items(source.load(spec[8:], "train"), kind)
        if not items:
            raise XnerError(f"{spec} has no {kind} chunks")
        return items, spec
    if spec.startswith("file:"):
        p = Path(spec[5:])
        if not p.is_file():
            raise XnerError(f"pool file not found: {p}")
        items = [ln.split() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if not items:
            raise XnerError(f"pool file {p} is empty")
        return items, spec
    raise XnerError(f"unknown pool {spec!r}; use auto, faker:LOCALE, wikiann:LANG or file:PATH")
