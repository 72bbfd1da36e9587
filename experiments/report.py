"""Reports from a results store: the research question first (one table, one plot), then per
perturbation and rate (never averaged across them) every setting's ΔF1 with its interval over
sentences x training seeds, requested vs achieved edit rates, contrasts with the baselines and the
reference study's number where comparable; clean F1 with overlap; correlations; plots with error
bars; and ``cells.csv``, one row per cell (:mod:`.results`)."""

from __future__ import annotations

import numbers
import time
from pathlib import Path

import numpy as np

from xner.errors import XnerError
from xner.io import dumps, write_json
from xner.provenance import provenance
from xner.robustness.statistics import correlation

from .analysis import Analysis, Cond
from .models import model_contrasts
from .plots import plots
from .report_html import write_html
from .reportdoc import (
    Cell,
    Code,
    Document,
    HtmlOnly,
    Image,
    Images,
    Para,
    Section,
    Table,
    table_markdown,
    to_markdown,
)
from .reportdoc import ci_cell as _cic
from .reportdoc import num as _num
from .reportdoc import val as _val
from .results import OVERLAP, flat_rows, reference, reference_f1, write_table
from .store import Store

__all__ = ["BASELINES", "build", "reference", "select_rows"]

#: contrasts: (key, column title); the pair student (else a 1-source student) and zero-shot (see Analysis.baseline)
BASELINES = (("student1", "vs pair student"), ("zero-shot", "vs zero-shot"))
MARK = ".xner-report"
QUESTION = ("Does a teacher-student NER model distilled from more, or more diverse, source languages keep more F1 "
            "under perturbation on a low-resource target?")


def _n(v, scale=100.0, nd=1, sign=False, ref=False) -> Cell:
    """A number as a cell, sorting by its value; ``ref``: the reference study's (only when there is one)."""
    return Cell(_num(v, scale, nd, sign), sort=_val(v), ref=ref and _val(v) is not None)


def _int(v) -> Cell:
    """A count (or another plain value) as a cell, sorting by it where it is a number."""
    return Cell(str(v), sort=_val(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else None)


def _mean(vals) -> float | None:
    vals = [v for v in vals if v is not None]
    return float(np.mean(vals)) if vals else None


def _prepare_out(out: Path, overwrite: bool, store: Path | None = None) -> None:
    """Write only into a new or empty folder, or one xner marked as its own (or with ``overwrite``):
    a folder that merely holds a ``report.md`` is the user's.  Never the store's folder itself."""
    from xner.outputs import claim_dir, mark_dir

    claim_dir(out, inputs=[store] if store is not None else [], overwrite=overwrite)
    mark_dir(out, "xner report")
    (out / MARK).write_text("written by xner report\n", encoding="utf-8")


def _select(st: Store, run) -> tuple[int | None, list[dict]]:
    if run in (None, "latest"):
        rid = st.latest_run()
        return rid, st.rows(rid)
    if run == "all":
        return None, st.rows()
    try:
        rid = int(run)
    except (TypeError, ValueError):
        raise XnerError(f"--run must be latest, all or a run id; got {run!r}") from None
    if rid not in {r["id"] for r in st.runs()}:
        raise XnerError(f"no run {rid} in this store (see the report's 'Runs' section)")
    return rid, st.rows(rid)


def select_rows(store_path: str | Path, run: str | int | None = "latest") -> list[dict]:
    """The cells of one run of a store (``latest``, a run id) or of every run (``all``)."""
    with Store(store_path) as st:
        return _select(st, run)[1]


#: replicates when the sweep recorded none (bootstrap = 0)
DEFAULT_REPLICATES = 1000


def replicates(rows: list[dict], bootstrap: int | None = None) -> int:
    """Bootstrap replicates of a report or table: ``bootstrap`` when given, else the sweep's own (the
    largest its cells record), else :data:`DEFAULT_REPLICATES`."""
    if bootstrap is not None:
        if bootstrap < 1:
            raise XnerError(f"--bootstrap is a number of replicates (at least 1), got {bootstrap}")
        return int(bootstrap)
    sweep = max([int((r["params"].get("identity") or {}).get("bootstrap") or 0) for r in rows] + [0])
    return sweep or DEFAULT_REPLICATES


def table_rows(store_path: str | Path, run: str | int | None = "latest", bootstrap: int | None = None) -> list[dict]:
    """The flat table of ``xner results``: the cells of ``run`` with the report's intervals (one engine)."""
    with Store(store_path) as st:
        rows = _select(st, run)[1]
        blobs = st.counts([r["key"] for r in rows])
    return flat_rows(rows, Analysis(rows, blobs, replicates(rows, bootstrap)).cell_intervals())


def _where(c: Cond) -> str:
    return f"{'+'.join(c.sources)} -> {c.target}"


def _edit(e: dict) -> str:
    if not e["cells"]:
        return "—"
    req = "all" if e["requested"] is None else f"{float(e['requested']):.2f}"
    s = f"{req} → {_num(e['achieved'], 1.0, 2)}"
    return s + (f" ⚠ capped ({e['capped']}/{e['cells']})" if e["capped"] else "")



def _research_question(an: Analysis, vary: set) -> tuple[Section, Table, list[dict]]:
    t = Table(["perturbation", "rate", "model", "setting", "sources", "targets", "seeds", "cells", "ΔF1 [95% CI]",
               *(f"{t} [95% CI]" for _, t in BASELINES)], "llllrrrrr" + "r" * len(BASELINES))
    sec = Section("Research question", key="question", blocks=[
        Para(f"*{QUESTION}*"),
        Para("ΔF1 x 100 = F1(perturbed) - F1(clean), mean over targets and training seeds, with a 95% interval from a "
             "bootstrap over test sentences x training seeds x targets. The contrasts are the paired difference in ΔF1 "
             "from the baseline setting (the pair student: the study's paired language as the only source, one "
             "teacher on its whole material, else a 1-source student; zero-shot) of the same target and training seed on "
             "identical test sets, resampled the same way: **positive = keeps more F1 than the baseline**. "
             "`cells` = perturbed cells behind the number (targets x training seeds x perturbation seeds). "
             "Each perturbation and rate is its own block; nothing is averaged across them. The study's P1/P2 "
             "(`entity_swap_shared`, `context_swap`, `entity_and_context`) edit only what the test set shares with each "
             "model's training material, so their perturbed test sets differ between settings: read their contrasts "
             "beside the achieved edit rates of the per-perturbation tables."), t])
    points = []
    for pr in an.prs:
        for s in an.settings():
            d = an.pooled(s, pr)
            if not d["targets"]:
                continue
            contrasts = {w: an.pooled(s, pr, w) for w, _ in BASELINES}
            label = s[1] + (f" [{s[2]}]" if (s[0], s[1]) in vary else "")
            cols = [Cell("baseline") if c["baseline"] is None and _is_baseline(an, s, w)
                    else _pooled_cell(c, d) if c["targets"] else Cell("—") for w, c in contrasts.items()]
            t.rows.append([Cell(pr[0]), Cell(pr[1]), Cell(s[0]), Cell(label), Cell("/".join(map(str, d["n_sources"]))),
                           _int(d["targets"]), _int(d["seeds"]), _int(d["cells"]), _cic(d), *cols])
            points.append({"pr": pr, "setting": s, "delta": d, **contrasts})
    return sec, t, points


def _pooled_cell(c: dict, d: dict) -> Cell:
    """A pooled contrast, saying so when it pooled fewer targets than the row's ΔF1 (and which are left
    out, why) or against more than one baseline setting."""
    cell = _cic(c)
    notes = []
    if c["targets"] != d["targets"]:
        why = "; ".join(f"{t}: {r}" for t, r in sorted((c.get("left_out") or {}).items()))
        notes.append(f"{c['targets']} of {d['targets']} targets ({', '.join(c.get('pooled_targets') or [])}"
                     + (f"; left out {why}" if why else "") + ")")
    if len(set((c.get("baselines") or {}).values())) > 1:
        notes.append("vs " + ", ".join(f"{b} ({t})" for t, b in sorted(c["baselines"].items())))
    if notes:
        from dataclasses import replace

        cell = replace(cell, ci=((cell.ci or "") + " " + "; ".join(notes)).strip())
    return cell


def _is_baseline(an: Analysis, s: tuple, which: str) -> bool:
    conds = [c for c in an.conds if (c.model, c.label, c.variant) == s]
    return bool(conds) and all(an.baseline(c, which) is None and _could_be(c, which) for c in conds)


def _could_be(c: Cond, which: str) -> bool:
    return (c.kind == "student" and len(c.sources) == 1) if which == "student1" else c.kind == "zero-shot"


def build(store_path: str | Path, out: str | Path, run: str | int | None = "latest", bootstrap: int | None = None,
          overwrite: bool = False) -> dict:
    """Write ``report.md``, ``report.html`` (the same report as one self-contained page), ``cells.csv``
    and the other tables, plots and ``correlations.json`` into ``out`` from the cells of one run of a
    sweep's store (default: the latest; ``run="all"``: every cell, cells of different configurations
    kept apart as variants)."""
    if not Path(store_path).is_file():
        raise XnerError(f"{store_path}: no such results store")
    out = Path(out)
    from xner.outputs import claim_dir

    claim_dir(out, inputs=[Path(store_path)], overwrite=overwrite)  # before anything is read or computed
    with Store(store_path) as st:
        rid, rows = _select(st, run)
        runs = st.runs()
        blobs = st.counts([r["key"] for r in rows])
    if not rows:
        raise XnerError(f"{store_path}: no finished cells to report")
    _prepare_out(out, overwrite, Path(store_path))
    n_boot = replicates(rows, bootstrap)
    an = Analysis(rows, blobs, n_boot)
    flat = flat_rows(rows, an.cell_intervals())  # one engine: the same intervals as the report's tables
    write_table(flat, out / "cells.csv", "csv", overwrite=True)
    variants = {}
    for c in an.conds:
        variants.setdefault((c.model, c.label), set()).add(c.variant)
    vary = {k for k, v in variants.items() if len(v) > 1}

    chosen = next((r for r in runs if r["id"] == rid), None)
    what = f"run {rid} (config `{chosen['config'].get('name', '')}`)" if chosen else "every run"
    doc = Document("xner robustness report", [
        Para(f"Store: `{store_path}`; {what}: {len(rows)} cells ({sum(1 for f in flat if f['perturbation'] == 'clean')} "
             f"models), {len({f['train_seed'] for f in flat})} training seed(s), {n_boot} bootstrap replicates. "
             f"`cells.csv` has one row per cell.")])
    if vary:
        doc.intro.append(Para("Several configurations of one setting are in this selection; they are kept apart as "
                              "variants (`[hash]` after the setting; see `cells.csv`, column `variant`)."))
    rq, rq_table, points = _research_question(an, vary)
    pngs = plots(an, points, out)
    rq.blocks += [Image("research question", pngs[0].name),
                  Para("Error bars: 95% intervals as in the table; `n=cells/seeds` beside each point.")]
    doc.sections.append(rq)
    # -- per perturbation and rate
    ref = reference()
    csv_pert = [["model", "setting", "variant", "sources", "target", "perturbation", "rate", "seeds", "cells", "clean_f1",
                 "f1", "delta_f1", "delta_f1_lo", "delta_f1_hi", "edit_rate_requested", "edit_rate_achieved",
                 "capped_cells", "reference_f1", *(f"{w}_{k}" for w, _ in BASELINES for k in ("value", "lo", "hi"))]]
    per = Section("ΔF1 per perturbation and rate", blocks=[
        Para("One table per perturbation and rate. F1 x 100, mean over training seeds (and perturbation seeds); ΔF1 "
             "with its 95% interval over sentences x training seeds; edit rate requested → achieved (in the "
             "perturbation's unit; `all` = every eligible unit, ⚠ where the eligible material capped the rate); `ref`: "
             "the reference study's F1 (clean → perturbed) only where the cell is comparable; contrasts as above, "
             "per target.")])
    for pr in an.prs:
        t = Table(["model", "setting", "train -> test", "seeds", "clean F1", "F1", "ΔF1 [95% CI]", "edit rate", "ref",
                   *(t for _, t in BASELINES)], "lllrrrrlr" + "r" * len(BASELINES), ref_columns=(8,))
        for c in an.conds:
            if pr not in c.pert:
                continue
            d, e = an.stat(c, pr), an.edit(c, pr)
            first = next(iter(next(iter(c.pert[pr].values()))))
            rp, rc = reference_f1(first["params"], ref), reference_f1(next(iter(c.clean.values()))["params"], ref)
            cons = {w: an.contrast(c, w, pr) for w, _ in BASELINES}
            clean_f1, f1 = _mean(r["f1"] for r in c.clean.values()), an.mean_field(c, pr, lambda r: r["f1"])
            label = c.label + (f" [{c.variant}]" if (c.model, c.label) in vary else "")
            refs = Cell("—") if rp is None else Cell(f"{_num(rc, 1.0)} → {_num(rp, 1.0)}", sort=_val(rp), ref=True)
            t.rows.append([Cell(c.model), Cell(label), Cell(_where(c)), _int(d["seeds"]), _n(clean_f1), _n(f1), _cic(d),
                           Cell(_edit(e), sort=_val(e["achieved"])), refs,
                           *(Cell("baseline") if v is None and _could_be(c, w) else _cic(v) for w, v in cons.items())])
            csv_pert.append([c.model, c.label, c.variant, "+".join(c.sources), c.target, pr[0], pr[1], d["seeds"],
                             d["cells"], clean_f1, f1, d["value"], d["lo"], d["hi"], e["requested"], e["achieved"],
                             e["capped"], rp, *(v.get(k) if v else None for v in cons.values()
                                                for k in ("value", "lo", "hi"))])
        per.blocks.append(Section(f"{pr[0]}, rate {pr[1]}", 3, [t]))
    doc.sections.append(per)
    _write_csv(out / "perturbations.csv", csv_pert)
    doc.sections += _clean_tables(an, ref, out, vary)
    msec, mcsv = model_contrasts(rows, blobs, n_boot, order=list((chosen or {}).get("config", {}).get("models") or []))
    if msec is not None:  # several models trained alike: each against the first (models.csv)
        doc.sections.append(msec)
        _write_csv(out / "models.csv", mcsv)
    corr, sec = _correlations(an)
    doc.sections += [sec, Section("Plots", blocks=[Images(tuple(Image(p.stem, p.name) for p in pngs[1:]))])]
    t = Table(["run", "config", "started", "cells planned", "reported"], "rllrl")
    for r in runs:
        t.rows.append([_int(r["id"]), Cell(r["config"].get("name", "")),
                       Cell(time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started"])), sort=r["started"]),
                       _int(r["cells"]), Cell("yes" if rid is None or r["id"] == rid else "")])
    doc.sections += [Section("Runs in this store", blocks=[t], key="runs"),
                     Section("How this was made", key="made", blocks=[
                         HtmlOnly(Para("**Versions, machine and command** of this report:")),
                         Code("json", dumps(provenance(store=str(store_path), run=rid), indent=2)),
                         *_made(chosen, rows)])]
    (out / "report.md").write_text(to_markdown(doc), encoding="utf-8")
    html = write_html(doc, out)
    write_json(out / "correlations.json", corr)
    return {"report": str(out / "report.md"), "html": str(html), "plots": [str(p) for p in pngs], "cells": len(rows),
            "run": rid, "main_table": "\n".join(table_markdown(rq_table)), "cells_csv": str(out / "cells.csv")}


def _made(chosen: dict | None, rows: list[dict]) -> list[HtmlOnly]:
    """The page's extra account of the run: its config and sweep provenance as the store keeps them,
    and the data each target was tested on."""
    out = []
    if chosen:
        out += [HtmlOnly(Para(f"**Config** of run {chosen['id']}, as the store keeps it:")),
                HtmlOnly(Code("json", dumps(chosen["config"], indent=2))),
                HtmlOnly(Para("**Provenance** of the sweep (when the run started):")),
                HtmlOnly(Code("json", dumps(chosen.get("provenance") or {}, indent=2)))]
    t = Table(["target", "data source", "split", "split seed", "train cap", "test cap", "test sentences",
               "test set (content hash)"], "llllrrrl")
    seen = set()
    for r in rows:
        p = r["params"]
        data = (p.get("identity") or {}).get("data") or {}
        split = data.get("split") or {}
        row = (p["target"], str(data.get("source") or "—"), str(split.get("scheme") or "—"),
               str(split.get("seed", "—")), split.get("train_max_sentences") or "none",
               split.get("test_max_sentences") or "none", r.get("test_sentences") or "—", str(data.get("test") or "—"))
        if p["perturbation"] == "clean" and row not in seen:
            seen.add(row)
            t.rows.append([Cell(row[0]), Cell(row[1]), Cell(row[2]), Cell(row[3]), _int(row[4]), _int(row[5]),
                           _int(row[6]), Cell(row[7][:16])])
    t.rows.sort(key=lambda cs: [c.text for c in cs])
    return out + [HtmlOnly(Para("**Data**: each target's test set (clean cells of this selection):")), HtmlOnly(t)]


def _clean_tables(an: Analysis, ref: dict, out: Path, vary: set) -> list[Section]:
    t = Table(["model", "setting", "train -> test", "seeds", "F1 [95% CI]", "ref", "entity-token overlap",
               "shared chunks", "seen chunks", "O-word overlap", "training sentences"], "lllrrrrrrrr", ref_columns=(5,))
    sec = Section("Clean F1 and overlap", blocks=[
        Para("F1 x 100, mean over training seeds with its 95% interval over sentences x seeds; `ref` as above; overlap "
             "of the test set with the material the model was trained on (for a student: its teachers' training "
             "data)."), t])
    rows = [["model", "setting", "variant", "sources", "target", "seeds", "f1", "f1_lo", "f1_hi", "reference", *OVERLAP]]
    for c in an.conds:
        st = an.stat(c, None)
        r0 = next(iter(c.clean.values()))
        ov = r0.get("overlap", {})
        rc = reference_f1(r0["params"], ref)
        label = c.label + (f" [{c.variant}]" if (c.model, c.label) in vary else "")
        t.rows.append([Cell(c.model), Cell(label), Cell(_where(c)), _int(st["seeds"]), _cic(st, sign=False),
                       _n(rc, 1.0, ref=True), _n(ov.get("entity_token_overlap"), 1.0, 3),
                       _int(ov.get("shared_chunks_unique", "—")), _n(ov.get("seen_chunk_share"), 1.0, 3),
                       _n(ov.get("o_word_overlap"), 1.0, 3), _int(r0.get("material_sentences", "—"))])
        rows.append([c.model, c.label, c.variant, "+".join(c.sources), c.target, st["seeds"], st["value"], st["lo"],
                     st["hi"], rc, *[ov.get(k) for k in OVERLAP]])
    _write_csv(out / "clean.csv", rows)
    pt = Table(["model", "setting", "train -> test", "PER", "ORG", "LOC"], "lllrrr")
    for c in an.conds:
        pt.rows.append([Cell(c.model), Cell(c.label), Cell(_where(c)),
                        *(_n(_mean((r.get("per_type") or {}).get(t) for r in c.clean.values()))
                          for t in ("PER", "ORG", "LOC"))])
    return [sec, Section("Per-type F1 (clean, mean over training seeds)", blocks=[pt])]


def _correlations(an: Analysis) -> tuple[dict, Section]:
    """Overlap vs clean F1 and vs ΔF1 of each perturbation and rate, one point per report row."""
    corr = {}
    t = Table(["overlap measure", "vs", "n", "Pearson", "95% CI", "Spearman", "95% CI"], "llrrrrr")
    sec = Section("Overlap-F1 correlations", blocks=[
        Para("Pearson and Spearman with 95% bootstrap intervals; one point per model, setting and target (means over "
             "training seeds); ΔF1 per perturbation and rate. The study's overlap measures come first "
             "(`entity_token_tag_overlap`, `shared_chunk_share_unique`, `context_overlap`), xner's word-only, "
             "mention-based ones after them."), t])
    targets = [(None, "F1 (clean)")] + [(pr, f"ΔF1 {pr[0]} @ {pr[1]}") for pr in an.prs]
    for meas in OVERLAP:
        for pr, what in targets:
            pts = [(next(iter(c.clean.values())).get("overlap", {}).get(meas), an.stat(c, pr)["value"])
                   for c in an.conds if pr is None or pr in c.pert]
            x = np.array([p[0] if p[0] is not None else np.nan for p in pts], dtype=float)
            y = np.array([p[1] if p[1] is not None else np.nan for p in pts], dtype=float)
            ok = np.isfinite(x) & np.isfinite(y)
            cr = correlation(x[ok], y[ok])
            corr[f"{meas}~{what}"] = cr

            def ci(k, cr=cr) -> Cell:
                v = cr.get(k)
                return Cell("", f"[{v[0]:+.2f}, {v[1]:+.2f}]") if v else Cell("—")

            t.rows.append([Cell(meas), Cell(what), _int(cr["n"]), _n(cr["pearson"], 1.0, 2, True), ci("pearson_ci"),
                           _n(cr["spearman"], 1.0, 2, True), ci("spearman_ci")])
    return corr, sec


def _write_csv(path: Path, rows: list[list]) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
