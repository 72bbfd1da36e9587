"""Languages of the reference study, its 13 pairs, multi-source groups and XTREME PAN-X."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import XnerError


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    script: str
    resource: str  # "high" or "low"
    family: str


POOL: dict[str, Language] = {
    lang.code: lang
    for lang in [
        Language("fr", "French", "Latin", "high", "Indo-European/Romance"),
        Language("ar", "Arabic", "Arabic", "high", "Afro-Asiatic/Semitic"),
        Language("en", "English", "Latin", "high", "Indo-European/Germanic"),
        Language("es", "Spanish", "Latin", "high", "Indo-European/Romance"),
        Language("cs", "Czech", "Latin", "high", "Indo-European/Slavic"),
        Language("id", "Indonesian", "Latin", "high", "Austronesian/Malayic"),
        Language("nl", "Dutch", "Latin", "high", "Indo-European/Germanic"),
        Language("it", "Italian", "Latin", "high", "Indo-European/Romance"),
        Language("br", "Breton", "Latin", "low", "Indo-European/Celtic"),
        Language("fa", "Persian", "Arabic", "low", "Indo-European/Iranian"),
        Language("hi", "Hindi", "Devanagari", "low", "Indo-European/Indo-Aryan"),
        Language("sco", "Scots", "Latin", "low", "Indo-European/Germanic"),
        Language("cy", "Welsh", "Latin", "low", "Indo-European/Celtic"),
        Language("ca", "Catalan", "Latin", "low", "Indo-European/Romance"),
        Language("sk", "Slovak", "Latin", "low", "Indo-European/Slavic"),
        Language("ms", "Malay", "Latin", "low", "Austronesian/Malayic"),
        Language("oc", "Occitan", "Latin", "low", "Indo-European/Romance"),
        Language("af", "Afrikaans", "Latin", "low", "Indo-European/Germanic"),
        Language("scn", "Sicilian", "Latin", "low", "Indo-European/Romance"),
        Language("an", "Aragonese", "Latin", "low", "Indo-European/Romance"),
        Language("ast", "Asturian", "Latin", "low", "Indo-European/Romance"),
    ]
}

#: Extra languages present in the offline data (sources or targets beyond the pool).
EXTRA: dict[str, Language] = {
    "de": Language("de", "German", "Latin", "high", "Indo-European/Germanic"),
    "pt": Language("pt", "Portuguese", "Latin", "high", "Indo-European/Romance"),
    "jv": Language("jv", "Javanese", "Latin", "low", "Austronesian/Javanese"),
}


@dataclass(frozen=True)
class Pair:
    hrl: str
    lrl: str
    relation: str
    note: str


PAIRS: list[Pair] = [
    Pair("fr", "br", "geographic", "Breton"),
    Pair("ar", "fa", "borrowing", "Persian, shared script"),
    Pair("ar", "hi", "borrowing", "control pair: different scripts, ~no shared entity chunks"),
    Pair("en", "sco", "genetic+geographic", "Scots"),
    Pair("en", "cy", "geographic", "Welsh"),
    Pair("es", "ca", "genetic", "Catalan"),
    Pair("cs", "sk", "genetic", "Slovak"),
    Pair("id", "ms", "genetic", "Malay"),
    Pair("fr", "oc", "genetic", "Occitan"),
    Pair("nl", "af", "genetic", "Afrikaans"),
    Pair("it", "scn", "genetic", "Sicilian"),
    Pair("es", "an", "genetic", "Aragonese"),
    Pair("es", "ast", "genetic", "Asturian"),
]

#: Sources for the source-diversity experiments, per low-resource target, ordered from the most
#: to the least related.  ``related``: same genus, language contact, borrowing or a shared script
#: (the study's relations); ``unrelated``: another family or branch with no such contact.  A
#: group of size k takes the first k.  Only languages with offline data are used (cs is absent).
SOURCE_GROUPS: dict[str, dict[str, list[str]]] = {
    "br": {"related": ["fr", "en", "es"], "unrelated": ["ar", "id", "it"]},
    "fa": {"related": ["ar", "en", "de"], "unrelated": ["id", "es", "it"]},
    "hi": {"related": ["ar", "en", "de"], "unrelated": ["id", "es", "it"]},
    "sco": {"related": ["en", "nl", "de"], "unrelated": ["ar", "id", "es"]},
    "cy": {"related": ["en", "fr", "nl"], "unrelated": ["ar", "id", "it"]},
    "ca": {"related": ["es", "fr", "it"], "unrelated": ["ar", "id", "nl"]},
    "sk": {"related": ["de", "en", "it"], "unrelated": ["ar", "id", "es"]},
    "ms": {"related": ["id", "en", "nl"], "unrelated": ["ar", "es", "fr"]},
    "oc": {"related": ["fr", "es", "it"], "unrelated": ["ar", "id", "nl"]},
    "af": {"related": ["nl", "de", "en"], "unrelated": ["ar", "id", "es"]},
    "scn": {"related": ["it", "es", "fr"], "unrelated": ["ar", "id", "nl"]},
    "an": {"related": ["es", "fr", "it"], "unrelated": ["ar", "id", "nl"]},
    "ast": {"related": ["es", "pt", "fr"], "unrelated": ["ar", "id", "nl"]},
}

#: The 40 languages of XTREME's PAN-X task.
PANX_LANGS: tuple[str, ...] = (
    "af", "ar", "bg", "bn", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fr", "he", "hi", "hu",
    "id", "it", "ja", "jv", "ka", "kk", "ko", "ml", "mr", "ms", "my", "nl", "pt", "ru", "sw", "ta",
    "te", "th", "tl", "tr", "ur", "vi", "yo", "zh",
)
NAMED_SETS: dict[str, tuple[str, ...]] = {
    "pool": tuple(POOL),
    "hrl": tuple(c for c, lang in POOL.items() if lang.resource == "high"),
    "lrl": tuple(c for c, lang in POOL.items() if lang.resource == "low"),
    "panx": PANX_LANGS,
}


#: a derived target: ``LANG-latn`` is LANG romanised (``xner data transliterate``), the same language in
#: the Latin script (a script control: its pair, source groups and typology are LANG's)
DERIVED_SUFFIX = "-latn"


def base_code(code: str) -> str:
    """``fa-latn`` -> ``fa``; any other code as it is."""
    return code[: -len(DERIVED_SUFFIX)] if code.endswith(DERIVED_SUFFIX) else code


def language(code: str) -> Language | None:
    if code.endswith(DERIVED_SUFFIX):
        base = language(base_code(code))
        return None if base is None else Language(code, f"{base.name} (romanised)", "Latin", base.resource,
                                                  base.family)
    return POOL.get(code) or EXTRA.get(code)


def pair_of(target: str) -> str | None:
    """The study's paired high-resource language of a target (of its base language for ``LANG-latn``)."""
    return next((p.hrl for p in PAIRS if p.lrl == base_code(target)), None)


def source_group(lrl: str, kind: str, k: int) -> list[str]:
    """The first ``k`` related or unrelated sources for a low-resource target."""
    lrl = base_code(lrl)
    if lrl not in SOURCE_GROUPS:
        raise XnerError(f"no source groups for {lrl!r}; targets: {', '.join(SOURCE_GROUPS)}")
    if kind not in ("related", "unrelated"):
        raise XnerError("group kind must be related or unrelated")
    group = SOURCE_GROUPS[lrl][kind]
    if not 1 <= k <= len(group):
        raise XnerError(f"group size must be 1..{len(group)}")
    return group[:k]


def parse_langs(spec: str) -> list[str]:
    """``'ar,fa'`` or a named set (``pool``, ``hrl``, ``lrl``, ``panx``)."""
    if spec in NAMED_SETS:
        return list(NAMED_SETS[spec])
    out = [s.strip() for s in spec.split(",") if s.strip()]
    if not out:
        raise XnerError("no languages given")
    return out


def registry_json() -> dict:
    from dataclasses import asdict

    return {
        "pool": [asdict(x) for x in POOL.values()],
        "extra": [asdict(x) for x in EXTRA.values()],
        "pairs": [asdict(p) for p in PAIRS],
        "source_groups": SOURCE_GROUPS,
        "named_sets": {k: list(v) for k, v in NAMED_SETS.items()},
    }


def render_table() -> str:
    lines = ["Language pool (reference study)", f"{'code':<5} {'name':<11} {'script':<11} {'resource':<8} family"]
    for x in POOL.values():
        lines.append(f"{x.code:<5} {x.name:<11} {x.script:<11} {x.resource:<8} {x.family}")
    lines += ["", "Pairs (HRL -> LRL)", f"{'pair':<10} {'relation':<19} note"]
    for p in PAIRS:
        lines.append(f"{p.hrl + '->' + p.lrl:<10} {p.relation:<19} {p.note}")
    lines += ["", "Multi-source groups (most related first; a group of k takes the first k)",
              f"{'target':<7} {'related':<14} unrelated"]
    for t, g in SOURCE_GROUPS.items():
        lines.append(f"{t:<7} {','.join(g['related']):<14} {','.join(g['unrelated'])}")
    lines += ["", "Named sets"]
    for k, v in NAMED_SETS.items():
        lines.append(f"{k:<5} ({len(v)}): {' '.join(v)}")
    return "\n".join(lines)
