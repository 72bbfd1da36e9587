"""The report's account and side sections: how the run was made (config, provenance, data), clean
F1 with overlap and per-type F1, and the overlap-F1 correlations (resampled by target)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from xner.io import dumps

from .analysis import Analysis
from .inference import cluster_correlation
from .reportdoc import Cell, Code, HtmlOnly, Para, Section, Table
from .reportdoc import ci_cell as _cic
from .reportdoc import int_cell as _int
from .reportdoc import mean_of as _mean
from .reportdoc import num_cell as _n
from .reportdoc import write_csv as _write_csv
from .results import OVERLAP, reference_f1

__all__ = ["clean_tables", "correlations", "made"]


def made(chosen: dict | None, rows: list[dict]) -> list[HtmlOnly]:
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


def clean_tables(an: Analysis, ref: dict, out: Path, vary: set) -> list[Section]:
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


def correlations(an: Analysis) -> tuple[dict, Section]:
    """Overlap vs clean F1 and vs ΔF1 of each perturbation and rate, one point per report row."""
    corr = {}
    t = Table(["overlap measure", "vs", "n", "targets", "Pearson", "95% CI", "Spearman", "95% CI"], "llrrrrrr")
    sec = Section("Overlap-F1 correlations", blocks=[
        Para("Pearson and Spearman, one point per model, setting and target (means over training seeds); ΔF1 per "
             "perturbation and rate. The points of one target share its test set, so the 95% intervals come from a "
             "bootstrap that draws whole targets (clusters), not points; with few targets they are coarse (4 targets "
             "allow 35 distinct resamples; in simulation 95% intervals over 4-6 targets covered 82-92%) and none is "
             "given below 3: read them as rough. The study's overlap measures come first "
             "(`entity_token_tag_overlap`, `shared_chunk_share_unique`, `context_overlap`), xner's word-only, "
             "mention-based ones after them."), t])
    targets = [(None, "F1 (clean)")] + [(pr, f"ΔF1 {pr[0]} @ {pr[1]}") for pr in an.prs]
    for meas in OVERLAP:
        for pr, what in targets:
            pts = [(next(iter(c.clean.values())).get("overlap", {}).get(meas), an.stat(c, pr)["value"], c.target)
                   for c in an.conds if pr is None or pr in c.pert]
            x = np.array([p[0] if p[0] is not None else np.nan for p in pts], dtype=float)
            y = np.array([p[1] if p[1] is not None else np.nan for p in pts], dtype=float)
            ok = np.isfinite(x) & np.isfinite(y)
            cr = cluster_correlation(x[ok], y[ok], [p[2] for p, k in zip(pts, ok, strict=True) if k])
            corr[f"{meas}~{what}"] = cr

            def ci(k, cr=cr) -> Cell:
                v = cr.get(k)
                return Cell("", f"[{v[0]:+.2f}, {v[1]:+.2f}]") if v else Cell("—")

            t.rows.append([Cell(meas), Cell(what), _int(cr["n"]), _int(cr["clusters"]), _n(cr["pearson"], 1.0, 2, True),
                           ci("pearson_ci"),
                           _n(cr["spearman"], 1.0, 2, True), ci("spearman_ci")])
    return corr, sec


def _where(c) -> str:
    return f"{'+'.join(c.sources)} -> {c.target}"


def runs_table(runs: list[dict], rid: int | None) -> Table:
    """The store's runs, each with the commit of its code and whether its tree was edited."""
    t = Table(["run", "config", "started", "cells planned", "reported", "commit", "tree"], "rllrlll")
    for r in runs:
        prov = r.get("provenance") or {}
        dirty = prov.get("git_dirty")
        t.rows.append([_int(r["id"]), Cell(r["config"].get("name", "")),
                       Cell(time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started"])), sort=r["started"]),
                       _int(r["cells"]), Cell("yes" if rid is None or r["id"] == rid else ""),
                       Cell(str(prov.get("git_commit") or "")[:7] or "—"),
                       Cell("unknown" if dirty is None else "edited" if dirty else "clean")])
    return t
