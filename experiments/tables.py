"""The report's numbers as data, computed once: per condition and per pooled setting (each
perturbation and rate), the declared contrasts, and the multiplicity families over all of them.
``report.md``, ``report.html``, the CSV files and ``xner results --table`` all read these rows, so
one cell's interval is the same number everywhere."""

from __future__ import annotations

import numpy as np

from .analysis import Analysis, Cond
from .contrasts import declared_contrasts, families, verdict
from .results import reference, reference_f1

__all__ = ["BASELINES", "compute", "flat_conditions", "flat_contrasts"]

#: contrasts: (key, column title); the pair student (else a 1-source student) and zero-shot (see Analysis.baseline)
BASELINES = (("student1", "vs pair student"), ("zero-shot", "vs zero-shot"))


def _mean(vals) -> float | None:
    vals = [v for v in vals if v is not None]
    return float(np.mean(vals)) if vals else None


def compute(an: Analysis, cfg: dict | None = None) -> dict:
    """``conditions`` (one row per condition, perturbation and rate), ``pooled`` (one per model,
    setting, variant, perturbation and rate, over targets), ``declared`` (the config's contrasts),
    with Holm p-values for the primary family and BH q-values and MDEs for every other test."""
    conditions, pooled = [], []
    for pr in an.prs:
        for c in an.conds:
            if pr not in c.pert:
                continue
            d = an.stat(c, pr)
            conditions.append({"cond": c, "pr": pr, "delta": d, "clean": an.stat(c, None), "edit": an.edit(c, pr),
                               "f1": an.mean_field(c, pr, lambda r: r["f1"]),
                               "contrasts": {w: an.contrast(c, w, pr) for w, _ in BASELINES}})
        for s in an.settings():
            d = an.pooled(s, pr)
            if not d["targets"]:
                continue
            conds = [c for c in an.conds if (c.model, c.label, c.variant) == s and pr in c.pert]
            pooled.append({"pr": pr, "setting": s, "delta": d, "relative": an.pooled(s, pr, relative=True),
                           "clean_f1": _mean(float(np.mean([r["f1"] for r in c.clean.values()])) for c in conds),
                           "clean_by_target": {c.target: float(np.mean([r["f1"] for r in c.clean.values()]))
                                               for c in conds},
                           **{w: an.pooled(s, pr, w) for w, _ in BASELINES}})
    declared = declared_contrasts(an, cfg or {})
    others = [e for row in conditions for e in row["contrasts"].values() if e] + \
        [row[w] for row in pooled for w, _ in BASELINES if row[w].get("targets")]
    families(declared, others)
    for row in declared:
        row["verdict"] = verdict(row["estimate"], row["floor"])
    return {"conditions": conditions, "pooled": pooled, "declared": declared}


def _ci(e: dict | None) -> list:
    e = e or {}
    return [e.get("value"), e.get("lo"), e.get("hi")]


def _where(c: Cond) -> str:
    return "+".join(c.sources)


def flat_conditions(t: dict) -> list[dict]:
    """One flat record per condition, perturbation and rate (``perturbations.csv``)."""
    out, ref = [], reference()
    for row in t["conditions"]:
        c, d, e, cl = row["cond"], row["delta"], row["edit"], row["clean"]
        first = next(iter(next(iter(c.pert[row["pr"]].values()))))
        rec = {"model": c.model, "setting": c.label, "variant": c.variant, "sources": _where(c), "target": c.target,
               "perturbation": row["pr"][0], "rate": row["pr"][1], "seeds": d.get("seeds"), "cells": d.get("cells"),
               "clean_f1": cl.get("value"), "clean_f1_lo": cl.get("lo"), "clean_f1_hi": cl.get("hi"), "f1": row["f1"],
               "delta_f1": d.get("value"), "delta_f1_lo": d.get("lo"), "delta_f1_hi": d.get("hi"),
               "delta_f1_p": d.get("p"), "delta_f1_df": d.get("df"),
               "delta_f1_per_seed": " ".join(f"{v:+.4f}" for v in d.get("per_seed") or []),
               "relative_drop": (d.get("relative") or {}).get("value"),
               "relative_drop_lo": (d.get("relative") or {}).get("lo"),
               "relative_drop_hi": (d.get("relative") or {}).get("hi"),
               "floor": d.get("floor") or "", "edit_rate_requested": e["requested"],
               "edit_rate_achieved": e["achieved"], "capped_cells": e["capped"], "interval": d.get("method"),
               "reference_f1": reference_f1(first["params"], ref)}
        for w, _ in BASELINES:
            v = row["contrasts"][w] or {}
            for k, x in zip(("value", "lo", "hi"), _ci(v), strict=True):
                rec[f"{w}_{k}"] = x
            rec[f"{w}_p"], rec[f"{w}_q"], rec[f"{w}_mde"] = v.get("p"), v.get("q"), v.get("mde")
            rec[f"{w}_baseline"] = v.get("baseline")
        out.append(rec)
    return out


def flat_contrasts(t: dict) -> list[dict]:
    """One flat record per declared contrast, model and endpoint or perturbation/rate, pooled over
    targets, then one per target (``contrasts.csv``, ``xner results --table contrasts``)."""
    out = []
    for row in t["declared"]:
        e = row["estimate"]
        ex = e.get("extra") or {}
        base = {"a": row["a"], "b": row["b"], "model": row["model"], "where": row["where"], "measure": row["measure"],
                "family": e.get("family"), "primary": row["primary"]}
        out.append({**base, "target": "pooled", "targets": len(row["targets"]), "seeds": e.get("seeds"),
                    "value": e.get("value"), "lo": e.get("lo"), "hi": e.get("hi"), "se": e.get("se"), "df": e.get("df"),
                    "p": e.get("p"), "p_holm": e.get("p_holm"), "q": e.get("q"), "mde": e.get("mde"),
                    "tau2": ex.get("tau2"), "i2": ex.get("i2"),
                    "signs": _signs(ex.get("signs")), "over": e.get("over"),
                    "fixed_targets_value": (ex.get("fixed") or {}).get("value"),
                    "fixed_targets_lo": (ex.get("fixed") or {}).get("lo"),
                    "fixed_targets_hi": (ex.get("fixed") or {}).get("hi"),
                    "floor": "; ".join(f"{k}: {v}" for k, v in sorted(row["floor"].items())),
                    "left_out": "; ".join(f"{k}: {v}" for k, v in sorted(row["left_out"].items())),
                    "verdict": row.get("verdict")})
        for target, pe in sorted(row["per_target"].items()):
            out.append({**base, "target": target, "targets": 1, "seeds": pe.get("seeds"), "value": pe.get("value"),
                        "lo": pe.get("lo"), "hi": pe.get("hi"), "se": pe.get("se"), "df": pe.get("df"),
                        "p": pe.get("p"), "per_seed": " ".join(f"{v:+.4f}" for v in pe.get("per_seed") or []),
                        "floor": row["floor"].get(target, ""), "over": pe.get("over")})
    return out


def _signs(s: dict | None) -> str:
    return "" if not s else f"+{s.get('positive', 0)}/-{s.get('negative', 0)}"
