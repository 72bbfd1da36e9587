"""From a store's rows to the report's numbers: each report row ("condition": one model, setting,
target and variant, all its training seeds), its mean over training seeds with an interval, and
contrasts between settings, per perturbation and rate (never averaged across them).

Every number's uncertainty comes from the inference layer (:mod:`.inference`) over units built here
from the cells' per-sentence counts (:mod:`.uncertainty`): ΔF1 of a training seed is the mean over
its perturbation seeds of F1(perturbed) - F1(clean) on the same resampled sentences; its relative
drop is ΔF1 / clean F1 (per replicate); a contrast is ΔF1(setting) - ΔF1(baseline) of the same
training seed on identical test sets (the same content hash).  One target: a t interval over
training seeds carrying the shared sentence variance; pooled: random effects over targets
(Hartung-Knapp), with the fixed-targets estimand beside it.  ``interval="percentile"`` gives the
hierarchical percentile bootstrap instead.  A row is *at the floor* when its clean F1 is below
:data:`FLOOR_F1` or its perturbation edited (almost) nothing (:data:`FLOOR_EDIT`): such rows never
carry a verdict.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from xner.langs import pair_of
from xner.robustness.gates import FLOOR_EDIT as _GATES_FLOOR_EDIT
from xner.robustness.gates import FLOOR_F1 as _GATES_FLOOR

from .identity import baseline_variant, clean_key, condition_key, variant
from .inference import INTERVALS, combine
from .plan import setting_label
from .results import REF_COLUMNS, perturbation_label, rate_label
from .uncertainty import Resampler, unpack_counts

__all__ = ["FLOOR_EDIT", "FLOOR_F1", "KIND_ORDER", "Analysis", "Cond"]

#: a model whose clean F1 is below this cannot lose much: its rows are flagged and carry no verdict (one
#: number with the robustness gates, which fail a drop measured below it)
FLOOR_F1 = _GATES_FLOOR
#: a perturbation that edited less than this share of its units (achieved rate) tested (almost) nothing
FLOOR_EDIT = _GATES_FLOOR_EDIT

KIND_ORDER = {"native": 0, "zero-shot": 1, "joint": 2, "student": 3}


def _pr_order(pr: tuple[str, str]) -> tuple:
    """The study's perturbations first (in its order), then the rest by name; rates: default, then by value."""
    study = list(REF_COLUMNS)
    label, rate = pr
    name = label.split("(")[0]
    try:
        r = (1, float(rate), "")
    except ValueError:
        r = (0 if rate == "default" else 2, 0.0, rate)
    return (study.index(name) if name in study else len(study), label, r)


def _seed(*parts) -> int:
    """A stable seed for one statistic's resampling of seeds and targets (``hash`` varies by process)."""
    return zlib.crc32(repr(parts).encode())


@dataclass
class Cond:
    """A report row: one model, setting and target (and variant), over its training seeds."""

    model: str
    kind: str
    spec: str
    sources: tuple[str, ...]
    target: str
    weighting: str
    variant: str
    title: str = ""  # the setting's label (config ``label``, or one with a budget or an ensemble), if any
    plain: bool = True  # False for a student with a labelled budget or several teachers of one language
    base: str = ""  # what its baselines must share (identity.baseline_variant)
    clean: dict[int, dict] = field(default_factory=dict)  # training seed -> clean cell
    pert: dict[tuple[str, str], dict[int, list[dict]]] = field(default_factory=dict)  # (pert, rate) -> seed -> cells

    @property
    def label(self) -> str:
        return self.title or setting_label(self.kind, self.spec, self.weighting)

    @property
    def family(self) -> str:
        return self.spec.split(":")[0]

    @property
    def order(self) -> tuple:
        return (self.model, KIND_ORDER.get(self.kind, 9), self.family, len(self.sources), self.label, self.variant)

    @property
    def last_run(self) -> int:
        return max((r.get("run") or 0 for r in self.clean.values()), default=0)


class Analysis:
    def __init__(self, rows: list[dict], blobs: dict[str, bytes], n_boot: int = 2000, seed: int = 0,
                 interval: str = "t", floor_f1: float = FLOOR_F1):
        if interval not in INTERVALS:
            raise ValueError(f"interval is one of {INTERVALS}, got {interval!r}")
        self.interval = interval
        self.floor_f1 = floor_f1
        self.rows = rows
        self.by_key = {r["key"]: r for r in rows}
        self.blobs = blobs
        self.res = Resampler(n_boot, seed)
        self._f1: dict[str, tuple[float, np.ndarray | None]] = {}
        conds: dict[tuple, Cond] = {}
        prs: dict[tuple[str, str], None] = {}
        for r in rows:
            p = r["params"]
            fields = (p["model"], p["setting"], p.get("sources_spec", ""), tuple(p["sources"]), p["target"],
                      p.get("weighting") or "", variant(p), p.get("label") or "")
            c = conds.get(condition_key(p))
            if c is None:
                c = conds[condition_key(p)] = Cond(*fields, plain=not p.get("budget")
                                                   and int(p.get("teachers") or 1) == 1, base=baseline_variant(p))
            seed = int(p.get("train_seed") or 0)
            if p["perturbation"] == "clean":
                c.clean[seed] = r
            else:
                pr = (perturbation_label(p), rate_label(p["rate"]))
                prs[pr] = None
                c.pert.setdefault(pr, {}).setdefault(seed, []).append(r)
        self.conds = sorted((c for c in conds.values() if c.clean), key=lambda c: (c.target, c.order))
        self.prs = sorted(prs, key=_pr_order)

    # -- per cell ----------------------------------------------------------------------------------

    def test_id(self, r: dict) -> str:
        ident = r["params"].get("identity") or {}
        return (ident.get("data") or {}).get("test") or f"{r['params']['target']}:{r.get('test_sentences')}"

    def f1(self, r: dict) -> tuple[float, np.ndarray | None]:
        """A cell's F1 and its replicates over resampled sentences (None without stored counts)."""
        k = r["key"]
        if k not in self._f1:
            blob = self.blobs.get(k)
            reps = None if blob is None else self.res.f1(self.test_id(r), unpack_counts(blob))[1]
            self._f1[k] = (float(r["f1"]), reps)
        return self._f1[k]

    def delta(self, r: dict) -> tuple[float, np.ndarray | None]:
        clean = self.by_key.get(clean_key(r["params"]))
        f, reps = self.f1(r)
        if clean is None:
            return float(r.get("delta_f1", np.nan)), None
        cf, creps = self.f1(clean)
        return float(r.get("delta_f1", f - cf)), None if reps is None or creps is None else reps - creps

    def cell_intervals(self, alpha: float = 0.05) -> dict[str, dict]:
        """Each cell's F1 and (perturbed cells) ΔF1 interval over its test sentences, from this
        analysis' resampler and interval method: the one engine behind ``cells.csv``, ``xner
        results`` and the report's tables (a condition of one training seed and one perturbation
        seed gets the very same interval)."""
        out: dict[str, dict] = {}
        for r in self.rows:
            f, reps = self.f1(r)
            if reps is None:
                continue
            key = (r["params"]["target"], r["key"])
            e = combine({"t": [(f, reps)]}, self.interval, _seed(*key), alpha)
            d = {"f1": [e.lo, e.hi], "bootstrap": self.res.n, "interval": self.interval}
            if r["params"]["perturbation"] != "clean":
                dv, dreps = self.delta(r)
                if dreps is not None:
                    e = combine({"t": [(dv, dreps)]}, self.interval, _seed(*key), alpha)
                    d["delta_f1"] = [e.lo, e.hi]
            out[r["key"]] = d
        return out

    # -- per condition -----------------------------------------------------------------------------

    def seed_units(self, c: Cond, pr: tuple[str, str] | None) -> dict[int, tuple[float, np.ndarray | None]]:
        """Per training seed: clean F1 (``pr`` None) or ΔF1 averaged over perturbation seeds."""
        if pr is None:
            return {s: self.f1(r) for s, r in sorted(c.clean.items())}
        out = {}
        for s, cells in sorted(c.pert.get(pr, {}).items()):
            vals = [self.delta(r) for r in cells]
            reps = None if any(v[1] is None for v in vals) else np.mean([v[1] for v in vals], axis=0)
            out[s] = (float(np.mean([v[0] for v in vals])), reps)
        return out

    def relative_units(self, c: Cond, pr: tuple[str, str]) -> dict[int, tuple[float, np.ndarray | None]]:
        """Per training seed: relative drop ΔF1 / clean F1 (replicate by replicate); seeds whose clean
        F1 is 0 are left out."""
        clean, delta = self.seed_units(c, None), self.seed_units(c, pr)
        out = {}
        for s, (d, dr) in delta.items():
            if s not in clean or not clean[s][0]:
                continue
            f, fr = clean[s]
            reps = None
            if dr is not None and fr is not None:  # undefined where a replicate's clean F1 is 0: NaN, left out
                with np.errstate(divide="ignore", invalid="ignore"):
                    reps = np.where(fr > 0, dr / np.where(fr > 0, fr, 1.0), np.nan)
            out[s] = (d / f, reps)
        return out

    def estimate(self, units: dict[str, list[tuple[float, np.ndarray | None]]], *key) -> dict:
        """One number over units (per target, its per-seed units): :func:`.inference.combine`."""
        return combine(units, self.interval, _seed(*key)).to_json()

    def stat(self, c: Cond, pr: tuple[str, str] | None) -> dict:
        units = self.seed_units(c, pr)
        out = self.estimate({c.target: list(units.values())}, c.target, c.label, pr)
        out["cells"] = sum(len(v) for v in c.pert.get(pr, {}).values()) if pr else len(c.clean)
        if pr is not None:
            out["relative"] = self.estimate({c.target: list(self.relative_units(c, pr).values())}, c.target, c.label,
                                            pr, "rel")
            out["floor"] = self.floor(c, pr)
        return out

    def floor(self, c: Cond, pr: tuple[str, str] | None = None) -> str:
        """Why a row is at the floor ('' when it is not): clean F1 below the threshold, or a
        perturbation that edited (almost) nothing."""
        clean = [r["f1"] for r in c.clean.values()]
        why = []
        if clean and float(np.mean(clean)) < self.floor_f1:
            why.append(f"clean F1 {100 * float(np.mean(clean)):.1f} < {100 * self.floor_f1:.0f}")
        elif clean and min(clean) < self.floor_f1:  # one training run collapsed: its drop is not robustness
            s = min(c.clean, key=lambda k: c.clean[k]["f1"])
            why.append(f"training seed {s}: clean F1 {100 * c.clean[s]['f1']:.1f} < {100 * self.floor_f1:.0f}")
        if pr is not None:
            e = self.edit(c, pr)
            if e["achieved"] is not None and e["achieved"] < FLOOR_EDIT:
                why.append(f"edited {100 * e['achieved']:.1f}% of units")
        return "; ".join(why)

    def mean_field(self, c: Cond, pr: tuple[str, str], fn) -> float | None:
        vals = [fn(r) for cells in c.pert.get(pr, {}).values() for r in cells]
        vals = [v for v in vals if v is not None]
        return float(np.mean(vals)) if vals else None

    def edit(self, c: Cond, pr: tuple[str, str]) -> dict:
        """Requested and achieved edit rates (mean over cells) and how many cells were capped."""
        cells = [r for cs in c.pert.get(pr, {}).values() for r in cs]
        er = [r.get("edit_rate") or {} for r in cells]
        return {"unit": next((e.get("unit") for e in er if e.get("unit")), None),
                "requested": next((e.get("requested") for e in er), None),
                "achieved": self.mean_field(c, pr, lambda r: (r.get("edit_rate") or {}).get("achieved")),
                "capped": sum(bool(e.get("capped")) for e in er), "cells": len(cells)}

    # -- baselines and contrasts -------------------------------------------------------------------

    def baseline(self, c: Cond, which: str) -> Cond | None:
        """``student1``: the single-best-source student of c's model and target, fixed a priori as the
        student of the study's paired language alone (one teacher, its whole material; the ``pair``
        student); where there is none, the 1-source student (of c's source family when there is one,
        e.g. related:1 for related:3); ``zero-shot``: its first zero-shot setting.  Only conditions of
        the same baseline variant (training, export, data and split settings) and test set qualify."""
        tests = {self.test_id(r) for r in c.clean.values()}
        # the same run's settings (same training, export, data and split: the baseline variant) on the same test set
        same = [o for o in self.conds if o.model == c.model and o.target == c.target and o.base == c.base
                and {self.test_id(r) for r in o.clean.values()} == tests]
        if which == "student1":
            pair = pair_of(c.target)
            cands = [o for o in same if o.kind == "student" and len(o.sources) == 1 and o.plain]
            best = [o for o in cands if o.sources == (pair,)]
            fam = [o for o in cands if o.family == c.family]
            cands = best or fam or cands
        else:
            cands = [o for o in same if o.kind == "zero-shot"]
        if not cands:
            return None
        label = min(cands, key=lambda o: o.order).label
        best = max((o for o in cands if o.label == label), key=lambda o: o.last_run)  # the most recent variant
        return None if best is c else best

    def contrast_units(self, c: Cond, b: Cond, pr: tuple[str, str]) -> list[tuple[float, np.ndarray | None]]:
        """Per shared training seed: ΔF1(c) - ΔF1(b) on identical test sets (else nothing)."""
        if {self.test_id(r) for r in c.clean.values()} != {self.test_id(r) for r in b.clean.values()}:
            return []
        uc, ub = self.seed_units(c, pr), self.seed_units(b, pr)
        out = []
        for s in sorted(set(uc) & set(ub)):
            (vc, rc), (vb, rb) = uc[s], ub[s]
            out.append((vc - vb, None if rc is None or rb is None else rc - rb))
        return out

    def contrast(self, c: Cond, which: str, pr: tuple[str, str]) -> dict | None:
        b = self.baseline(c, which)
        if b is None:
            return None
        out = self.estimate({c.target: self.contrast_units(c, b, pr)}, c.target, c.label, which, pr)
        out["baseline"] = b.label
        out["floor"] = "; ".join(f"{o.label}: {f}" for o in (c, b) if (f := self.floor(o, pr)))
        return out

    # -- pooled over targets -----------------------------------------------------------------------

    def settings(self) -> list[tuple[str, str, str]]:
        """(model, setting label, variant) of every condition, in report order."""
        seen = {}
        for c in sorted(self.conds, key=lambda c: c.order):
            seen.setdefault((c.model, c.label, c.variant), None)
        return list(seen)

    def pooled(self, setting: tuple[str, str, str], pr: tuple[str, str], which: str | None = None,
               relative: bool = False) -> dict:
        """ΔF1 of a setting (its relative drop, or its contrast with baseline ``which``) over every
        target: random effects over targets, each target over its training seeds."""
        conds = [c for c in self.conds if (c.model, c.label, c.variant) == setting]
        units, cells, bases, used, left, floors = {}, 0, {}, [], {}, {}
        for c in conds:
            if which is None:
                u = list((self.relative_units(c, pr) if relative else self.seed_units(c, pr)).values())
            else:
                b = self.baseline(c, which)
                if b is None:
                    left[c.target] = "no baseline"
                    continue
                u = self.contrast_units(c, b, pr)
                if not u:
                    left[c.target] = "baseline on another test set" if c.clean and b.clean and \
                        {self.test_id(r) for r in c.clean.values()} != {self.test_id(r) for r in b.clean.values()} \
                        else "no shared training seed"
                    continue
                bases[c.target] = b.label
            if u:
                units[c.target] = u
                used.append(c.target)
                cells += sum(len(v) for v in c.pert.get(pr, {}).values())
                f = self.floor(c, pr) if which is None else "; ".join(
                    f"{o.label}: {x}" for o in (c, self.baseline(c, which)) if o and (x := self.floor(o, pr)))
                if f:
                    floors[c.target] = f
            elif which is None:
                left[c.target] = "no cells"
        out = self.estimate(units, setting, which, pr, relative)
        out["floor"] = floors
        # what each number actually pooled: its targets, the baseline of each, and the targets left out
        labels = sorted(set(bases.values()))
        out.update(cells=cells, baseline=labels[0] if len(labels) == 1 else ("; ".join(labels) or None),
                   baselines=bases, pooled_targets=used, left_out=left,
                   n_sources=sorted({len(c.sources) for c in conds}))
        return out
