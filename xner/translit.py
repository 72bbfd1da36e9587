"""Romanization: words in any script -> Latin script, for the ``transliterate`` perturbation and for
``xner data transliterate`` (a romanized copy of a data folder).

The default romanizer is uroman (ISI's universal romanizer, the one transliteration studies with
multilingual encoders use; docs/stack.md says why); ``anyascii`` is accepted when installed (about
100 times faster, but it drops the inherent vowels of Indic scripts and alif in Arabic).  Words are
romanized one by one, each distinct word once per process (:class:`Romanizer` keeps a memo):
romanizers are slow, corpora repeat words.  A word needs romanizing only when it holds a letter or
digit of a script other than Latin; every other word (ASCII, accented Latin, numbers, punctuation) is
its own romanization, so edit rates count real transliterations only.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from .corpus import Corpus, WordVocab
from .errors import XnerError

__all__ = ["DEFAULT_ROMANIZER", "ISO3", "MARK", "PROVENANCE", "ROMANIZERS", "Romanizer", "needs_romanization",
           "romanize_corpus", "romanizer", "transliterate_data"]

ROMANIZERS = ("uroman", "anyascii")
DEFAULT_ROMANIZER = "uroman"
#: ISO 639-1 -> 639-3 (uroman's language codes; they switch on language-specific rules, e.g. Persian vowels)
ISO3 = {"af": "afr", "an": "arg", "ar": "ara", "bg": "bul", "bn": "ben", "br": "bre", "ca": "cat", "cs": "ces",
        "cy": "cym", "de": "deu", "el": "ell", "en": "eng", "es": "spa", "et": "est", "eu": "eus", "fa": "fas",
        "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin", "hu": "hun", "id": "ind", "it": "ita", "ja": "jpn",
        "jv": "jav", "ka": "kat", "kk": "kaz", "ko": "kor", "ml": "mal", "mr": "mar", "ms": "msa", "my": "mya",
        "nl": "nld", "oc": "oci", "pt": "por", "ru": "rus", "sk": "slk", "sw": "swa", "ta": "tam", "te": "tel",
        "th": "tha", "tl": "tgl", "tr": "tur", "uk": "ukr", "ur": "urd", "vi": "vie", "yo": "yor", "zh": "zho"}
MARK = "xner data transliterate"  # the provenance file's "tool": what this command may write over
PROVENANCE = "transliterate.json"


def needs_romanization(word: str) -> bool:
    """Whether ``word`` holds a letter or digit outside the Latin script (below U+0370 everything is
    Latin, IPA, modifier letters or diacritics; above it a Latin letter's Unicode name says LATIN)."""
    if word.isascii():
        return False
    for ch in word:
        if ord(ch) >= 0x370 and (ch.isalpha() or unicodedata.category(ch) == "Nd") \
                and "LATIN" not in unicodedata.name(ch, ""):
            return True
    return False


def _clean(word: str, rom: str) -> str:
    """A romanization usable as one token: no whitespace or control characters; none left: the word."""
    out = "".join(ch for ch in "".join(rom.split()) if unicodedata.category(ch) != "Cc")
    return out or word


_LOCK = threading.Lock()
_ENGINES: dict[str, Callable[[str, str | None], str]] = {}
_MEMO: dict[tuple[str, str | None], dict[str, str]] = {}
_MEMO_MAX = 2_000_000  # distinct words kept per (romanizer, language); past it the memo starts over


def _engine(name: str) -> Callable[[str, str | None], str]:
    """The romanizing function (word, ISO 639-3 code) of a romanizer, loaded once (uroman: about 2 s)."""
    if name not in _ENGINES:
        try:
            if name == "uroman":
                import uroman

                u = uroman.Uroman()
                _ENGINES[name] = lambda w, lcode: u.romanize_string(w, lcode=lcode)
            else:
                from anyascii import anyascii

                _ENGINES[name] = lambda w, lcode: anyascii(w)
        except ImportError:
            raise XnerError(f"romanizer {name} is not installed (pip install {name})") from None
    return _ENGINES[name]


class Romanizer:
    """A romanizer for one language: ``rom(words)`` -> their romanizations (memoised per distinct word;
    words that need none come back as they are)."""

    def __init__(self, name: str = DEFAULT_ROMANIZER, lang: str = ""):
        if name not in ROMANIZERS:
            raise XnerError(f"unknown romanizer {name!r}; choose from {', '.join(ROMANIZERS)}")
        self.name, self.lang = name, lang
        self.lcode = lang if len(lang) == 3 else ISO3.get(lang)

    def __repr__(self) -> str:
        return f"Romanizer({self.name!r}, {self.lang!r})"

    @property
    def version(self) -> str | None:
        try:
            return md.version(self.name)
        except md.PackageNotFoundError:
            return None

    def load(self) -> Romanizer:
        """Load the engine now (an XnerError naming the package when it is not installed)."""
        _engine(self.name)
        return self

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "lang": self.lang, "lcode": self.lcode}

    def __call__(self, words: Sequence[str]) -> list[str]:
        with _LOCK:  # one romanizer at a time: the memo is shared, and uroman's lattice is not re-entrant
            memo = _MEMO.setdefault((self.name, self.lcode), {})
            todo = [w for w in dict.fromkeys(words) if w not in memo]
            if len(memo) + len(todo) > _MEMO_MAX:
                memo.clear()
                todo = list(dict.fromkeys(words))
            if todo:
                fn = _engine(self.name) if any(map(needs_romanization, todo)) else None
                for w in todo:
                    memo[w] = _clean(w, fn(w, self.lcode)) if fn is not None and needs_romanization(w) else w
            return [memo[w] for w in words]


def romanizer(name: str = DEFAULT_ROMANIZER, lang: str = "") -> Romanizer:
    return Romanizer(name, lang)


def romanize_corpus(c: Corpus, rom: Romanizer) -> tuple[Corpus, int]:
    """Every word of ``c`` romanized (tags, sentences and order unchanged), in a fresh vocabulary; and
    how many tokens changed."""
    used, inverse = np.unique(c.words, return_inverse=True)
    vocab = WordVocab()
    new = vocab.add_many(rom(c.vocab.lookup(used)))
    changed = np.fromiter((a != b for a, b in zip(c.vocab.lookup(used), vocab.lookup(new), strict=True)),
                          dtype=np.bool_, count=used.size)
    words = new[inverse.reshape(-1)].astype(c.words.dtype, copy=False)
    out = replace(c, words=words, vocab=vocab, columns=None, meta=dict(c.meta))
    return out, int(changed[inverse.reshape(-1)].sum())


# -- a romanized data folder ------------------------------------------------------------------------


def _ours(folder: Path) -> bool:
    """A language folder this command wrote (its provenance file carries the mark)."""
    import json

    try:
        return json.loads((folder / PROVENANCE).read_text(encoding="utf-8")).get("tool") == MARK
    except (OSError, ValueError, AttributeError):
        return False


def check_out(out: Path, src_root: Path | None) -> Path:
    """Refuse an ``--out`` that holds anything but language folders written by this command (or
    leftovers of its own staging), or that would replace the input; returns the resolved folder."""
    target = out.resolve()
    if target.exists() and not target.is_dir():
        raise XnerError(f"--out {out} is a file, not a folder")
    if src_root is not None:
        src = src_root.resolve()
        if target == src or src in target.parents or target in src.parents:
            raise XnerError(f"--out {out} overlaps the input data folder {src_root}; choose a new folder")
    if target.is_dir():
        foreign = [p.name for p in sorted(target.iterdir())
                   if not (p.name.startswith(".") and ".xner-" in p.name) and not (p.is_dir() and _ours(p))]
        if foreign:
            raise XnerError(f"--out {out} is not empty and was not written by `xner data transliterate` "
                            f"(it holds {', '.join(foreign[:5])}); nothing was touched: choose a new folder")
    return target


def transliterate_data(src, lang: str, out: str | os.PathLike, splits: Sequence[str] | None = None,
                       name: str = DEFAULT_ROMANIZER, say: Callable[[str], None] = lambda s: None) -> dict:
    """Write ``out/{lang}/{split}.tsv``: every split of ``lang`` in ``src`` (a ``DataDir`` or hub source)
    with every word romanized and the tags unchanged, and ``out/{lang}/transliterate.json`` (romanizer,
    source and output fingerprints).  Built beside the target and moved into place when complete; an
    earlier output of this command for ``lang`` is replaced whole."""
    from .fingerprint import corpus_sha256
    from .formats import write_corpus
    from .io import write_json
    from .provenance import provenance

    root = getattr(src, "root", None)
    target = check_out(Path(out), root)
    have = src.splits(lang)
    splits = list(splits) if splits else have
    missing = [s for s in splits if s not in have]
    if missing:
        raise XnerError(f"no {', '.join(missing)} split for {lang!r} in {src.name} (it has {', '.join(have)})")
    rom = romanizer(name, lang)
    rom.load()  # load the romanizer (and fail on a missing one) before anything is written
    target.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target, prefix=f".{lang}.xner-tmp-"))
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # a data folder like any other, not mkdtemp's private one
    report: dict = {"tool": MARK, "lang": lang, "romanizer": rom.describe(),
                    "source": {"data": src.name, "repair": getattr(src, "repair", None)}, "splits": {}}
    try:
        for split in splits:
            c = src.load(lang, split)
            r, changed = romanize_corpus(c, rom)
            write_corpus(r, tmp / f"{split}.tsv", "tsv")
            report["splits"][split] = {
                "source_file": str(src.path(lang, split)) if hasattr(src, "path") else f"{src.name}/{lang}/{split}",
                "corpus_sha256": corpus_sha256(c), "output_sha256": corpus_sha256(r), "sentences": len(c),
                "tokens": c.n_tokens, "tokens_romanized": changed, "file": str(target / lang / f"{split}.tsv")}
            say(f"{split}: {len(c)} sentences, {changed} of {c.n_tokens} tokens romanized -> "
                f"{target / lang / f'{split}.tsv'}")
        write_json(tmp / PROVENANCE, {**report, "provenance": provenance()})
        dst = target / lang
        if dst.exists():  # an earlier run of this command (check_out said so): replace it whole
            old = Path(tempfile.mkdtemp(dir=target, prefix=f".{lang}.xner-old-"))
            os.replace(dst, old / lang)
            os.replace(tmp, dst)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {**report, "out": str(target), "provenance_file": str(target / lang / PROVENANCE)}
