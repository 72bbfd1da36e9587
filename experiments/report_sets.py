"""The report's source-set section: the regression of each set's contrast on its properties
(:mod:`.setregression`), its tables (``slopes.csv``, ``sets.csv``) and the plot of contrast vs
diversity per target with a marginal fit (not the adjusted slope)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .reportdoc import Cell, Image, Para, Section, Table, ci_cell, num, val, write_dicts
from .setregression import NAMES, PRIMARY, regression

__all__ = ["sets_section"]


def _slope_cells(s: dict) -> list[Cell]:
    """Slope [95% CI], p, adjusted p and MDE, in points (x 100) of the endpoint per unit of the property."""
    if s.get("value") is None:
        return [Cell(f"not computed: {s.get('not_computed') or 'left out'}"), Cell("—"),
                Cell("Holm —" if s.get("family", "").startswith("primary") else "—"), Cell("—")]
    adj = s.get("p_holm") if s.get("p_holm") is not None else s.get("q")
    return [ci_cell(s), Cell(f"{s['p']:.3f}", sort=s["p"]),
            Cell(("Holm " if s.get("p_holm") is not None else "q ") + f"{adj:.3f}", sort=adj),
            Cell(num(s.get("mde")), sort=val(s.get("mde")) if s.get("mde") is not None else None)]


def _left(b: dict) -> str:
    parts = [f"{NAMES.get(k, k).split(' (')[0]}: {v}" for k, v in b["dropped"].items()]
    if b.get("floored"):
        parts.append(f"{b['floored']} set(s) at the floor, not fitted")
    if b.get("missing_value_sets"):
        parts.append(f"{b['missing_value_sets']} set(s) missing a property value, not fitted")
    if b.get("note"):
        parts.append(b["note"])
    return "; ".join(parts)


def _seeds(b: dict) -> str:
    seeds = "/".join(map(str, b.get("seeds_per_set") or [])) or "—"
    return seeds + (f" (SD {num(b['seed_sd'])})" if b.get("seed_sd") is not None else "")


def sets_section(an, cfg: dict, out: Path, n_boot: int) -> Section | None:
    reg = regression(an, cfg, n_boot=n_boot, n_perm=n_boot)
    if not reg["records"]:
        return None
    ep = cfg.get("endpoint") or {}
    t = Table(["model", "fit", "sets", "seeds per set", "slope of", "slope [95% CI]", "p (permutation)",
               "adjusted p", "MDE", "left out"], "llrllrrrrl")
    rows = []
    for model, m in reg["models"].items():
        blocks = ([("pooled (target fixed effects)", m["pooled"])] if m["pooled"] else []) + \
            [(f"target {tg}", b) for tg, b in m["per_target"].items()]
        for fit, b in blocks:
            left = _left(b)
            head = [Cell(model), Cell(fit), Cell(str(b["sets"])), Cell(_seeds(b))]
            if not b["slopes"]:
                t.rows.append([*head, Cell("—"), Cell("—"), Cell("—"), Cell("—"), Cell("—"), Cell(left)])
            for name, s in b["slopes"].items():
                prim = " (primary)" if name in PRIMARY and b.get("primary") else ""
                t.rows.append([*head, Cell(NAMES.get(name, name) + prim), *_slope_cells(s), Cell(left)])
                rows.append({"model": model, "fit": fit, "sets": b["sets"], "floored": b.get("floored"),
                             "slope_of": name, **s})
    write_dicts(out / "slopes.csv", rows)
    write_dicts(out / "sets.csv", [{k: v for k, v in r.items() if k not in ("teachers",)} |
                                   {"teachers": "; ".join(f"{x['lang']}:{x['sentences']}:{x['zero_shot_f1']}"
                                                          for x in r.get("teachers") or [])}
                                   for r in reg["records"]])
    png = _plot(reg["records"], out)
    measure = ep.get("measure", "delta_f1")
    sec = Section("Source sets: what moves the contrast", key="sets", blocks=[
        Para(f"Each random source set's student (uniform weighting; the langid students repeat sets with other "
             "weights and are analysed only by their declared contrasts) against the pair student of the same target "
             f"and training seed, at the endpoint ({measure} over {', '.join(ep.get('perturbations') or [])} at "
             f"rate {ep.get('rate')}; positive = the set keeps more F1), regressed on the set's properties: K, its "
             "diversity index (mean pairwise URIEL+ typological distance among its sources), its mean genetic "
             "distance to the target, the share of its sources in the target's script and its student's clean F1. "
             "Slopes, intervals and MDEs are in points (x 100) of the endpoint per unit of the property: per source "
             "for K, **per 0.1 of the diversity index** (its spread within a target is about 0.04-0.10, so a slope "
             "per whole unit would extrapolate far beyond the sets), per unit (0-1) for distance, script share and "
             "clean F1. Sets are the units: intervals from a bootstrap over sets inside each target, p-values from "
             "Freedman-Lane permutations; Holm over the primary slopes (K and diversity of the pooled fit, or of "
             "the only target's fit; a primary that cannot be computed keeps its row and its place in the family), "
             "BH q-values for the rest. A property that does not vary, or is a linear function of K and the "
             "properties before it (e.g. the script share is 1/K in fa when every set holds the pair language), "
             "is left out of that fit and named; a set whose student or pair student is at the floor (clean F1 "
             f"below {100 * getattr(an, 'floor_f1', 0.2):.0f}) carries no verdict and is left out of the fit "
             "(counted under `left out`). The genetic diversity (per 0.1) in place of the diversity index is a "
             "pre-declared sensitivity row."),
        Para("**What the intervals cover.** Sets share teachers (every K = 2 set of a target uses the same pair "
             "teacher on N/2 sentences, every K = 3 set the same one on N/3, and a language's teacher serves every "
             "set that holds it), and with one training seed the resampling over sets cannot see teacher training "
             "noise: the inference is *conditional on these teachers*. Training seeds are replicates: each set's "
             "value is its contrast averaged over the seeds it has (`seeds per set`, with the within-set SD over "
             "seeds in points where there are two or more) before the fit."),
        t, Para("`sets.csv` lists every set with its properties, floor flag, teachers (language, labelled "
                "sentences, zero-shot F1 on the target) and distillation weights."),
        Image("contrast vs diversity, with a marginal fit per target (not the adjusted slope)", png.name)])
    return sec


def _plot(recs: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = sorted({r["target"] for r in recs})
    cols = min(3, len(targets))
    rows = (len(targets) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for i, tg in enumerate(targets):
        ax = axes[i // cols][i % cols]
        rs = [r for r in recs if r["target"] == tg and r["diversity"] is not None]
        for k, marker in ((2, "o"), (3, "s"), (4, "^")):
            pts = [r for r in rs if r["k"] == k and not r.get("floor")]
            if pts:
                ax.scatter([r["diversity"] for r in pts], [100 * r["y"] for r in pts], marker=marker, label=f"K={k}")
        low = [r for r in rs if r.get("floor")]
        if low:
            ax.scatter([r["diversity"] for r in low], [100 * r["y"] for r in low], marker="x", color="grey",
                       label="at the floor (not fitted)")
        xs = np.array([r["diversity"] for r in rs if not r.get("floor")], dtype=float)
        ys = np.array([100 * r["y"] for r in rs if not r.get("floor")], dtype=float)
        if xs.size > 2 and np.ptp(xs) > 0:
            b = np.polyfit(xs, ys, 1)
            grid = np.linspace(xs.min(), xs.max(), 20)
            ax.plot(grid, np.polyval(b, grid), "-", color="grey", lw=1,
                    label=f"marginal fit (not adjusted): {b[0] / 10:+.1f} per 0.1")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(tg, fontsize=9)
        ax.set_xlabel("diversity index (mean pairwise URIEL+ distance)", fontsize=7)
        ax.set_ylabel("set − pair student (x 100)", fontsize=7)
        ax.legend(fontsize=6)
    for j in range(len(targets), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle("Source sets: contrast with the pair student vs diversity (one point per set; the line is the "
                 "marginal fit, not the regression's adjusted slope)", fontsize=8)
    fig.tight_layout()
    path = out / "sets_vs_diversity.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
