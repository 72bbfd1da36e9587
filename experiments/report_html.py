"""``report.html``: the report of :mod:`.report` as one self-contained page beside ``report.md``,
rendered from the same :class:`~.reportdoc.Document`. The research question comes first; plots are
embedded as data-URI PNGs; tables sort by a click on a header (a few lines of inline JavaScript, no
external file); intervals are set apart from their numbers; the reference study's numbers are
marked as such; "How this run was made" gathers the selection, the runs, the config, versions and
provenance, and the data. Every text is escaped."""

from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path

from .reportdoc import Block, Cell, Code, Document, HtmlOnly, Image, Images, Para, Section, Table

__all__ = ["REFERENCE", "render_html", "write_html"]

REFERENCE = "Manafi & Krishnaswamy 2024"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232a;margin:0;background:#f6f7f9}
main{max-width:1400px;margin:0 auto;padding:12px 20px 48px;background:#fff}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #dde1e6;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}p{margin:6px 0 10px;max-width:1100px}
code{background:#eef1f4;padding:0 3px;border-radius:3px;font-size:12.5px}pre code{background:none;padding:0}
pre{background:#f3f5f7;border:1px solid #dde1e6;padding:8px 10px;overflow:auto;max-height:420px;font-size:12px}
.legend{background:#f3f5f7;border:1px solid #dde1e6;border-radius:4px;padding:6px 10px;display:inline-block;
font-size:13px}.legend>span{margin-right:16px}figure{margin:8px 0}
.scroll{overflow-x:auto;margin:6px 0 12px}
table{border-collapse:collapse;font-size:12.5px}th,td{border:1px solid #dde1e6;padding:3px 7px;vertical-align:top;white-space:nowrap}
th{background:#eef1f4;text-align:left;white-space:normal;vertical-align:bottom}td.num{text-align:right;white-space:nowrap}th.num{text-align:right}
tbody tr:nth-child(even){background:#fafbfc}tbody tr:hover{background:#fff7dd}
th.sortable{cursor:pointer;user-select:none}th.sortable::after{content:"\\00a0\\2195";color:#9aa3ad;font-size:11px}
th[aria-sort=ascending]::after{content:"\\00a0\\25B2";color:#1d232a}th[aria-sort=descending]::after{content:"\\00a0\\25BC";color:#1d232a}
.ci{color:#5c6670;font-size:11.5px}
.ref{background:#fff1d6!important;color:#7a4a00;font-style:italic}th.ref{background:#ffe3ad!important}
span.ref{padding:0 4px;border-radius:3px}
img{max-width:100%;height:auto;border:1px solid #dde1e6;margin:6px 0}
.question{border-left:4px solid #2f6fb3;padding-left:14px}
"""

_JS = """
(function () {
  "use strict";
  function key(td) {
    var s = td.getAttribute("data-sort");
    if (s !== null && s !== "") { return [0, parseFloat(s)]; }
    var t = td.textContent.trim();
    return (t === "" || t === "\\u2014") ? [2, ""] : [1, t];
  }
  function compare(a, b, asc) {
    if (a[0] !== b[0]) { return a[0] - b[0]; }
    if (a[0] === 2) { return 0; }
    var c = a[0] === 0 ? a[1] - b[1] : a[1].localeCompare(b[1]);
    return asc ? c : -c;
  }
  function sortBy(table, th, col) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var heads = table.tHead.rows[0].cells;
    for (var h = 0; h < heads.length; h++) { heads[h].setAttribute("aria-sort", "none"); }
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) { return compare(key(r1.cells[col]), key(r2.cells[col]), asc); });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener("click", function () { sortBy(table, th, col); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, th, col); }
      });
    });
  });
})();
"""


def _inline(text: str) -> str:
    """Markdown's inline ``code``, **bold** and *emphasis* on escaped text."""
    s = html.escape(text)
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    return re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", s)


def _cell(c: Cell, num: bool) -> str:
    cls = " ".join(x for x in ("num" if num else "", "ref" if c.ref else "") if x)
    ok = c.sort is not None and math.isfinite(c.sort)
    attrs = (f' class="{cls}"' if cls else "") + (f' data-sort="{float(c.sort)!r}"' if ok else "")
    inner = html.escape(c.text) + (f'{" " if c.text else ""}<span class="ci">{html.escape(c.ci)}</span>' if c.ci else "")
    return f"<td{attrs}>{inner}</td>"


def _table(t: Table) -> str:
    heads = []
    for i, (h, a) in enumerate(zip(t.header, t.align, strict=True)):
        cls = " ".join(x for x in ("sortable", "num" if a == "r" else "", "ref" if i in t.ref_columns else "") if x)
        heads.append(f'<th class="{cls}" tabindex="0" aria-sort="none" title="sort by this column">{html.escape(h)}</th>')
    body = "\n".join("<tr>" + "".join(_cell(c, a == "r") for c, a in zip(row, t.align, strict=True)) + "</tr>"
                     for row in t.rows)
    return (f'<div class="scroll"><table class="sortable"><thead><tr>{"".join(heads)}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody></table></div>")


def _image(i: Image, out: Path) -> str:
    p = out / i.path
    if not p.is_file():
        return f"<p><em>(plot {html.escape(i.path)} was not written)</em></p>"
    data = base64.b64encode(p.read_bytes()).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(i.alt)}"></figure>'


def _block(b: Block, out: Path) -> str:
    if isinstance(b, HtmlOnly):
        return _block(b.block, out)
    if isinstance(b, Para):
        return f"<p>{_inline(b.text)}</p>"
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, Image):
        return _image(b, out)
    if isinstance(b, Images):
        return "\n".join(_image(i, out) for i in b.items)
    if isinstance(b, Code):
        return f'<pre><code class="language-{html.escape(b.lang)}">{html.escape(b.text)}</code></pre>'
    if isinstance(b, Section):
        return _section(b, out)
    raise TypeError(f"not a report block: {b!r}")


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def _section(s: Section, out: Path, title: str | None = None, level: int | None = None, cls: str = "") -> str:
    lv = min(6, level or s.level)
    t = title or s.title
    attrs = f' id="{_slug(t)}"' + (f' class="{cls}"' if cls else "")
    parts = [f"<section{attrs}>", f"<h{lv}>{html.escape(t)}</h{lv}>"]
    parts += [_block(b, out) for b in s.blocks]
    return "\n".join(parts + ["</section>"])


def render_html(doc: Document, out: Path) -> str:
    """The page: the research question first, then every other section in the report's order, then
    "How this run was made" (the selection, the runs in the store, config, versions and data)."""
    q, runs, made = doc.section("question"), doc.section("runs"), doc.section("made")
    body = []
    if q is not None:
        body.append(_section(q, out, cls="question"))
    body += [_section(s, out) for s in doc.sections if s.key not in ("question", "runs", "made")]
    how = [_block(b, out) for b in doc.intro]
    if runs is not None:
        how.append(_section(runs, out, level=3))
    if made is not None:
        how += [_block(b, out) for b in made.blocks]
    body.append('<section id="how-this-run-was-made"><h2>How this run was made</h2>\n' + "\n".join(how)
                + "\n</section>")
    legend = ('<p class="legend"><span><span class="ref">ref</span> = ' + html.escape(REFERENCE)
              + " (the reference study's F1 x 100, only where a cell is comparable)</span>"
              + '<span><span class="ci">[lo, hi]</span> = 95% interval</span>'
              + "<span>click a column header to sort</span></p>")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">', '<link rel="icon" href="data:,">',
        f"<title>{html.escape(doc.title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>", "<main>",
        f"<h1>{html.escape(doc.title)}</h1>", legend, *body, "</main>", f"<script>{_JS}</script>", "</body>",
        "</html>"]) + "\n"


def write_html(doc: Document, out: str | Path) -> Path:
    """Write ``report.html`` into ``out`` (the folder holding the report's PNGs) and return its path."""
    out = Path(out)
    path = out / "report.html"
    path.write_text(render_html(doc, out), encoding="utf-8")
    return path
