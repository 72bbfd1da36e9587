"""The report's PNG plots: F1 change vs entity overlap, a setting x perturbation heatmap, and
students' F1 and F1 change vs the number and relatedness of their sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plots", "relatedness"]


def relatedness(p: dict) -> str:
    """'related' or 'unrelated' by the registry's source groups of the target (else 'related' for a pair)."""
    from xner.langs import SOURCE_GROUPS

    g = SOURCE_GROUPS.get(p["target"], {})
    if set(p["sources"]) <= set(g.get("unrelated", [])):
        return "unrelated"
    return "related"


def plots(rows: list[dict], groups: list[tuple], perts: list[str], heat: np.ndarray, out: Path) -> list[Path]:
    """Write the plots into ``out``; ``heat`` is F1 change x 100 per group (row) and perturbation."""
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
