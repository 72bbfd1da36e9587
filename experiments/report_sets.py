"""The report's source-set section: the regression of each set's contrast on its properties
(:mod:`.setregression`), its tables (``slopes.csv``, ``sets.csv``), the reading of its primaries
(:func:`sets_reading`, for the research question's summary) and the plot of contrast vs diversity per
target, one colour per model, with a marginal fit (not the adjusted slope)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .reportdoc import Cell, Image, Para, Section, Table, ci_cell, num, val, write_dicts
from .setregression import MIN_DF, NAMES, PRIMARY, RE_METHOD, regression

__all__ = ["sets_reading", "sets_section"]


def _slope_cells(s: dict) -> list[Cell]:
    """Slope [95% CI], p, adjusted p, MDE, the inference's replicates and the verdict, in points
    (x 100) of the endpoint per unit of the property."""
    if s.get("value") is None:
        return [Cell(f"not computed: {s.get('not_computed') or 'left out'}"), Cell("—"),
                Cell("Holm —" if s.get("family", "").startswith("primary") else "—"), Cell("—"), Cell("—"),
                Cell(s.get("verdict") or "not computed")]
    adj = s.get("p_holm") if s.get("p_holm") is not None else s.get("q")
    if s.get("method") == RE_METHOD:
        how = f"random effects, {len(s['targets'])} targets (τ² {num(s['tau2'], 1e4, 2)} x 10⁻⁴)"
    else:
        how = f"{s.get('replicates', 0)} of {s.get('replicates_drawn', s.get('replicates', 0))}"
    return [ci_cell(s), Cell(f"{s['p']:.3f}", sort=s["p"]),
            Cell(("Holm " if s.get("p_holm") is not None else "q ") + f"{adj:.3f}", sort=adj) if adj is not None
            else Cell("—"),
            Cell(num(s.get("mde")), sort=val(s.get("mde")) if s.get("mde") is not None else None), Cell(how),
            Cell(s.get("verdict") or "")]


def _left(b: dict, s: dict | None = None) -> str:
    parts = [f"{NAMES.get(k, k).split(' (')[0]}: {v}" for k, v in b["dropped"].items()]
    if b.get("floored"):
        parts.append(f"{b['floored']} set(s) at the floor, not fitted")
    if b.get("missing_value_sets"):
        parts.append(f"{b['missing_value_sets']} set(s) missing a property value, not fitted")
    if b.get("note"):
        parts.append(b["note"])
    if s and s.get("left_out"):
        parts.append("targets without a slope: " + "; ".join(f"{t}: {w}" for t, w in sorted(s["left_out"].items())))
    if s and s.get("conditional"):
        parts.append(s["conditional"])
    return "; ".join(parts)


def _seeds(b: dict) -> str:
    seeds = "/".join(map(str, b.get("seeds_per_set") or [])) or "—"
    return seeds + (f" (SD {num(b['seed_sd'])})" if b.get("seed_sd") is not None else "")


def _fit_name(b: dict, pooled: bool) -> str:
    if not pooled:
        return f"target {b['targets'][0]}"
    fitted = b.get("fitted_targets") or []
    if len(fitted) == 1:
        return f"single-target fit: {fitted[0]} (every other target's sets left out)"
    return "pooled (target fixed effects)"


def _blocks(m: dict) -> list[tuple[str, dict]]:
    out = []
    for b, pooled in ([(m["pooled"], True)] if m["pooled"] else []) + [(b, False) for b in m["per_target"].values()]:
        fit = _fit_name(b, pooled)
        out.append((fit, b))
        out += [(f"{fit}; sensitivity: {s['label']}", s) for s in b["sensitivity"].values()]
    return out


def sets_reading(reg: dict) -> str:
    """The primaries of the set regression and their verdicts, one clause per model."""
    parts = []
    for model, m in reg["models"].items():
        b = m["pooled"] or next(iter(m["per_target"].values()))
        where = "pooled over targets" if m["pooled"] else f"on {b['targets'][0]} alone"
        slopes = []
        for k in PRIMARY:
            s = b["slopes"].get(k) or {}
            what = NAMES[k].split(" (")[0] + (" (per 0.1)" if k == "diversity" else " (per source)")
            if s.get("value") is None:
                slopes.append(f"{what}: not computed ({s.get('not_computed') or 'left out'})")
                continue
            how = (f"random effects over {len(s['targets'])} targets' slopes, df {s['df']:.0f}"
                   if s.get("method") == RE_METHOD else f"{b['sets']} sets, df {s['df']}")
            slopes.append(f"{what} {num(s['value'], sign=True)} [{num(s['lo'], sign=True)}, {num(s['hi'], sign=True)}] "
                          f"points, Holm p {s['p_holm']:.3f}, MDE {num(s.get('mde'))} ({how}): {s['verdict']}"
                          + (f"; {s['conditional']}" if s.get("conditional") else ""))
        parts.append(f"{model} ({where}): " + "; ".join(slopes))
    return ("the primaries are the source-set slopes (supported when Holm p < 0.05, the sign says which way; else "
            "no evidence, with the interval and MDE in points): " + " | ".join(parts) + ".")


def sets_section(an, cfg: dict, out: Path, n_boot: int, reg: dict | None = None) -> Section | None:
    reg = reg if reg is not None else regression(an, cfg, n_boot=n_boot, n_perm=n_boot)
    if not reg["records"]:
        return None
    ep = cfg.get("endpoint") or {}
    t = Table(["model", "fit", "sets", "seeds per set", "slope of", "slope [95% CI]", "p", "adjusted p", "MDE",
               "bootstrap kept", "verdict", "left out, notes"], "llrllrrrrlll")
    rows = []
    for model, m in reg["models"].items():
        for fit, b in _blocks(m):
            head = [Cell(model), Cell(fit), Cell(str(b["sets"])), Cell(_seeds(b))]
            if not b["slopes"]:
                t.rows.append([*head, *(Cell("—") for _ in range(7)), Cell(_left(b))])
            for name, s in b["slopes"].items():
                prim = " (primary)" if name in PRIMARY and b.get("primary") else ""
                re = "; random effects over targets" if s.get("method") == RE_METHOD else ""
                t.rows.append([*head, Cell(NAMES.get(name, name) + prim + re), *_slope_cells(s), Cell(_left(b, s))])
                rows.append({"model": model, "fit": fit, "sets": b["sets"], "floored": b.get("floored"),
                             "slope_of": name, "unit": "fraction", **{k: v for k, v in s.items()
                                                                      if k not in ("per_target", "left_out")}})
    write_dicts(out / "slopes.csv", rows)
    write_dicts(out / "sets.csv", [{k: v for k, v in r.items() if k not in ("teachers",)} |
                                   {"teachers": "; ".join(f"{x['lang']}:{x['sentences']}:{x['zero_shot_f1']}"
                                                          for x in r.get("teachers") or [])}
                                   for r in reg["records"]])
    png = _plot(reg["records"], out)
    measure = ep.get("measure", "delta_f1")
    floor = f"{100 * getattr(an, 'floor_f1', 0.2):.0f}"
    sec = Section("Source sets: what moves the contrast", key="sets", blocks=[
        Para(f"Each random source set's student (uniform weighting; the langid students repeat sets with other "
             "weights and are analysed only by their declared contrasts) against the pair student of the same target "
             f"and training seed, at the endpoint ({measure} over {', '.join(ep.get('perturbations') or [])} at "
             f"rate {ep.get('rate')}; positive = the set keeps more F1), regressed on the set's properties: K, its "
             "diversity index (mean pairwise URIEL+ typological distance among its sources), its mean genetic "
             "distance to the target and the share of its sources in the target's script. The set student's clean "
             "F1 is not in the primary fits (the set produces it: controlling for it can remove the effect asked "
             "about); the fit *with* it and the genetic diversity (per 0.1) in place of the diversity index are "
             "pre-declared sensitivity fits, each with its own sets and left-out counts. Slopes, intervals and MDEs "
             "are in points (x 100) of the endpoint per unit of the property (`slopes.csv` holds them as fractions): "
             "per source for K, **per 0.1 of the diversity index** (its spread within a target is about 0.04-0.10), "
             "per unit (0-1) for distance, script share and clean F1. Sets are the units: intervals from a "
             "bootstrap over sets inside each target (scaled by √(n/(n − p)); `bootstrap kept`: replicates whose "
             "design kept its rank), p-values from Freedman-Lane permutations, MDEs from the classical OLS SE (the "
             "pooled K's from its random-effects SE); a fit "
             f"needs {MIN_DF} or more residual degrees of freedom. **The pooled K slope** is the random-effects mean "
             "of the targets' K slopes (DerSimonian-Laird, Hartung-Knapp, df = targets − 1; not computed with fewer "
             "than two targets), the pooled diversity slope that of the fit with target fixed effects. Holm over the "
             "primaries (K and diversity of the pooled analysis, or of the only target's fit; 2 x models in one "
             "family; one that cannot be computed keeps its row and its place), BH q-values for every other slope "
             "(a family apart from the declared contrasts'). **Verdict**: a primary is supported when its Holm p is "
             "below 0.05 (the sign says which way), another slope a discovery when its q is; else no evidence, with "
             "the interval and the MDE. A property that does not vary, or is a linear function of K and the "
             "properties before it (e.g. the script share is 1/K in fa when every set holds the pair language), is "
             "left out of that fit and named; a set whose student or pair student is at the floor (mean clean F1 "
             f"over training seeds below {floor}, or any one seed's) carries no verdict and is left out (counted)."),
        Para("**What the intervals cover.** Within a target every K = 2 set uses the same pair teacher on N/2 "
             "sentences and every K = 3 set the same one on N/3, so a difference between those two teachers is "
             "part of what K measures there: a per-target K slope (and a single target's primary) is *conditional "
             "on that target's two pair teachers*; pooled by random effects it becomes between-target "
             "heterogeneity. A language's teacher also serves every set that holds it, and with one training seed "
             "the resampling over sets cannot see teacher training noise: the fixed-effects slopes are conditional "
             "on these teachers. Training seeds are replicates: each set's value is its contrast averaged over the "
             "seeds it has (`seeds per set`, with the within-set SD over seeds in points where there are two or "
             "more) before the fit."),
        t, Para("`sets.csv` lists every set with its properties, floor flag, teachers (language, labelled "
                "sentences, zero-shot F1 on the target) and distillation weights."),
        Image("contrast vs diversity per target, one colour per model, with a marginal fit per model "
              "(not the adjusted slope)", png.name)])
    return sec


def _plot(recs: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = sorted({r["target"] for r in recs})
    models = sorted({r["model"] for r in recs})
    colours = {m: f"C{i % 10}" for i, m in enumerate(models)}
    cols = min(3, len(targets))
    rows = (len(targets) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for i, tg in enumerate(targets):
        ax = axes[i // cols][i % cols]
        for model in models:
            rs = [r for r in recs if r["target"] == tg and r["model"] == model and r["diversity"] is not None]
            who = f"{model}, " if len(models) > 1 else ""
            for k, marker in ((2, "o"), (3, "s"), (4, "^")):
                pts = [r for r in rs if r["k"] == k and not r.get("floor")]
                if pts:
                    ax.scatter([r["diversity"] for r in pts], [100 * r["y"] for r in pts], marker=marker,
                               color=colours[model], label=f"{who}K={k}")
            low = [r for r in rs if r.get("floor") and r["y"] is not None]
            if low:
                ax.scatter([r["diversity"] for r in low], [100 * r["y"] for r in low], marker="x", color=colours[model],
                           alpha=0.5, label=f"{who}at the floor (not fitted)")
            xs = np.array([r["diversity"] for r in rs if not r.get("floor")], dtype=float)
            ys = np.array([100 * r["y"] for r in rs if not r.get("floor")], dtype=float)
            if xs.size > 2 and np.ptp(xs) > 0:
                b = np.polyfit(xs, ys, 1)
                grid = np.linspace(xs.min(), xs.max(), 20)
                ax.plot(grid, np.polyval(b, grid), "-", color=colours[model], lw=1,
                        label=f"{who}marginal fit: {b[0] / 10:+.1f} per 0.1")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(tg, fontsize=9)
        ax.set_xlabel("diversity index (mean pairwise URIEL+ distance)", fontsize=7)
        ax.set_ylabel("set − pair student (x 100)", fontsize=7)
        ax.legend(fontsize=6)
    for j in range(len(targets), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle("Source sets: contrast with the pair student vs diversity (one point per set, one colour per model: "
                 + ", ".join(models) + "; the lines are marginal fits per model, not the regression's adjusted slope)",
                 fontsize=8)
    fig.tight_layout()
    path = out / "sets_vs_diversity.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
