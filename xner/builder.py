"""The sentence builder shared by the corpus readers, and where in a file an error is.

Errors name the file and where in it: the line for text formats (for JSONL, the 1-based line of the
record), the 0-based record (row) index for parquet and Hugging Face datasets, which have no lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .corpus import Corpus, WordVocab
from .errors import InputError
from .labels import LabelSet, repair_iob2


def locate(unit: str, first: int, tok: int = 0) -> tuple[str, int | None]:
    """(message prefix, line) of token ``tok`` of a sentence whose first line or record is ``first``.

    ``unit``: ``line`` (a token per line), ``sentence`` (a sentence per line: JSONL) or ``record``
    (parquet / HF rows, 0-based, which are not lines)."""
    if unit == "record":
        return f"record {first} (0-based){f', token {tok + 1}' if tok else ''}: ", None
    if unit == "sentence":
        return (f"token {tok + 1}: " if tok else ""), first
    return "", first + tok


def tag_id_name(tag: object, names: Sequence[str], path: str, unit: str, where: int) -> str:
    """The tag string of an integer tag id (strings pass); anything else is an error."""
    if isinstance(tag, str):
        return tag
    prefix, line = locate(unit, where)
    if isinstance(tag, bool) or not isinstance(tag, (int, np.integer)):
        raise InputError(f"{prefix}tag {tag!r} is neither a string nor an integer id", path, line)
    if not 0 <= tag < len(names):
        raise InputError(f"{prefix}tag id {tag} out of range 0..{len(names) - 1}", path, line)
    return names[tag]


class Builder:
    """Accumulates tokens and tags as strings, then interns them in one go."""

    def __init__(self, path: str, labels: LabelSet, unit: str = "line"):
        self.path = path
        self.labels = labels
        self.unit = unit
        self.tokens: list[str] = []
        self.tags: list[int] = []
        self.cols: list[str] = []
        self.lengths: list[int] = []
        self.lines: list[int] = []  # first line of each sentence
        self._cur = 0
        self._tag_cache: dict[str, int] = {}

    def token(self, tok: str, tag: str, lineno: int, col: str = "") -> None:
        tid = self._tag_cache.get(tag)
        if tid is None:
            prefix, line = locate(self.unit, lineno)
            try:
                tid = self.labels.encode(tag)
            except KeyError:
                raise InputError(
                    f"{prefix}unknown tag {tag!r} (known: {', '.join(self.labels.tags)}; "
                    "pass --types to declare other entity types)", self.path, line) from None
            except ValueError as e:
                raise InputError(prefix + str(e), self.path, line) from None
            self._tag_cache[tag] = tid
        if self._cur == 0:
            self.lines.append(lineno)
        self.tokens.append(tok)
        self.tags.append(tid)
        self.cols.append(col)
        self._cur += 1

    def end_sentence(self) -> None:
        if self._cur:
            self.lengths.append(self._cur)
            self._cur = 0

    def build(self, lang: str, keep_cols: bool, vocab: WordVocab | None, repair: str) -> Corpus:
        self.end_sentence()
        if not self.lengths:
            raise InputError("no sentences found", self.path)
        vocab = vocab if vocab is not None else WordVocab()
        offsets = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(np.asarray(self.lengths, dtype=np.int64), out=offsets[1:])
        tags = np.asarray(self.tags, dtype=np.int8)
        tags, n_fixed = repair_iob2(tags, offsets, repair) if repair != "error" else _strict(
            self.path, tags, offsets, self.lines, self.unit)
        c = Corpus(vocab.add_many(self.tokens), tags, offsets, vocab, self.labels, lang, self.path,
                   self.cols if keep_cols and any(self.cols) else None)
        c.meta["repaired_tags"] = n_fixed
        c.meta["repair_policy"] = repair
        c.meta["first_lines"] = np.asarray(self.lines, dtype=np.int64)  # lines, or records if line_unit says so
        c.meta["line_unit"] = self.unit
        return c


def _strict(path: str, tags: np.ndarray, offsets: np.ndarray, lines: list[int], unit: str) -> tuple[np.ndarray, int]:
    from .labels import iob2_violations

    bad = iob2_violations(tags, offsets)
    if bad.size:
        s = int(np.searchsorted(offsets, bad[0], side="right") - 1)
        prefix, line = locate(unit, lines[s], int(bad[0] - offsets[s]))
        raise InputError(f"{prefix}IOB2 violation: I- tag does not continue a chunk ({bad.size} in file; "
                         "use --repair conlleval or drop)", path, line)
    return tags, 0
