"""Declared contrasts, the primary endpoint and the multiplicity families of a report.

A config declares what it tests before it runs::

    [endpoint]                      # the pre-declared primary endpoint
    perturbations = ["entity_resample", "name_swap", "place_swap", "char_noise", "context_mask", "random_token"]
    rate = 0.3
    measure = "relative_drop"       # or "delta_f1"

    [[contrasts]]
    a = "mixed K=2"                 # two condition labels (a setting's ``label``, or its report label)
    b = "related K=2"
    primary = true

Each contrast is computed directly, never read off two intervals: per model, target and training
seed, the paired difference of the two conditions' values on the same test sentences (replicate by
replicate), then over seeds and targets by the inference layer (:mod:`.inference`).  Positive:
``a`` keeps more F1 than ``b``.  At the endpoint, a condition's value is the mean over the endpoint's
perturbations at its rate of ΔF1 (or of the relative drop ΔF1 / clean F1, the clean-F1-adjusted
measure: a model at clean F1 c can lose at most c, so a drop is read as the share of its correct
output lost).  Families: the primary contrasts at the endpoint (Holm); the other declared rows (secondary
contrasts, each contrast per perturbation and rate) get BH q-values; the baseline contrasts of the
report's tables are exploratory, with BH q-values of their own.  Each row carries its minimum
detectable effect at 80% power, α Bonferroni-adjusted within its family.
"""

from __future__ import annotations

import numpy as np

from xner.errors import XnerError

from .inference import ALPHA, benjamini_hochberg, combine, holm, mde
from .results import rate_label

__all__ = ["MEASURES", "check_declarations", "declared_contrasts", "endpoint_units", "families", "verdict"]

MEASURES = ("delta_f1", "relative_drop")


def check_declarations(cfg: dict, labels: set[str]) -> None:
    """Validate ``[[contrasts]]`` and ``[endpoint]`` of a config (``labels``: its settings' labels)."""
    cons = cfg.setdefault("contrasts", [])
    if not isinstance(cons, list):
        raise XnerError("'contrasts' is a list of tables ([[contrasts]] with a, b and primary)")
    seen = set()
    for c in cons:
        if not isinstance(c, dict) or not isinstance(c.get("a"), str) or not isinstance(c.get("b"), str):
            raise XnerError(f"a [[contrasts]] entry needs a and b, two condition labels; got {c!r}")
        for side in ("a", "b"):
            hits = _known(c[side], labels)
            if not hits:
                raise XnerError(f"contrast {c['a']!r} vs {c['b']!r}: no setting is labelled {c[side]!r} "
                                f"(labels: {', '.join(sorted(labels))})")
            if len(hits) > 1:
                raise XnerError(f"contrast {c['a']!r} vs {c['b']!r}: {c[side]!r} names {len(hits)} settings "
                                f"({', '.join(sorted(hits))}); give each setting a distinct label")
        if c["a"] == c["b"]:
            raise XnerError(f"contrast {c['a']!r} vs itself")
        if not isinstance(c.setdefault("primary", False), bool):
            raise XnerError(f"contrast {c['a']!r} vs {c['b']!r}: primary is true or false")
        if (c["a"], c["b"]) in seen:
            raise XnerError(f"contrast {c['a']!r} vs {c['b']!r} is declared twice")
        seen.add((c["a"], c["b"]))
    ep = cfg.setdefault("endpoint", {})
    if not isinstance(ep, dict):
        raise XnerError("'endpoint' is a table: perturbations, rate, measure")
    measure = ep.setdefault("measure", "delta_f1")
    if measure not in MEASURES:
        raise XnerError(f"endpoint measure is one of {', '.join(MEASURES)}; got {measure!r}")
    perts = ep.get("perturbations")
    if perts is not None and (not isinstance(perts, list) or not perts or not all(isinstance(p, str) for p in perts)):
        raise XnerError(f"endpoint perturbations is a list of perturbation names; got {perts!r}")
    if any(c["primary"] for c in cons) and not (perts and "rate" in ep):
        raise XnerError("primary contrasts need an [endpoint] with perturbations and a rate")


def _known(label: str, labels: set[str]) -> set[str]:
    """The setting labels ``label`` names: itself, or a label that is it after the setting's kind."""
    return {lb for lb in labels if lb == label or lb.split(" ", 1)[-1] == label}


def _matches(cond_label: str, kind: str, label: str) -> bool:
    return cond_label == label or cond_label == f"{kind} {label}"


def endpoint_prs(c, endpoint: dict) -> list[tuple[str, str]]:
    """The (perturbation, rate) pairs of a condition that make up the endpoint."""
    rate = rate_label(endpoint["rate"])
    return [pr for pr in c.pert if pr[0].split("(")[0] in endpoint["perturbations"] and pr[1] == rate]


def endpoint_units(an, c, endpoint: dict) -> dict[int, tuple[float, np.ndarray | None]]:
    """Per training seed: the mean over the endpoint's perturbations (at its rate) of ΔF1 or of the
    relative drop; seeds lacking one of them are left out."""
    prs = endpoint_prs(c, endpoint)
    if len({pr[0].split("(")[0] for pr in prs}) < len(endpoint["perturbations"]):
        return {}
    rel = endpoint.get("measure") == "relative_drop"
    per = [an.relative_units(c, pr) if rel else an.seed_units(c, pr) for pr in prs]
    seeds = set.intersection(*(set(u) for u in per)) if per else set()
    out = {}
    for s in sorted(seeds):
        vals = [u[s] for u in per]
        reps = None if any(r is None for _, r in vals) else np.mean([r for _, r in vals], axis=0)
        out[s] = (float(np.mean([v for v, _ in vals])), reps)
    return out


def declared_contrasts(an, cfg: dict) -> list[dict]:
    """Every declared contrast, per model: at the endpoint (when declared) and per perturbation and
    rate, pooled over targets with per-target estimates; Holm over the primary family, q-values and
    MDEs filled in by :func:`families`."""
    cons = cfg.get("contrasts") or []
    ep = cfg.get("endpoint") or {}
    rows = []
    models = sorted({c.model for c in an.conds})
    for con in cons:
        for model in models:
            pairs, unpaired = _pairs(an, model, con["a"], con["b"])
            where = ([("endpoint", None)] if ep.get("perturbations") and "rate" in ep else []) + \
                [("pr", pr) for pr in an.prs]
            for kind, pr in where:
                units, floors, left = {}, {}, dict(unpaired)
                for target, (ca, cb) in pairs.items():
                    if {an.test_id(r) for r in ca.clean.values()} != {an.test_id(r) for r in cb.clean.values()}:
                        left[target] = "different test sets"
                        continue
                    if kind == "endpoint":
                        ua, ub = endpoint_units(an, ca, ep), endpoint_units(an, cb, ep)
                    else:
                        ua, ub = an.seed_units(ca, pr), an.seed_units(cb, pr)
                    shared = sorted(set(ua) & set(ub))
                    u = [(ua[s][0] - ub[s][0], None if ua[s][1] is None or ub[s][1] is None else ua[s][1] - ub[s][1])
                         for s in shared]
                    if not u:
                        fl = "; ".join(f"{o.label}: {f}" for o in (ca, cb) if (f := an.floor(o)))
                        if not (ua and ub) and ca.clean and cb.clean and fl:
                            # clean F1 0 leaves no relative drop: at the floor, never silently missing
                            floors[target] = fl
                            left[target] = f"no value at the floor ({fl})"
                        else:
                            left[target] = "no shared training seed" if ua and ub else "no cells"
                        continue
                    units[target] = u
                    prs = endpoint_prs(ca, ep) + endpoint_prs(cb, ep) if kind == "endpoint" else [pr]
                    fl = "; ".join(dict.fromkeys(f"{o.label}: {f}" for o in (ca, cb) for q in prs
                                                 if (f := an.floor(o, q))))
                    if fl:
                        floors[target] = fl
                primary = bool(con["primary"]) and kind == "endpoint"
                if not units and not primary:
                    continue
                # a declared primary contrast keeps its row (and its place in the Holm family) even empty
                est = combine(units, an.interval).to_json() if units else {"value": None, "p": None, "seeds": 0}
                per_target = {t: combine({t: u}, an.interval).to_json() for t, u in units.items()}
                rows.append({"a": con["a"], "b": con["b"], "model": model,
                             "primary": bool(con["primary"]) and kind == "endpoint",
                             "declared_primary": bool(con["primary"]),
                             "where": "endpoint" if kind == "endpoint" else f"{pr[0]} @ {pr[1]}",
                             "measure": ep.get("measure", "delta_f1") if kind == "endpoint" else "delta_f1",
                             "estimate": est, "per_target": per_target, "floor": floors, "left_out": left,
                             "targets": sorted(units)})
    return rows


def _pairs(an, model: str, a: str, b: str) -> tuple[dict, dict]:
    """(target -> (condition a, condition b), target -> why left out) for one model: the latest run's
    condition of each label, paired only when both share the baseline variant (the same training,
    export, data and split settings: ``identity.baseline_variant``), as the report's own baselines."""
    out, left = {}, {}
    for target in sorted({c.target for c in an.conds if c.model == model}):
        ca = [c for c in an.conds if c.model == model and c.target == target and _matches(c.label, c.kind, a)]
        cb = [c for c in an.conds if c.model == model and c.target == target and _matches(c.label, c.kind, b)]
        if not (ca and cb):
            left[target] = f"no {a if not ca else b} here"
            continue
        same = [(x, y) for x in ca for y in cb if x.base == y.base]
        if not same:
            left[target] = "the two conditions were trained with different settings (another run's)"
            continue
        out[target] = max(same, key=lambda xy: (min(xy[0].last_run, xy[1].last_run), xy[0].last_run))
    return out, left


def families(declared: list[dict], others: list[dict], alpha: float = ALPHA) -> None:
    """Fill in multiplicity and power, family by family: ``p_holm`` over the primary family (the
    primary contrasts at the endpoint), ``q`` (BH) over the secondary family (every other declared
    row) and, apart, over the exploratory family (``others``: the baseline contrasts of the report's
    tables); each row's ``mde`` has α Bonferroni-adjusted within its family (for Holm, the first
    step's threshold; for BH, the smallest threshold it can face: both conservative)."""
    primary = [r for r in declared if r["primary"]]
    fams = ((primary, holm, "primary (Holm)"), ([r for r in declared if not r["primary"]], benjamini_hochberg,
                                                 "secondary (BH)"), (others, benjamini_hochberg, "exploratory (BH)"))
    for fam, adj, label in fams:
        ps = [(_est(r) or {}).get("p") for r in fam]
        # Holm's m is the declared family, a primary contrast that could not be computed included
        adjusted = adj(ps, m=len(fam)) if adj is holm else adj(ps)
        for r, v in zip(fam, adjusted, strict=True):
            e = _est(r)
            if e is None:
                continue
            e["p_holm" if adj is holm else "q"] = v
            e["family"] = label
            e["family_size"] = len(fam)
            e["mde"] = mde(e.get("se"), e.get("df"), alpha / max(1, len(fam)))


def _est(r: dict) -> dict | None:
    return r.get("estimate") if "estimate" in r else r if "value" in r else None


def verdict(e: dict, floor: str | dict | None, alpha: float = ALPHA) -> str:
    """The decision rule: a floor carries no verdict, nor does one training run on one target (its
    interval covers the test sentences, not training-run noise); otherwise the adjusted p (Holm in
    the primary family, q elsewhere) below α says which side keeps more F1, else 'no evidence' with
    the MDE."""
    if floor:
        return "floor: no verdict"
    if e.get("value") is None:
        return "not computed (see left out)"
    if (e.get("seeds") or 0) <= 1 and (e.get("targets") or 0) <= 1:
        return "one training run on one target: no verdict (--train-seeds for more)"
    adj = e.get("p_holm") if e.get("p_holm") is not None else e.get("q")
    if adj is None:
        return "—"
    if adj < alpha:
        return "a keeps more F1" if e["value"] > 0 else "b keeps more F1"
    m = e.get("mde")
    return "no evidence" + (f" (MDE {100 * m:.1f})" if m is not None else "")
