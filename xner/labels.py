"""Label sets and IOB2 validation / repair.

Tags are stored as small integers with a fixed layout so numba kernels never look at strings:
``0 = O``, ``2k+1 = B-<type k>``, ``2k+2 = I-<type k>``.  The WikiANN set is
``O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC``, which is also the id order of the Hugging Face
``wikiann`` dataset, so its integer ``ner_tags`` map one to one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .errors import XnerError
from .jit import lazy_njit

WIKIANN_TYPES = ("PER", "ORG", "LOC")

#: Repair policies for IOB2 violations (an ``I-X`` that does not continue an ``X`` chunk).
#: ``conlleval``: the stray ``I-X`` starts a new chunk, i.e. becomes ``B-X`` (what conlleval and
#: seqeval's default mode assume when they read it); ``drop``: the stray ``I-X`` becomes ``O``;
#: ``error``: refuse the data; ``keep``: store the tags as read (scoring then applies conlleval
#: or strict semantics itself).
REPAIR_POLICIES = ("conlleval", "drop", "error", "keep")


@dataclass
class LabelSet:
    """Entity types and their IOB2 tag strings.

    ``growable`` sets accept new types as they are seen (used when scoring arbitrary files);
    fixed sets raise on an unknown tag.
    """

    types: list[str] = field(default_factory=lambda: list(WIKIANN_TYPES))
    growable: bool = False

    def __post_init__(self) -> None:
        self.types = list(self.types)
        self._index = {t: i for i, t in enumerate(self.types)}
        if len(self._index) != len(self.types):
            raise XnerError(f"duplicate entity types in {self.types}")
        if len(self.types) > 60:
            raise XnerError("at most 60 entity types are supported (tags are int8)")

    @classmethod
    def wikiann(cls) -> LabelSet:
        return cls(list(WIKIANN_TYPES))

    @classmethod
    def from_tags(cls, tags: Iterable[str], growable: bool = False) -> LabelSet:
        """Build from IOB2 tag strings in order of first appearance of each type."""
        types: list[str] = []
        for t in tags:
            if t == "O":
                continue
            _, typ = split_tag(t)
            if typ not in types:
                types.append(typ)
        return cls(types, growable=growable)

    # -- tag strings <-> ids -------------------------------------------------------------------
    @property
    def tags(self) -> list[str]:
        out = ["O"]
        for t in self.types:
            out += [f"B-{t}", f"I-{t}"]
        return out

    @property
    def num_tags(self) -> int:
        return 1 + 2 * len(self.types)

    @property
    def id_names(self) -> list[str]:
        """What integer tag ids in a file mean (JSONL, parquet without ClassLabel names): the IOB2
        layout of the declared types, or of WikiANN's (``O, B-PER, I-PER, B-ORG, I-ORG, B-LOC,
        I-LOC``, the Hugging Face ``wikiann`` ids) for a growable set, whose own order is only the
        order in which types were first seen."""
        types = WIKIANN_TYPES if self.growable else self.types
        return ["O"] + [f"{p}-{t}" for t in types for p in "BI"]

    def type_id(self, typ: str) -> int:
        i = self._index.get(typ)
        if i is None:
            if not self.growable:
                raise KeyError(typ)
            i = len(self.types)
            self.types.append(typ)
            self._index[typ] = i
        return i

    def encode(self, tag: str) -> int:
        """Tag string to id; raises ``KeyError`` (unknown type) or ``ValueError`` (bad form)."""
        if tag == "O":
            return 0
        prefix, typ = split_tag(tag)
        k = self.type_id(typ)
        return 2 * k + (1 if prefix == "B" else 2)

    def decode(self, tag_id: int) -> str:
        if tag_id == 0:
            return "O"
        k, r = divmod(int(tag_id) - 1, 2)
        return f"{'B' if r == 0 else 'I'}-{self.types[k]}"

    def decode_array(self, ids: np.ndarray) -> list[str]:
        table = self.tags
        return [table[i] for i in ids.tolist()]

    def remap_to(self, other: LabelSet) -> np.ndarray:
        """A lookup array mapping this set's ids to ``other``'s ids (types must exist there)."""
        table = np.zeros(self.num_tags, dtype=np.int8)
        for i, tag in enumerate(self.tags):
            table[i] = other.encode(tag)
        return table

    def to_json(self) -> dict:
        return {"types": list(self.types), "tags": self.tags}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelSet) and self.types == other.types


def split_tag(tag: str) -> tuple[str, str]:
    """``'B-PER' -> ('B', 'PER')``; raises ``ValueError`` for anything but IOB2 B-/I- tags."""
    if len(tag) < 3 or tag[1] != "-" or tag[0] not in "BI" or not tag[2:].strip() or tag != tag.strip():
        raise ValueError(f"not an IOB2 tag: {tag!r} (expected O, B-TYPE or I-TYPE)")
    return tag[0], tag[2:]


# -- numba kernels over tag-id arrays ----------------------------------------------------------


@lazy_njit
def _iob2_violations(tags: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Token positions holding an ``I-X`` that does not continue an ``X`` chunk."""
    out = np.empty(tags.shape[0], dtype=np.int64)
    n = 0
    for s in range(offsets.shape[0] - 1):
        prev = 0
        for i in range(offsets[s], offsets[s + 1]):
            t = tags[i]
            if t != 0 and t % 2 == 0:  # I-X
                if prev == 0 or (prev - 1) // 2 != (t - 1) // 2:
                    out[n] = i
                    n += 1
            prev = t
    return out[:n]


def iob2_violations(tags: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    return _iob2_violations(np.ascontiguousarray(tags, dtype=np.int8), offsets)


def repair_iob2(tags: np.ndarray, offsets: np.ndarray, policy: str = "conlleval") -> tuple[np.ndarray, int]:
    """Apply a repair policy; returns (new tags, number of repaired tokens).

    The scan is done on the original tags, so ``O I-PER I-PER`` becomes ``O B-PER I-PER`` under
    ``conlleval`` (one chunk, as conlleval reads it) and ``O O O`` under ``drop``... except that
    under ``drop`` the second ``I-PER`` is then itself stray, so repair is applied until stable.
    """
    if policy not in REPAIR_POLICIES:
        raise XnerError(f"unknown repair policy {policy!r}; choose one of {', '.join(REPAIR_POLICIES)}")
    bad = iob2_violations(tags, offsets)
    if policy == "keep" or bad.size == 0:
        return tags, int(bad.size)
    if policy == "error":
        raise XnerError(f"{bad.size} IOB2 violations (stray I- tags), first at token {int(bad[0])}")
    out = tags.copy()
    total = 0
    while bad.size:
        total += int(bad.size)
        if policy == "conlleval":
            out[bad] = out[bad] - 1  # I-X -> B-X
        else:
            out[bad] = 0
        bad = iob2_violations(out, offsets)
    return out, total

