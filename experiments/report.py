"""Reports from a results store: Markdown and CSV tables in the shape of the study's, the study's
reference numbers beside ours where a cell matches, PNG plots and overlap-F1 correlations."""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

import numpy as np

from xner.errors import XnerError
from xner.io import dumps, write_json
from xner.provenance import provenance
from xner.robustness.statistics import correlation

from .plots import plots
from .store import Store

__all__ = ["OVERLAP", "REF_COLUMNS", "build", "reference"]

#: our perturbation names -> the reference table's columns
REF_COLUMNS = {"clean": "clean", "entity_swap_shared": "entity_swap_shared", "context_swap": "context_swap_cosine",
               "entity_swap_shared+context_swap": "entity_and_context", "entity_and_context": "entity_and_context",
               "name_swap": "name_swap",
               "place_swap": "place_swap"}
OVERLAP = ("entity_token_overlap", "shared_chunks_unique", "seen_chunk_share", "o_word_overlap")


def reference() -> dict[tuple[str, str, str], dict[str, float]]:
    """(train, test, model) -> {column: F1 x 100} from the study's saved outputs (shipped as data)."""
    text = resources.files("xner.resources").joinpath("reference_f1.csv").read_text()
    out = {}
    for r in csv.DictReader(io.StringIO(text)):
        out[(r["train"], r["test"], r["model"])] = {k: float(v) for k, v in r.items()
                                                    if k not in ("train", "test", "model") and v}
    return out


def _model_id(row: dict, runs: list[dict]) -> str:
    """The hub id a row's model stands for (so reference numbers match), else its config name."""
    for run in runs:
        spec = run["config"].get("models", {}).get(row["params"]["model"], {})
        if "hub" in spec:
            return spec["hub"]
    return row["params"]["model"]


def _train_label(p: dict) -> str:
    return "+".join(p["sources"])


def _fmt(v, scale=100.0, nd=1) -> str:
    return "—" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v * scale:.{nd}f}"


def build(store_path: str | Path, out: str | Path) -> dict:
    """Write ``report.md``, CSV tables, plots and ``correlations.json`` into ``out`` from a sweep's store."""
    if not Path(store_path).is_file():
        raise XnerError(f"{store_path}: no such results store")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with Store(store_path) as st:
        rows = st.rows()
        runs = st.runs()
    if not rows:
        raise XnerError(f"{store_path}: no finished cells to report")
    ref = reference()
    for r in rows:
        r["model_id"] = _model_id(r, runs)
        p = r["params"]
        r["group"] = (p["model"], p["setting"], p.get("weighting", ""), _train_label(p), p["target"])
    # -- long CSV of every cell
    with open(out / "cells.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["model", "setting", "weighting", "train", "test", "perturbation", "rate", "seed", "f1", "clean_f1",
                    "delta_f1", "relative_drop", "delta_per_edited_pp", "entity_edit_rate", "token_edit_rate",
                    *OVERLAP, "reference_f1"])
        for r in rows:
            p, e = r["params"], r.get("edit", {})
            refv = ref.get((_train_label(p), p["target"], r["model_id"]), {}).get(REF_COLUMNS.get(p["perturbation"], ""))
            w.writerow([p["model"], p["setting"], p.get("weighting", ""), _train_label(p), p["target"], p["perturbation"],
                        p["rate"], p["seed"], r["f1"], r.get("clean_f1"), r.get("delta_f1"), r.get("relative_drop"),
                        r.get("delta_per_edited_pp"), e.get("entity_edit_rate"), e.get("token_edit_rate"),
                        *[r.get("overlap", {}).get(k) for k in OVERLAP], refv])
    groups = sorted({r["group"] for r in rows})
    seen = {r["params"]["perturbation"] for r in rows} - {"clean"}
    order = [p for p in REF_COLUMNS if p in seen]  # the study's order first, then the rest by name
    perts = order + sorted(seen - set(order))

    def cell(g, pert):
        vals = [r for r in rows if r["group"] == g and r["params"]["perturbation"] == pert]
        return vals

    md = ["# xner robustness report", "", f"Store: `{store_path}`; {len(rows)} cells.", ""]
    # table 1: clean F1 with overlap and reference
    md += ["## Clean F1 and overlap", "", "F1 x 100; `ref` = the reference study's number for the same train/test/model.",
           "", "| model | setting | train | test | F1 | 95% CI | ref | entity-token overlap | shared chunks | "
           "seen chunks | O-word overlap |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    csv_clean = [["model", "setting", "train", "test", "f1", "reference", *OVERLAP]]
    for g in groups:
        c = cell(g, "clean")
        if not c:
            continue
        r = c[0]
        p = r["params"]
        refv = ref.get((_train_label(p), p["target"], r["model_id"]), {}).get("clean")
        ci = r.get("ci", {}).get("f1")
        ov = r.get("overlap", {})
        setting = p["setting"] + (f" ({p['weighting']})" if p.get("weighting") else "")
        md.append(f"| {p['model']} | {setting} | {_train_label(p)} | {p['target']} | {_fmt(r['f1'])} | "
                  f"{f'[{_fmt(ci[0])}, {_fmt(ci[1])}]' if ci else '—'} | {_fmt(refv, 1.0)} | "
                  f"{_fmt(ov.get('entity_token_overlap'), 1.0, 3)} | {ov.get('shared_chunks_unique', '—')} | "
                  f"{_fmt(ov.get('seen_chunk_share'), 1.0, 3)} | {_fmt(ov.get('o_word_overlap'), 1.0, 3)} |")
        csv_clean.append([p["model"], setting, _train_label(p), p["target"], r["f1"], refv, *[ov.get(k) for k in OVERLAP]])
    _write_csv(out / "clean.csv", csv_clean)
    # table 2: F1 under each perturbation, ours (ref)
    md += ["", "## F1 under each perturbation", "",
           "F1 x 100 (mean over seeds) and, in parentheses, the reference study's number where the cell matches; "
           "ΔF1 below.", "",
           "| model | setting | train -> test | clean | " + " | ".join(perts) + " |",
           "|---|---|---|---:|" + "---:|" * len(perts)]
    heat = np.full((len(groups), len(perts)), np.nan)
    csv_pert = [["model", "setting", "train", "test", "perturbation", "f1", "delta_f1", "reference"]]
    for gi, g in enumerate(groups):
        c = cell(g, "clean")
        if not c:
            continue
        p0 = c[0]["params"]
        key = (_train_label(p0), p0["target"], c[0]["model_id"])
        cols = []
        for pj, pert in enumerate(perts):
            vals = cell(g, pert)
            if not vals:
                cols.append("—")
                continue
            f1 = float(np.mean([v["f1"] for v in vals]))
            d = float(np.mean([v["delta_f1"] for v in vals]))
            heat[gi, pj] = 100 * d
            refv = ref.get(key, {}).get(REF_COLUMNS.get(pert, ""))
            cols.append(f"{_fmt(f1)}" + (f" ({refv:.1f})" if refv is not None else "") + f"<br>{100 * d:+.1f}")
            csv_pert.append([p0["model"], p0["setting"], _train_label(p0), p0["target"], pert, f1, d, refv])
        refc = ref.get(key, {}).get("clean")
        setting = p0["setting"] + (f" ({p0['weighting']})" if p0.get("weighting") else "")
        md.append(f"| {p0['model']} | {setting} | {_train_label(p0)} -> {p0['target']} | {_fmt(c[0]['f1'])}"
                  + (f" ({refc:.1f})" if refc is not None else "") + " | " + " | ".join(cols) + " |")
    _write_csv(out / "perturbations.csv", csv_pert)
    # table 3: per-type F1; table 4: edit rates
    md += ["", "## Per-type F1 (clean)", "", "| model | setting | train -> test | PER | ORG | LOC |", "|---|---|---|---:|---:|---:|"]
    for g in groups:
        c = cell(g, "clean")
        if c:
            p, pt = c[0]["params"], c[0].get("per_type", {})
            md.append(f"| {p['model']} | {p['setting']} | {_train_label(p)} -> {p['target']} | "
                      + " | ".join(_fmt(pt.get(t)) for t in ("PER", "ORG", "LOC")) + " |")
    md += ["", "## Edit rates", "", "Share of entities / tokens edited (mean over seeds): the study's perturbations edit "
           "only material shared with the training language, so models see different edit intensities.", "",
           "| model | setting | train -> test | " + " | ".join(perts) + " |", "|---|---|---|" + "---:|" * len(perts)]
    for g in groups:
        c = cell(g, "clean")
        if not c:
            continue
        p = c[0]["params"]
        cols = []
        for pert in perts:
            vals = cell(g, pert)
            cols.append("—" if not vals else f"{np.mean([v['edit']['entity_edit_rate'] for v in vals]):.2f} / "
                        f"{np.mean([v['edit']['token_edit_rate'] for v in vals]):.2f}")
        md.append(f"| {p['model']} | {p['setting']} | {_train_label(p)} -> {p['target']} | " + " | ".join(cols) + " |")
    # correlations
    corr = {}
    md += ["", "## Overlap-F1 correlations", "", "Pearson and Spearman with 95% bootstrap intervals, over clean cells "
           "(F1) and perturbed cells (ΔF1).", "", "| overlap measure | vs | n | Pearson | 95% CI | Spearman | 95% CI |",
           "|---|---|---:|---:|---:|---:|---:|"]
    clean_rows = [r for r in rows if r["params"]["perturbation"] == "clean"]
    pert_rows = [r for r in rows if r["params"]["perturbation"] != "clean"]
    for meas in OVERLAP:
        for what, rs, field in (("F1", clean_rows, "f1"), ("ΔF1", pert_rows, "delta_f1")):
            x = np.array([r["overlap"].get(meas, np.nan) for r in rs], dtype=float)
            y = np.array([r.get(field, np.nan) for r in rs], dtype=float)
            ok = np.isfinite(x) & np.isfinite(y)
            cr = correlation(x[ok], y[ok])
            corr[f"{meas}~{what}"] = cr

            def ci(k, cr=cr):
                v = cr.get(k)
                return f"[{v[0]:+.2f}, {v[1]:+.2f}]" if v else "—"

            md.append(f"| {meas} | {what} | {cr['n']} | {cr['pearson']:+.2f} | {ci('pearson_ci')} | "
                      f"{cr['spearman']:+.2f} | {ci('spearman_ci')} |")
    pngs = plots(rows, groups, perts, heat, out)
    md += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in pngs]
    md += ["", "## How this was made", "", "```json", dumps(provenance(store=str(store_path),
                                                                        runs=len(runs)), indent=2), "```"]
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    write_json(out / "correlations.json", corr)
    return {"report": str(out / "report.md"), "plots": [str(p) for p in pngs], "cells": len(rows),
            "main_table": "\n".join(md[md.index("## F1 under each perturbation"):][:len(groups) + 6])}


def _write_csv(path: Path, rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
