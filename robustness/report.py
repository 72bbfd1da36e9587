"""Reports from a results store: Markdown and CSV tables in the shape of the study's, the study's
reference numbers beside ours where a cell matches, PNG plots and overlap-F1 correlations."""

from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

import numpy as np

from xner.io import dumps, write_json
from xner.provenance import provenance

from .store import Store

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


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 3 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    def rank(a):
        order = np.argsort(a, kind="stable")
        r = np.empty(a.size)
        r[order] = np.arange(a.size)
        # average ranks of ties
        _, inv, counts = np.unique(a, return_inverse=True, return_counts=True)
        sums = np.bincount(inv, weights=r)
        return sums[inv] / counts[inv]

    return pearson(rank(x), rank(y))


def correlation(x: np.ndarray, y: np.ndarray, n: int = 1000, seed: int = 0) -> dict:
    """Pearson and Spearman with percentile bootstrap intervals over the (x, y) pairs."""
    rng = np.random.default_rng(seed)
    out = {"n": int(x.size), "pearson": pearson(x, y), "spearman": spearman(x, y)}
    if x.size >= 4:
        for name, f in (("pearson", pearson), ("spearman", spearman)):
            vals = []
            for _ in range(n):
                i = rng.integers(0, x.size, x.size)
                vals.append(f(x[i], y[i]))
            vals = np.array(vals)
            vals = vals[np.isfinite(vals)]
            out[f"{name}_ci"] = [float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))] if vals.size else None
    return out


def _fmt(v, scale=100.0, nd=1) -> str:
    return "—" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v * scale:.{nd}f}"


def build(store_path: str | Path, out: str | Path) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with Store(store_path) as st:
        rows = st.rows()
        runs = st.runs()
    if not rows:
        from xner.errors import XnerError

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
    plots = _plots(rows, groups, perts, heat, out)
    md += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    md += ["", "## How this was made", "", "```json", dumps(provenance(store=str(store_path),
                                                                        runs=len(runs)), indent=2), "```"]
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    write_json(out / "correlations.json", corr)
    return {"report": str(out / "report.md"), "plots": [str(p) for p in plots], "cells": len(rows),
            "main_table": "\n".join(md[md.index("## F1 under each perturbation"):][:len(groups) + 6])}


def relatedness(p: dict) -> str:
    """'related' or 'unrelated' by the registry's source groups of the target (else 'related' for a pair)."""
    from xner.langs import SOURCE_GROUPS

    g = SOURCE_GROUPS.get(p["target"], {})
    if set(p["sources"]) <= set(g.get("unrelated", [])):
        return "unrelated"
    return "related"


def _write_csv(path: Path, rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def _plots(rows, groups, perts, heat, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    # 1. F1 change vs entity overlap (the study's main figure)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for pert in perts:
        rs = [r for r in rows if r["params"]["perturbation"] == pert]
        ax.scatter([r["overlap"]["entity_token_overlap"] for r in rs], [100 * r["delta_f1"] for r in rs],
                   label=pert, s=28, alpha=0.8)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("entity-token overlap (train vs test)")
    ax.set_ylabel("F1 change (points)")
    ax.set_title("F1 change vs entity overlap")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    paths.append(out / "f1_change_vs_overlap.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    # 2. heatmap groups x perturbations
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(perts), 1.2 + 0.38 * len(groups)))
    lim = np.nanmax(np.abs(heat)) if np.isfinite(heat).any() else 1.0
    im = ax.imshow(heat, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(perts)), [p.replace("+", "+\n") for p in perts], fontsize=7, rotation=30, ha="right")
    ax.set_yticks(range(len(groups)), [f"{g[1]}{'/' + g[2] if g[2] else ''} {g[3]}->{g[4]}" for g in groups], fontsize=7)
    for i in range(heat.shape[0]):
        for j in range(heat.shape[1]):
            if np.isfinite(heat[i, j]):
                ax.text(j, i, f"{heat[i, j]:+.1f}", ha="center", va="center", fontsize=6)
    fig.colorbar(im, ax=ax, label="F1 change (points)")
    ax.set_title("F1 change by model setting and perturbation")
    fig.tight_layout()
    paths.append(out / "heatmap.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    # 3. students: F1 and F1 change vs number and relatedness of sources
    students = [r for r in rows if r["params"]["setting"] == "student"]
    if students:
        fig, axes = plt.subplots(1, 2, figsize=(9, 4))
        targets = sorted({r["params"]["target"] for r in students})
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for ti, t in enumerate(targets):
            for rel, style in (("related", "-o"), ("unrelated", "--s")):
                mine = [r for r in students if r["params"]["target"] == t and relatedness(r["params"]) == rel]
                if not mine:
                    continue
                c = colours[ti % len(colours)]
                rs = sorted([r for r in mine if r["params"]["perturbation"] == "clean"],
                            key=lambda r: len(r["params"]["sources"]))
                axes[0].plot([len(r["params"]["sources"]) for r in rs], [100 * r["f1"] for r in rs], style, color=c,
                             label=f"{t} ({rel})")
                by_k: dict[int, list[float]] = {}
                for r in mine:
                    if r["params"]["perturbation"] != "clean":
                        by_k.setdefault(len(r["params"]["sources"]), []).append(100 * r["delta_f1"])
                ks = sorted(by_k)
                axes[1].plot(ks, [np.mean(by_k[k]) for k in ks], style, color=c, label=f"{t} ({rel})")
        axes[0].set_xlabel("number of source languages")
        axes[0].set_ylabel("student F1 (clean)")
        axes[1].set_xlabel("number of source languages")
        axes[1].set_ylabel("mean F1 change under perturbation")
        for a in axes:
            a.legend(fontsize=7)
            a.set_xticks(sorted({len(r["params"]["sources"]) for r in students}))
        fig.suptitle("Teacher-student: source diversity")
        fig.tight_layout()
        paths.append(out / "students_vs_sources.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths
