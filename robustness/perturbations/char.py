"""Character noise: script-aware typos (swap, drop, insert, keyboard neighbour) on a rate of words.

Inserted and substituted characters are letters or marks of the word's own script: a copy of the
letter, one of its nearest same-script letters in its Unicode block, or a QWERTY neighbour (Latin);
never a space, control or format character, so words joined by ZWNJ stay intact.  The edit itself
is the numba kernel ``kernels.char_noise``; this module builds its tables.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from xner.errors import XnerError

from .. import kernels as K
from .base import Perturbation, State, register, replace_words
from .constraints import Alphabetic, Constraint, EntityTokens

__all__ = ["CHAR_OPS", "KEYBOARD", "NEIGHBOURS", "CharNoise", "CharNoiseState", "codepoints", "script_key",
           "script_neighbours"]

CHAR_OPS = ("swap", "drop", "insert", "keyboard")

#: QWERTY neighbours (Latin); other characters fall back to letters of their own script nearby
_QWERTY = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def _keyboard_map() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    nb: dict[int, list[int]] = {}
    for r, row in enumerate(_QWERTY):
        for c, ch in enumerate(row):
            near = [_QWERTY[rr][cc] for rr in (r - 1, r, r + 1) if 0 <= rr < 3
                    for cc in (c - 1, c, c + 1) if 0 <= cc < len(_QWERTY[rr]) and (rr, cc) != (r, c)]
            nb[ord(ch)] = [ord(x) for x in near]
            nb[ord(ch.upper())] = [ord(x.upper()) for x in near]
    keys = sorted(nb)
    off = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum([len(nb[k]) for k in keys], out=off[1:])
    return np.asarray(keys, np.int32), np.asarray([x for k in keys for x in nb[k]], np.int32), off


KEYBOARD = _keyboard_map()
#: name prefixes that are not scripts by themselves: the script is named by the next word too
_PREFIXES = {"OLD", "NEW", "FULLWIDTH", "HALFWIDTH", "MATHEMATICAL", "SMALL", "CIRCLED", "PARENTHESIZED",
             "SQUARED", "NEGATIVE", "CAPITAL", "TAG", "MEROITIC"}
_NOT_SCRIPTS = {"COMBINING", "MODIFIER", "VEDIC", "MUSICAL"}
#: letters and marks that can be typed into a word (no modifier letters, no enclosing marks)
_TYPABLE = {"Lu", "Ll", "Lt", "Lo", "Mn", "Mc"}
NEIGHBOURS = 4  # letters an insertion may pick besides a copy of its anchor


def script_key(cp: int) -> str:
    """The script a letter or mark belongs to, from its Unicode name ("ARABIC LETTER BEH" -> ARABIC);
    "" for anything else (separators, controls, format characters such as ZWNJ, digits, punctuation,
    symbols, generic combining marks)."""
    ch = chr(cp)
    if unicodedata.category(ch) not in _TYPABLE:
        return ""
    words = unicodedata.name(ch, "").split()
    if not words or words[0] in _NOT_SCRIPTS or "ACCENT" in words or "STRESS" in words:
        return ""  # generic marks; prosodic accents of any script
    return " ".join(words[:2]) if words[0] in _PREFIXES and len(words) > 2 else words[0]


@lru_cache(maxsize=4096)
def _block(block: int) -> tuple[tuple[int, str], ...]:
    """(code point, script) of the typable letters and marks of a 128-code-point block."""
    return tuple((c, k) for c in range(block * 128, min(block * 128 + 128, 0x110000)) if (k := script_key(c)))


@lru_cache(maxsize=65536)
def _near(cp: int) -> tuple[int, ...] | None:
    """The nearest letters/marks of ``cp``'s script in its block (None: ``cp`` has no script)."""
    k = script_key(cp)
    if not k:
        return None
    same = [c for c, kc in _block(cp // 128) if kc == k and c != cp]
    return tuple(sorted(same, key=lambda c: (abs(c - cp), c))[:NEIGHBOURS])


def script_neighbours(cps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(code points that are letters of a script, sorted; their same-script neighbours as a CSR)."""
    uniq = [c for c in np.unique(cps).tolist() if _near(c) is not None]
    near = [_near(c) for c in uniq]
    off = np.zeros(len(uniq) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in near], out=off[1:])
    return np.asarray(uniq, np.int32), np.asarray([c for x in near for c in x], np.int32), off


def codepoints(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-32 code points of strings as a CSR, decoded in one call."""
    cp = np.frombuffer("".join(strings).encode("utf-32-le"), dtype=np.int32)
    lens = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    off = np.zeros(len(strings) + 1, dtype=np.int64)
    np.cumsum(lens, out=off[1:])
    return cp, off



@dataclass
class CharNoiseState(State):
    ops: np.ndarray  # bool per CHAR_OPS: enabled


@register
class CharNoise(Perturbation[CharNoiseState]):
    """Script-aware typos (swap, drop, insert, keyboard neighbour) on a rate of word tokens; inserted and
    substituted characters are letters or marks of the word's own script (see ``kernels.char_noise``)."""

    name = "char_noise"
    unit = "tokens"
    defaults = {"rate": 0.3, "ops": "swap,drop,insert,keyboard", "entities_only": False}
    origin = ("xner", 1)

    def eligibility(self) -> tuple[Constraint, ...]:
        own = (Alphabetic(), EntityTokens()) if self.params["entities_only"] else (Alphabetic(),)
        return (*own, *self.extra)

    def _prepare(self, scope, eligible):
        ops = str(self.params["ops"]).split(",")
        bad = [o for o in ops if o not in CHAR_OPS]
        if bad:
            raise XnerError(f"char_noise: unknown op {bad[0]!r} (choose from {', '.join(CHAR_OPS)})")
        return CharNoiseState(ops=np.array([o in ops for o in CHAR_OPS], dtype=np.bool_),
                              p=self.edit_probability(scope, eligible))

    def _apply(self, scope, eligible, seed, st):
        corpus = scope.corpus
        sel = self.select(scope, eligible, st.p, seed)
        # code points of the selected words only
        uw, local = np.unique(corpus.words[sel], return_inverse=True)
        token_word = np.zeros(corpus.n_tokens, dtype=np.int32)
        token_word[sel] = local
        cp, off = codepoints([corpus.vocab.strings[w] for w in uw.tolist()])
        buf, boff, tok, _ = K.char_noise(cp, off, token_word, sel, corpus.offsets, corpus.sentence_ids, *KEYBOARD,
                                         *script_neighbours(cp), st.ops, seed, self.key)
        # only the edited tokens become strings: the new code points are decoded in one go
        text = buf.tobytes().decode("utf-32-le")
        bo = boff.tolist()
        vocab = corpus.vocab.copy()
        new_ids = vocab.add_many(text[bo[j] : bo[j + 1]] for j in range(len(bo) - 1))
        words = corpus.words.copy()
        words[tok] = new_ids
        changed = np.zeros(corpus.n_tokens, dtype=np.bool_)
        changed[tok] = new_ids != corpus.words[tok]
        return replace_words(corpus, words, vocab, scope.prev, changed,
                             {"eligible": int(eligible.sum()), "probability": st.p})
