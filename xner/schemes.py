"""The tagging schemes ``xner score`` reads, exactly as seqeval 1.2.2 scores them.

Corpora everywhere else are IOB2 with the layout of :mod:`xner.labels`.  Scoring also reads

* ``default`` mode (seqeval's ``mode=None``, conlleval-like chunking): ``B-``, ``I-``, ``E-`` and
  ``S-`` tags, mixed freely, chunked by seqeval's ``get_entities`` rules.  seqeval's default mode
  does not read ``L-``/``U-`` (it warns and mis-chunks them), so they are refused here.
* ``strict`` mode with an explicit scheme (seqeval's ``mode='strict', scheme=...``): ``IOB2``
  (``B-X I-X*``), ``IOBES`` (``S-X`` or ``B-X (I-X)* E-X``) or ``BILOU`` (``U-X`` or
  ``B-X (I-X)* L-X``).  A tag outside the scheme is an error, as in seqeval.

Such tags are read into a :class:`SchemeLabels` set with four slots per type:
``0 = O``, ``4k+1 = B``, ``4k+2 = I``, ``4k+3 = E | L``, ``4k+4 = S | U``.  Files that turn out to
hold only ``B-``/``I-`` tags in default or strict IOB2 mode are converted to the IOB2 layout
(:func:`to_iob2`) and take the IOB2 fast path.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numba
import numpy as np

from .corpus import Corpus
from .errors import XnerError
from .labels import LabelSet

SCHEMES = ("IOB2", "IOBES", "BILOU")
MAX_TYPES = 31  # 4 * 31 + 1 tag ids fit int8
_ALLOWED = {"IOB2": "BI", "IOBES": "BIES", "BILOU": "BILU"}
_SLOT = {"B": 0, "I": 1, "E": 2, "L": 2, "S": 3, "U": 3}


@dataclass(eq=False)
class SchemeLabels(LabelSet):
    """Tag strings of one scheme (``scheme``) for ``strict`` scoring, or of seqeval's default
    mode (``strict=False``: ``B-``, ``I-``, ``E-``, ``S-``); ids in the four-slot layout."""

    scheme: str = "IOBES"
    strict: bool = False
    seen: set[str] = field(default_factory=set, repr=False)  # prefixes read so far

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.scheme not in SCHEMES:
            raise XnerError(f"unknown tagging scheme {self.scheme!r}; choose one of {', '.join(SCHEMES)}")
        if not self.strict and self.scheme == "BILOU":
            raise XnerError("seqeval's default mode does not read BILOU (L-/U-) tags; score them with "
                            "--mode strict --scheme BILOU")
        if len(self.types) > MAX_TYPES:
            raise XnerError(f"at most {MAX_TYPES} entity types can be scored in {self.scheme}")

    @property
    def letters(self) -> str:
        return "BILU" if self.scheme == "BILOU" else "BIES"

    @property
    def tags(self) -> list[str]:
        out = ["O"]
        for t in self.types:
            out += [f"{p}-{t}" for p in self.letters]
        return out

    @property
    def num_tags(self) -> int:
        return 1 + 4 * len(self.types)

    @property
    def fits_iob2(self) -> bool:
        """Whether what was read scores the same in the IOB2 layout (the fast path): no tag used an
        ``E``/``S``/``L``/``U`` prefix, and the rules are conlleval's or strict IOB2's (strict IOBES
        and BILOU chunk ``B-``/``I-`` differently: ``B-X I-X`` never ends)."""
        return self.seen <= {"B", "I"} and (not self.strict or self.scheme == "IOB2")

    def type_id(self, typ: str) -> int:
        if typ not in self._index and self.growable and len(self.types) >= MAX_TYPES:
            raise ValueError(f"at most {MAX_TYPES} entity types can be scored in {self.scheme}")
        return super().type_id(typ)

    def encode(self, tag: str) -> int:
        if tag == "O":
            return 0
        p = tag[:1]
        if len(tag) < 3 or tag[1] != "-" or not tag[2:].strip() or tag != tag.strip() or p not in _SLOT:
            raise ValueError(self._malformed(tag))
        if p not in _ALLOWED[self.scheme]:
            raise ValueError(self._refusal(tag))
        k = self.type_id(tag[2:])
        self.seen.add(p)
        return 4 * k + 1 + _SLOT[p]

    def _malformed(self, tag: str) -> str:
        if not self.strict:
            return f"not an IOB2 tag: {tag!r} (expected O, B-TYPE or I-TYPE; default mode also reads E- and S-)"
        kinds = {"IOB2": "B-TYPE or I-TYPE", "IOBES": "B-, I-, E- or S-TYPE", "BILOU": "B-, I-, L- or U-TYPE"}
        return f"not a{'n' if self.scheme != 'BILOU' else ''} {self.scheme} tag: {tag!r} (expected O, {kinds[self.scheme]})"

    def _refusal(self, tag: str) -> str:
        p = tag[0]
        if not self.strict:
            return (f"{tag!r} is a BILOU tag, which seqeval's default mode does not read; score BILOU with "
                    "--mode strict --scheme BILOU")
        other = "IOBES" if p in "ES" else "BILOU"
        return (f"not an {self.scheme} tag: {tag!r} (strict mode reads {self.scheme}; "
                f"pass --scheme {other} for {'E-/S-' if p in 'ES' else 'L-/U-'} tags)"
                if self.scheme != "BILOU" else
                f"not a BILOU tag: {tag!r} (BILOU has B-, I-, L-, U- and O; pass --scheme IOBES for E-/S- tags)")

    def decode(self, tag_id: int) -> str:
        return self.tags[int(tag_id)]

    def iob2_table(self) -> np.ndarray:
        """Four-slot ids -> IOB2 ids of ``LabelSet(self.types)`` (``E``/``S`` slots map to -1)."""
        table = np.full(self.num_tags, -1, dtype=np.int8)
        table[0] = 0
        k = np.arange(len(self.types))
        table[4 * k + 1] = 2 * k + 1
        table[4 * k + 2] = 2 * k + 2
        return table

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SchemeLabels) and self.types == other.types and self.scheme == other.scheme
                and self.strict == other.strict)


def scoring_labels(mode: str, scheme: str | None = None, types: list[str] | None = None) -> SchemeLabels:
    """The label set that reads tag strings for ``mode`` (``default``/``strict``) and ``scheme``
    (strict only; ``IOB2`` when not given).  ``types`` fixes the entity types, else any is accepted."""
    if mode not in ("default", "strict"):
        raise XnerError(f"unknown scoring mode {mode!r}; choose default or strict")
    if mode == "default" and scheme is not None:
        raise XnerError("--scheme applies to --mode strict; default mode reads B-, I-, E- and S- tags as "
                        "seqeval does")
    if scheme is not None and scheme not in SCHEMES:
        raise XnerError(f"unknown tagging scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    return SchemeLabels(list(types or []), growable=not types,
                        scheme=(scheme or "IOB2") if mode == "strict" else "IOBES", strict=mode == "strict")


def to_iob2(c: Corpus) -> Corpus:
    """A corpus read with :class:`SchemeLabels` that holds only ``B-``/``I-`` tags, in the IOB2 layout."""
    labels = c.labels
    if not isinstance(labels, SchemeLabels):
        return c
    if not labels.fits_iob2:
        raise XnerError(f"tags read as {labels.scheme} do not score the same in the IOB2 layout")
    return replace(c, tags=labels.iob2_table()[c.tags], labels=LabelSet(list(labels.types)), meta=dict(c.meta))


@numba.njit(cache=True)
def extract_chunks_scheme(tags: np.ndarray, offsets: np.ndarray, strict: bool) -> np.ndarray:
    """(sentence, start, end, type) of every chunk of four-slot tag ids, ordered by start.

    ``strict=False``: seqeval's ``get_entities`` (a chunk ends after ``E``/``S``, before ``B``/``S``/
    ``O`` and at a type change; one starts at ``B``/``S``, at ``E``/``I`` after ``O``/``E``/``S`` and at
    a type change).  ``strict=True``: seqeval's ``Tokens.entities`` for IOBES (BILOU is the same with
    ``L``/``U`` in the ``E``/``S`` slots): ``S-X``, or ``B-X`` then ``I-X``/``E-X`` of the same type,
    kept only if the last one is ``E-X``.
    """
    out = np.empty((tags.shape[0], 4), dtype=np.int64)
    n = 0
    for s in range(offsets.shape[0] - 1):
        a = offsets[s]
        b = offsets[s + 1]
        if not strict:
            prev_p = -1  # slot of the previous tag: -1 = O, 0 = B, 1 = I, 2 = E, 3 = S
            prev_k = -1
            start = a
            for i in range(a, b + 1):  # position b is the O that ends every sentence
                t = tags[i] if i < b else 0
                p = (t - 1) % 4 if t != 0 else -1
                k = (t - 1) // 4 if t != 0 else -1
                end = prev_p >= 2 or (prev_p >= 0 and (p == -1 or p == 0 or p == 3)) or (prev_p >= 0 and prev_k != k)
                if end:
                    out[n, 0] = s
                    out[n, 1] = start
                    out[n, 2] = i
                    out[n, 3] = prev_k
                    n += 1
                if p == 0 or p == 3 or ((prev_p == -1 or prev_p >= 2) and (p == 1 or p == 2)) or \
                        (p >= 0 and prev_k != k):
                    start = i
                prev_p = p
                prev_k = k
        else:
            i = a
            while i < b:
                t = tags[i]
                p = (t - 1) % 4 if t != 0 else -1
                if p == 0 or p == 3:
                    k = (t - 1) // 4
                    j = i + 1
                    last = p
                    while j < b and (last == 0 or last == 1):
                        c = tags[j]
                        if c == 0 or (c - 1) // 4 != k or not ((c - 1) % 4 == 1 or (c - 1) % 4 == 2):
                            break
                        last = (c - 1) % 4
                        j += 1
                    if last >= 2:
                        out[n, 0] = s
                        out[n, 1] = i
                        out[n, 2] = j
                        out[n, 3] = k
                        n += 1
                    i = j
                else:
                    i += 1
    return out[:n].copy()
