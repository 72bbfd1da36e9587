"""The report's PNG plots, each point with its 95% interval as an error bar: the research question
(ΔF1 contrast with the 1-source student vs the number of source languages, per perturbation and
rate), ΔF1 vs entity overlap, a setting x perturbation heatmap (interval half-widths written in the
cells), and students' clean F1 vs the number and relatedness of their sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .analysis import Analysis

__all__ = ["plots", "relatedness"]


def relatedness(p: dict) -> str:
    """'related' or 'unrelated' by the registry's source groups of the target (else 'related' for a pair)."""
    from xner.langs import SOURCE_GROUPS, base_code

    g = SOURCE_GROUPS.get(base_code(p["target"]), {})
    if set(p["sources"]) <= set(g.get("unrelated", [])):
        return "unrelated"
    return "related"


def _err(st: dict, scale: float = 100.0) -> tuple[float, list[float]]:
    v = st["value"] * scale
    if st.get("lo") is None:
        return v, [0.0, 0.0]
    return v, [max(0.0, v - st["lo"] * scale), max(0.0, st["hi"] * scale - v)]


def _save(fig, path: Path, plt) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _research(points: list[dict], prs: list, out: Path, plt) -> Path:
    cols = min(3, max(1, len(prs)))
    rows = (len(prs) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    series: dict[tuple, int] = {}
    for i, pr in enumerate(prs):
        ax = axes[i // cols][i % cols]
        ax.axhline(0, color="grey", lw=0.8)
        lines: dict[tuple, list] = {}
        for p in (p for p in points if p["pr"] == pr):
            model, label, _ = p["setting"]
            kind = label.split()[0]
            if kind == "native":
                continue
            st, d = p["student1"], p["delta"]
            k = max(d["n_sources"]) if d["n_sources"] else 1
            family = label.split()[1].split(":")[0] if kind == "student" and len(label.split()) > 1 else label
            key = (model, kind, family)
            c = colours[series.setdefault(key, len(series)) % len(colours)]
            if st["baseline"] is None and kind == "student" and k == 1:
                y, e, n = 0.0, [0.0, 0.0], d
            elif st["targets"]:
                (y, e), n = _err(st), st
            else:
                continue
            x = k + (0.08 if kind != "student" else 0.0)
            ax.errorbar([x], [y], yerr=[[e[0]], [e[1]]], fmt="o" if kind == "student" else "s", color=c, capsize=3,
                        label=f"{model}: {label}" if i == 0 else None)
            ax.annotate(f"n={d['cells']}/{n['seeds']}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=6)
            if kind == "student":
                lines.setdefault(key, []).append((x, y))
        for key, pts in lines.items():
            pts.sort()
            if len(pts) > 1:
                ax.plot(*zip(*pts, strict=True), "-", color=colours[series[key] % len(colours)], lw=1)
        ks = sorted({max(p["delta"]["n_sources"] or [1]) for p in points if p["pr"] == pr})
        ax.set_xticks(ks or [1])
        ax.set_xlim(min(ks or [1]) - 0.4, max(ks or [1]) + 0.4)
        ax.set_title(f"{pr[0]} @ {pr[1]}", fontsize=9)
        ax.set_xlabel("number of source languages")
        ax.set_ylabel("ΔF1 - ΔF1(pair student), points")
    for j in range(len(prs), rows * cols):
        axes[j // cols][j % cols].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=min(4, len(labels)),
                   bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("Research question: does distilling from more / more diverse sources keep more F1? "
                 "(paired contrast, 95% CI; n=cells/seeds)", fontsize=9)
    fig.tight_layout(rect=(0, 0.05 + 0.05 / rows, 1, 0.95))
    path = out / "research_question.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plots(an: Analysis, points: list[dict], out: Path) -> list[Path]:
    """Write the plots into ``out``; the research question's first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = [_research(points, an.prs, out, plt)]
    # ΔF1 vs entity overlap, one point per report row and perturbation/rate
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for pr in an.prs:
        xs, ys, es = [], [], [[], []]
        for c in an.conds:
            if pr in c.pert:
                y, e = _err(an.stat(c, pr))
                xs.append(next(iter(c.clean.values())).get("overlap", {}).get("entity_token_tag_overlap", np.nan))
                ys.append(y)
                es[0].append(e[0])
                es[1].append(e[1])
        ax.errorbar(xs, ys, yerr=es, fmt="o", ms=4, capsize=2, alpha=0.8, label=f"{pr[0]} @ {pr[1]}")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("entity token-and-tag overlap, the study's measure (training material vs test)")
    ax.set_ylabel("ΔF1 (points), mean over training seeds")
    ax.set_title("F1 change vs entity overlap (95% CI)")
    ax.legend(fontsize=7, loc="best")
    paths.append(_save(fig, out / "f1_change_vs_overlap.png", plt))
    # heatmap: report rows x perturbation/rate
    heat = np.full((len(an.conds), len(an.prs)), np.nan)
    half = np.full_like(heat, np.nan)
    for i, c in enumerate(an.conds):
        for j, pr in enumerate(an.prs):
            if pr in c.pert:
                y, e = _err(an.stat(c, pr))
                heat[i, j], half[i, j] = y, (e[0] + e[1]) / 2
    fig, ax = plt.subplots(figsize=(2.2 + 1.3 * len(an.prs), 1.2 + 0.38 * len(an.conds)))
    lim = np.nanmax(np.abs(heat)) if np.isfinite(heat).any() else 1.0
    im = ax.imshow(heat, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(an.prs)), [f"{p[0]}\n@{p[1]}".replace("+", "+\n") for p in an.prs], fontsize=7,
                  rotation=30, ha="right")
    ax.set_yticks(range(len(an.conds)), [f"{c.model} {c.label} {'+'.join(c.sources)}->{c.target}" for c in an.conds],
                  fontsize=7)
    for i in range(heat.shape[0]):
        for j in range(heat.shape[1]):
            if np.isfinite(heat[i, j]):
                pm = f"±{half[i, j]:.1f}" if np.isfinite(half[i, j]) and half[i, j] > 0 else ""
                ax.text(j, i, f"{heat[i, j]:+.1f}{pm}", ha="center", va="center", fontsize=6)
    fig.colorbar(im, ax=ax, label="ΔF1 (points)")
    ax.set_title("ΔF1 by setting and perturbation/rate (± = 95% CI half-width)")
    paths.append(_save(fig, out / "heatmap.png", plt))
    # students: clean F1 vs number and relatedness of sources
    students = [c for c in an.conds if c.kind == "student"]
    if students:
        fig, ax = plt.subplots(figsize=(6, 4))
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for ti, t in enumerate(sorted({c.target for c in students})):
            for rel, style in (("related", "-o"), ("unrelated", "--s")):
                mine = sorted((c for c in students if c.target == t and
                               relatedness({"target": t, "sources": c.sources}) == rel), key=lambda c: len(c.sources))
                if not mine:
                    continue
                ys = [_err(an.stat(c, None)) for c in mine]
                ax.errorbar([len(c.sources) for c in mine], [y for y, _ in ys],
                            yerr=[[e[0] for _, e in ys], [e[1] for _, e in ys]], fmt=style,
                            color=colours[ti % len(colours)], capsize=3, label=f"{t} ({rel})")
        ax.set_xlabel("number of source languages")
        ax.set_ylabel("student F1 (clean), mean over seeds")
        ax.set_xticks(sorted({len(c.sources) for c in students}))
        ax.legend(fontsize=7)
        ax.set_title("Teacher-student: clean F1 vs source diversity (95% CI)")
        paths.append(_save(fig, out / "students_vs_sources.png", plt))
    return paths
