"""The report's source-set section: the regression of each set's contrast on its properties
(:mod:`.setregression`), its tables (``slopes.csv``, ``sets.csv``) and the plot of contrast vs
diversity per target with the fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .reportdoc import Cell, Image, Para, Section, Table, write_dicts
from .setregression import PRIMARY, regression

__all__ = ["sets_section"]

NAMES = {"k": "K (sources)", "diversity": "diversity index", "distance": "distance to target",
         "script_share": "share in target's script", "clean_f1": "clean F1 of the set's student"}


def _slope_cell(s: dict) -> Cell:
    ci = f"[{s['lo']:+.2f}, {s['hi']:+.2f}]" if s.get("lo") is not None else None
    return Cell(f"{s['value']:+.2f}", ci, s["value"])


def sets_section(an, cfg: dict, out: Path, n_boot: int) -> Section | None:
    reg = regression(an, cfg, n_boot=n_boot, n_perm=n_boot)
    if not reg["records"]:
        return None
    ep = cfg.get("endpoint") or {}
    t = Table(["model", "fit", "sets", "slope of", "slope [95% CI]", "p (permutation)", "adjusted p", "MDE",
               "left out"], "llrlrrrrl")
    rows = []
    for model, m in reg["models"].items():
        blocks = ([("pooled (target fixed effects)", m["pooled"])] if m["pooled"] else []) + \
            [(f"target {tg}", b) for tg, b in m["per_target"].items()]
        for fit, b in blocks:
            left = "; ".join(f"{NAMES.get(k, k)}: {v}" for k, v in b["dropped"].items()) or b.get("note", "")
            if not b["slopes"]:
                t.rows.append([Cell(model), Cell(fit), Cell(str(b["sets"])), Cell("—"), Cell("—"), Cell("—"),
                               Cell("—"), Cell("—"), Cell(left)])
            for name, s in b["slopes"].items():
                adj = s.get("p_holm") if s.get("p_holm") is not None else s.get("q")
                t.rows.append([Cell(model), Cell(fit), Cell(str(b["sets"])),
                               Cell(NAMES.get(name, name) + (" (primary)" if name in PRIMARY and "pooled" in fit
                                                             else "")),
                               _slope_cell(s), Cell(f"{s['p']:.3f}", sort=s["p"]),
                               Cell(("Holm " if s.get("p_holm") is not None else "q ") + f"{adj:.3f}", sort=adj),
                               Cell("—" if s.get("mde") is None else f"{s['mde']:.2f}", sort=s.get("mde")), Cell(left)])
                rows.append({"model": model, "fit": fit, "sets": b["sets"], "slope_of": name, **s})
    write_dicts(out / "slopes.csv", rows)
    write_dicts(out / "sets.csv", [{k: v for k, v in r.items() if k not in ("teachers",)} |
                                   {"teachers": "; ".join(f"{x['lang']}:{x['sentences']}:{x['zero_shot_f1']}"
                                                          for x in r.get("teachers") or [])}
                                   for r in reg["records"]])
    png = _plot(reg["records"], reg, out)
    measure = ep.get("measure", "delta_f1")
    sec = Section("Source sets: what moves the contrast", key="sets", blocks=[
        Para(f"Each random source set's student against the pair student of the same target and training seed, at the "
             f"endpoint ({measure} over {', '.join(ep.get('perturbations') or [])} at rate {ep.get('rate')}; x 100, "
             "positive = the set keeps more F1), regressed on the set's properties: K, its diversity index (mean "
             "pairwise URIEL+ typological distance among its sources), its mean genetic distance to the target, the "
             "share of its sources in the target's script and its student's clean F1. Sets are the units (training "
             "seeds averaged inside each); intervals from a bootstrap over sets inside each target, p-values from "
             "Freedman-Lane permutations; Holm over the pooled primary slopes (diversity, K), BH q-values for the "
             "rest. Slopes are in points of the endpoint per unit of the property (diversity and distance run "
             "0-1; clean F1 0-1). `sets.csv` lists every set with its properties, teachers (language, labelled "
             "sentences, zero-shot F1 on the target) and distillation weights."), t,
        Image("contrast vs diversity", png.name)])
    return sec


def _plot(recs: list[dict], reg: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = sorted({r["target"] for r in recs})
    cols = min(3, len(targets))
    rows = (len(targets) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for i, tg in enumerate(targets):
        ax = axes[i // cols][i % cols]
        rs = [r for r in recs if r["target"] == tg]
        for k, marker in ((2, "o"), (3, "s"), (4, "^")):
            pts = [r for r in rs if r["k"] == k]
            if pts:
                ax.scatter([r["diversity"] for r in pts], [100 * r["y"] for r in pts], marker=marker, label=f"K={k}")
        xs = np.array([r["diversity"] for r in rs if r["diversity"] is not None], dtype=float)
        ys = np.array([100 * r["y"] for r in rs if r["diversity"] is not None], dtype=float)
        if xs.size > 2 and np.ptp(xs) > 0:
            b = np.polyfit(xs, ys, 1)
            grid = np.linspace(xs.min(), xs.max(), 20)
            ax.plot(grid, np.polyval(b, grid), "-", color="grey", lw=1, label=f"fit: {b[0]:+.1f} per unit")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(tg, fontsize=9)
        ax.set_xlabel("diversity index (mean pairwise URIEL+ distance)", fontsize=7)
        ax.set_ylabel("set − pair student (x 100)", fontsize=7)
        ax.legend(fontsize=6)
    for j in range(len(targets), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle("Source sets: contrast with the pair student vs diversity (one point per set)", fontsize=9)
    fig.tight_layout()
    path = out / "sets_vs_diversity.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

