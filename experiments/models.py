"""Model against model: when a selection holds several models trained alike (same setting, sources,
target and training seeds; e.g. a pretrained encoder and the same network at random initialisation,
config ``pretrain-value``), each model's clean F1 beside the first model's, and their paired
difference with a 95% interval from the inference layer (:mod:`.inference`: over training seeds,
random effects over targets when pooled): both models are scored on the very same test sentences,
resampled with the same weights."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .identity import condition_key, variant
from .inference import combine
from .plan import setting_label
from .reportdoc import Cell, Para, Section, Table, ci_cell
from .uncertainty import Resampler, unpack_counts

__all__ = ["model_contrasts"]


def model_contrasts(rows: list[dict], blobs: dict[str, bytes], n_boot: int, seed: int = 0,
                    order: list[str] | None = None) -> tuple[Section | None, list]:
    """The section (None when the selection has one model, or none comparable) and its CSV rows;
    ``order``: the models in the config's order (the first is the one the others are compared with)."""
    clean = [r for r in rows if r["params"].get("perturbation") == "clean" and r["key"] in blobs]
    found = set(r["params"]["model"] for r in clean)
    models = [m for m in (order or []) if m in found] + sorted(found - set(order or []))
    if len(models) < 2:
        return None, []
    res = Resampler(n_boot, seed)
    by: dict[tuple, dict[str, dict[int, tuple[float, np.ndarray]]]] = defaultdict(lambda: defaultdict(dict))
    for r in clean:
        p = r["params"]
        test = ((p.get("identity") or {}).get("data") or {}).get("test") or p["target"]
        # the one condition key without the model: every other field (label, weighting, budget,
        # teachers, lapt, data fingerprints, variant) must agree for two models to be paired
        label = p.get("label") or setting_label(p["setting"], p.get("sources_spec") or "", p.get("weighting") or "")
        where = (label, p.get("sources_spec", ""), tuple(p.get("sources") or ()), p["target"],
                 variant(p, drop_model=True), condition_key(p, drop=("model",)))
        by[where][p["model"]][int(p.get("train_seed") or 0)] = res.f1(test, unpack_counts(blobs[r["key"]]))
    first = models[0]
    t = Table(["setting", "train -> test", "model", "seeds", "F1 [95% CI]", f"F1 of {first} [95% CI]",
               "difference [95% CI]"], "lllrrrr")
    csv = [["setting", "sources", "target", "model", "against", "seeds", "f1", "f1_lo", "f1_hi", "against_f1",
            "against_lo", "against_hi", "difference", "difference_lo", "difference_hi"]]
    pooled: dict[tuple, dict[str, dict]] = defaultdict(lambda: defaultdict(dict))
    for where, per_model in sorted(by.items()):
        base = per_model.get(first, {})
        for m in models[1:]:
            seeds = sorted(set(per_model.get(m, {})) & set(base))
            if not seeds:
                continue
            a = [per_model[m][s] for s in seeds]
            b = [base[s] for s in seeds]
            d = [(x[0] - y[0], x[1] - y[1]) for x, y in zip(a, b, strict=True)]
            sa, sb, sd = (combine({where[3]: u}, seed=seed).to_json() for u in (a, b, d))
            for key, u in (("a", a), ("b", b), ("d", d)):
                pooled[(where[0], where[4], m)][key][where[3]] = u
            label = where[0]
            t.rows.append([Cell(label), Cell(f"{'+'.join(where[2])} -> {where[3]}"), Cell(m), Cell(str(len(seeds))),
                           ci_cell(sa, sign=False), ci_cell(sb, sign=False), ci_cell(sd)])
            csv.append([where[0], "+".join(where[2]), where[3], m, first, len(seeds), *_vals(sa), *_vals(sb),
                        *_vals(sd)])
    for (setting, _, m), u in pooled.items():
        if len(u["d"]) < 2:
            continue
        sa, sb, sd = (combine(u[k], seed=seed).to_json() for k in ("a", "b", "d"))
        t.rows.append([Cell(f"{setting} (pooled)"), Cell(f"{len(u['d'])} targets"), Cell(m), Cell(str(sd["seeds"])),
                       ci_cell(sa, sign=False), ci_cell(sb, sign=False), ci_cell(sd)])
        csv.append([setting, "pooled", f"{len(u['d'])} targets", m, first, sd["seeds"], *_vals(sa), *_vals(sb),
                    *_vals(sd)])
    if not t.rows:
        return None, []
    return Section("Model against model", key="models", blocks=[
        Para(f"Clean F1 x 100 of each model beside `{first}` (the first model of the selection), trained alike (same "
             "setting, sources, target and training seeds) and scored on the same test sentences; the difference is "
             "paired, with a 95% t interval over training seeds that carries the sentence-sampling variance (random "
             "effects over targets for the pooled rows, Hartung-Knapp). Positive: the model scores higher than the first."), t]), csv


def _vals(st: dict) -> list:
    return [st.get("value"), st.get("lo"), st.get("hi")]
