"""Replacement pools for entity perturbations: the target language's own names and places.

A pool source is written

* ``auto`` (default): of the *target* language, the same for every model evaluated on it.  Person
  names: the target's own Faker locale where Faker has one (``fa`` -> ``fa_IR``), else the target's
  training split (``wikiann:TARGET``).  Places: CLDR territory and region names in the target
  language (``cldr:TARGET``, through babel), else the target's training split;
* ``faker:LOCALE`` (given names, or "First Last" for whole chunks; cities, countries and states);
* ``cldr:LANG`` (places only: CLDR territory and region names in LANG);
* ``wikiann:LANG`` (LANG's train split from the data folder: its chunks of the type, or their first
  words for given names, that do not occur in the test set);
* ``file:PATH`` (one replacement per line, words separated by spaces);
* ``nearest`` (xner's former default: the target's Faker locale, else the nearest one, which for
  br, oc, ms, af, scn, an, ast, sco, cy and jv is the *source* language's culture; see ``NEAREST``).

Every pool says where it came from (:class:`Pool`), and the statistics carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from xner.corpus import Corpus
from xner.errors import XnerError

__all__ = ["NEAREST", "Pool", "cldr_items", "corpus_items", "faker_items", "faker_locale", "resolve_pool"]

#: xner's former fallbacks (``pool="nearest"``): a related language's Faker locale
NEAREST: dict[str, str] = {
    "ms": "id_ID", "jv": "id_ID", "af": "nl_NL", "br": "fr_FR", "oc": "fr_FR", "sco": "en_GB", "cy": "en_GB",
    "scn": "it_IT", "an": "es_ES", "ast": "es_ES", "ca": "es_CA", "ar": "ar_AA",
}


@dataclass(frozen=True)
class Pool:
    items: list[list[str]]
    spec: str  # the resolved source, e.g. faker:fa_IR
    origin: str  # in words

    def describe(self) -> dict:
        return {"pool": self.spec, "pool_origin": self.origin, "pool_items": len(self.items)}


def faker_items(locale: str, kind: str, n: int = 3000, seed: int = 0, given: bool = False) -> list[list[str]]:
    """Distinct person names (``PER``: given names with ``given``, else "First Last") or place names
    (``LOC``) of a Faker locale, split into words."""
    from faker import Faker
    from faker.config import AVAILABLE_LOCALES

    if locale not in AVAILABLE_LOCALES:
        raise XnerError(f"Faker has no locale {locale!r}")
    fake = Faker(locale)
    fake.seed_instance(seed)
    seen: dict[str, None] = {}
    if kind == "LOC":
        gens = [fake.city, fake.country] + ([fake.state] if hasattr(fake, "state") else [])
    elif given:
        gens = [fake.first_name]
    else:
        gens = [lambda: f"{fake.first_name()} {fake.last_name()}"]
    tries = 0
    while len(seen) < n and tries < 8 * n:
        s = gens[tries % len(gens)]().strip()
        tries += 1
        if s:
            seen.setdefault(s, None)
    return [s.split() for s in seen]


def faker_locale(lang: str) -> str | None:
    """Faker's own locale of a language (``fa`` -> ``fa_IR``), or None."""
    from faker.config import AVAILABLE_LOCALES

    for cand in (f"{lang}_{lang.upper()}", lang):
        if cand in AVAILABLE_LOCALES:
            return cand
    return next((loc for loc in sorted(AVAILABLE_LOCALES) if loc.split("_")[0] == lang), None)


def cldr_items(lang: str) -> list[list[str]]:
    """CLDR territory and region names in ``lang`` (babel), split into words; [] when CLDR lacks it."""
    from babel import Locale, UnknownLocaleError

    try:
        names = Locale.parse(lang).territories
    except (UnknownLocaleError, ValueError):
        return []
    return [v.split() for k, v in sorted(names.items()) if v and v != k and v.split()]


@lru_cache(maxsize=32)
def _faker_tuple(locale: str, kind: str, seed: int, given: bool) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(x) for x in faker_items(locale, kind, seed=seed, given=given))


def corpus_items(c: Corpus, typ: str, given: bool = False) -> list[list[str]]:
    """Distinct entity chunks of a type in a corpus (their first words with ``given``)."""
    if typ not in c.labels.types:
        return []
    k = c.labels.types.index(typ)
    ch = c.chunks()
    words = c.vocab.strings
    seen: dict[tuple[str, ...], None] = {}
    for _, a, b, _t in ch[ch[:, 3] == k].tolist():
        seen.setdefault(tuple(words[w] for w in c.words[a : a + 1 if given else b].tolist()), None)
    return [list(x) for x in seen]


_TRAIN_CACHE: dict[tuple, list[list[str]]] = {}


def _wikiann(lang: str, kind: str, source, test: Corpus | None, given: bool) -> Pool:
    if source is None:
        raise XnerError("a wikiann: pool needs a data folder (--data-dir)")
    key = (getattr(source, "name", id(source)), lang, kind, given)
    if key not in _TRAIN_CACHE:
        if len(_TRAIN_CACHE) > 16:
            _TRAIN_CACHE.clear()
        _TRAIN_CACHE[key] = corpus_items(source.load(lang, "train"), kind, given)
    items = _TRAIN_CACHE[key]
    what = f"{kind} {'given names (first words of chunks)' if given else 'chunks'}"
    if test is not None:  # nothing the test set holds: a replacement is always new to it
        in_test = {tuple(x) for x in corpus_items(test, kind, given)}
        if given:
            in_test |= {(w,) for w in set(test.vocab.lookup(test.words[test.tags != 0]))}
        kept = [x for x in items if tuple(x) not in in_test]
        if kept:
            items = kept
            what += " absent from the test set"
        else:  # the corpus is that very split (robust training): nothing would be left
            what += " (all of them: the perturbed corpus holds every one)"
    if not items:
        raise XnerError(f"wikiann:{lang} has no {kind} chunks for a pool")
    return Pool(items, f"wikiann:{lang}", f"{lang} train split, {what}")


def resolve_pool(spec: str, kind: str, target_lang: str, source=None, seed: int = 0, test: Corpus | None = None,
                 given: bool = False) -> Pool:
    """The pool of a spec for entity type ``kind`` (``PER`` or ``LOC``); ``test`` (the test set) is
    kept out of training-split pools; ``given`` asks for given names (single-token person names)."""
    if spec == "auto":
        if kind == "LOC" and cldr_items(target_lang):
            return resolve_pool(f"cldr:{target_lang}", kind, target_lang, source, seed, test, given)
        loc = faker_locale(target_lang) if kind != "LOC" else None
        if loc:
            p = resolve_pool(f"faker:{loc}", kind, target_lang, source, seed, test, given)
            return Pool(p.items, p.spec, p.origin + f" (the target's own locale, {target_lang})")
        if source is not None and source.has(target_lang, "train"):
            return _wikiann(target_lang, kind, source, test, given)
        raise XnerError(f"no {kind} pool of {target_lang!r}'s own: Faker/CLDR lack it and there is no training "
                        "split; pass --pool faker:LOCALE, cldr:LANG, wikiann:LANG or file:PATH")
    if spec == "nearest":
        loc = faker_locale(target_lang) or NEAREST.get(target_lang)
        if loc is None:
            raise XnerError(f"no Faker locale near {target_lang!r}")
        p = resolve_pool(f"faker:{loc}", kind, target_lang, source, seed, test, given)
        return Pool(p.items, p.spec, p.origin + f" (nearest to {target_lang})")
    if spec.startswith("faker:"):
        what = "places" if kind == "LOC" else ("given names" if given else "first and last names")
        return Pool([list(x) for x in _faker_tuple(spec[6:], kind, seed, given)], spec, f"Faker {spec[6:]} {what}")
    if spec.startswith("cldr:"):
        if kind != "LOC":
            raise XnerError("a cldr: pool holds places (LOC) only")
        items = cldr_items(spec[5:])
        if not items:
            raise XnerError(f"CLDR (babel) has no territory names in {spec[5:]!r}")
        return Pool(items, spec, f"CLDR territory and region names in {spec[5:]} (babel)")
    if spec.startswith("wikiann:"):
        return _wikiann(spec[8:], kind, source, test, given)
    if spec.startswith("file:"):
        p = Path(spec[5:])
        if not p.is_file():
            raise XnerError(f"pool file not found: {p}")
        items = [ln.split() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if not items:
            raise XnerError(f"pool file {p} is empty")
        return Pool(items, spec, f"file {p}")
    raise XnerError(f"unknown pool {spec!r}; use auto, faker:LOCALE, cldr:LANG, wikiann:LANG, file:PATH or nearest")
