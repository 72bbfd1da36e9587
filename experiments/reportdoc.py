"""A report as data: sections of paragraphs, tables (a header, alignments and rows of cells that
keep a number's value, its interval and whether it is the reference study's apart), images and
code, rendered to markdown here (``report.md``) and to one self-contained page by
:mod:`.report_html` (``report.html``), so both always say the same."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Block", "Cell", "Code", "Document", "HtmlOnly", "Image", "Images", "Para", "Section", "Table",
           "ci_cell", "int_cell", "mean_of", "num", "num_cell", "table_markdown", "to_markdown", "val", "write_csv",
           "write_dicts"]


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, the interval shown after it (``[lo, hi]``), the value it sorts by
    (None: by its text) and whether it is a reference-study number."""

    text: str
    ci: str | None = None
    sort: float | None = None
    ref: bool = False

    @property
    def md(self) -> str:
        return " ".join(s for s in (self.text, self.ci) if s)


def num(v, scale=100.0, nd=1, sign=False) -> str:
    """A number as report text (x 100 by default); "—" for none or not finite."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    return f"{v * scale:{'+' if sign else ''}.{nd}f}"


def val(v) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def num_cell(v, scale=100.0, nd=1, sign=False, ref=False) -> Cell:
    """A number as a cell, sorting by its value; ``ref``: the reference study's (only when there is one)."""
    return Cell(num(v, scale, nd, sign), sort=val(v), ref=ref and val(v) is not None)


def int_cell(v) -> Cell:
    """A count (or another plain value) as a cell, sorting by it where it is a number."""
    import numbers

    return Cell(str(v), sort=val(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else None)


def mean_of(vals) -> float | None:
    vals = [v for v in vals if v is not None]
    return float(np.mean(vals)) if vals else None


def write_csv(path, rows: list[list]) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def write_dicts(path, rows: list[dict]) -> None:
    """Records as CSV, the columns in order of first appearance."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    write_csv(path, [cols] + [[r.get(k) for k in cols] for r in rows])


def ci_cell(st: dict | None, sign=True) -> Cell:
    """``value [lo, hi]`` x 100 as a cell (a statistic with ``value``, ``lo``, ``hi``)."""
    if not st or st.get("value") is None:
        return Cell("—")
    ci = f"[{num(st['lo'], sign=sign)}, {num(st['hi'], sign=sign)}]" if st.get("lo") is not None else None
    return Cell(num(st["value"], sign=sign), ci, val(st["value"]))


@dataclass
class Table:
    header: list[str]
    align: str  # one letter per column: "l" left, "r" right (numbers)
    rows: list[list[Cell]] = field(default_factory=list)
    ref_columns: tuple[int, ...] = ()  # columns holding the reference study's numbers


@dataclass(frozen=True)
class Para:
    """A paragraph in markdown's inline syntax (``code``, **bold**, *emphasis*)."""

    text: str


@dataclass(frozen=True)
class Image:
    alt: str
    path: str  # a file name in the report's folder


@dataclass(frozen=True)
class Images:
    """Images on consecutive lines (one paragraph in markdown)."""

    items: tuple[Image, ...]


@dataclass(frozen=True)
class Code:
    lang: str
    text: str


@dataclass
class Section:
    title: str
    level: int = 2
    blocks: list[Block] = field(default_factory=list)
    key: str = ""  # how a renderer finds it: "question", "runs", "made"


@dataclass(frozen=True)
class HtmlOnly:
    """A block the page shows and ``report.md`` leaves out."""

    block: Block


Block = Para | Table | Image | Images | Code | Section | HtmlOnly


@dataclass
class Document:
    title: str
    intro: list[Block] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def section(self, key: str) -> Section | None:
        return next((s for s in self.sections if s.key == key), None)


def table_markdown(t: Table) -> list[str]:
    return (["| " + " | ".join(t.header) + " |", "|" + "".join("---:|" if a == "r" else "---|" for a in t.align)]
            + ["| " + " | ".join(c.md for c in row) + " |" for row in t.rows])


def _block(b: Block) -> list[str]:
    if isinstance(b, Para):
        return [b.text]
    if isinstance(b, Table):
        return table_markdown(b)
    if isinstance(b, Image):
        return [f"![{b.alt}]({b.path})"]
    if isinstance(b, Images):
        return [f"![{i.alt}]({i.path})" for i in b.items]
    if isinstance(b, Code):
        return [f"```{b.lang}", b.text, "```"]
    raise TypeError(f"not a markdown block: {b!r}")


def _section(s: Section) -> list[str]:
    lines = ["#" * s.level + " " + s.title, ""]
    for b in s.blocks:
        if isinstance(b, HtmlOnly):
            continue
        lines += _section(b) if isinstance(b, Section) else _block(b) + [""]
    return lines


def to_markdown(doc: Document) -> str:
    """``report.md``: each heading and block followed by a blank line."""
    lines = [f"# {doc.title}", ""]
    for b in doc.intro:
        if not isinstance(b, HtmlOnly):
            lines += _block(b) + [""]
    for s in doc.sections:
        lines += _section(s)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"
