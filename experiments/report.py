"""Reports from a results store: the research question first (one table, one plot), then per
perturbation and rate (never averaged across them) every setting's ΔF1 with its interval over
sentences x training seeds, requested vs achieved edit rates, contrasts with the baselines and the
reference study's number where comparable; clean F1 with overlap; correlations; plots with error
bars; and ``cells.csv``, one row per cell (:mod:`.results`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xner.errors import XnerError
from xner.io import dumps, write_json
from xner.provenance import provenance

from .analysis import FLOOR_F1, Analysis, Cond
from .models import model_contrasts
from .plots import plots
from .report_html import write_html
from .report_sections import clean_tables, correlations, made, runs_table
from .report_sets import sets_reading, sets_section
from .reportdoc import (
    Cell,
    Code,
    Document,
    HtmlOnly,
    Image,
    Images,
    Para,
    Section,
    Table,
    table_markdown,
    to_markdown,
)
from .reportdoc import ci_cell as _cic
from .reportdoc import int_cell as _int
from .reportdoc import num as _num
from .reportdoc import num_cell as _n
from .reportdoc import val as _val
from .reportdoc import write_csv as _write_csv
from .reportdoc import write_dicts as _write_dicts
from .results import flat_rows, reference, reference_f1, write_table
from .setregression import regression
from .store import Store
from .tables import BASELINES, compute, flat_conditions, flat_contrasts

__all__ = ["BASELINES", "build", "reference", "select_rows"]

MARK = ".xner-report"
QUESTION = ("Does a teacher-student NER model distilled from more, or more diverse, source languages keep more F1 "
            "under perturbation on a low-resource target?")


def _prepare_out(out: Path, overwrite: bool, store: Path | None = None) -> None:
    """Write only into a new or empty folder, or one xner marked as its own (or with ``overwrite``):
    a folder that merely holds a ``report.md`` is the user's.  Never the store's folder itself."""
    from xner.outputs import claim_dir, mark_dir

    claim_dir(out, inputs=[store] if store is not None else [], overwrite=overwrite)
    mark_dir(out, "xner report")
    (out / MARK).write_text("written by xner report\n", encoding="utf-8")


def _select(st: Store, run) -> tuple[int | None, list[dict]]:
    if run in (None, "latest"):
        rid = st.latest_run()
        return rid, st.rows(rid)
    if run == "all":
        return None, st.rows()
    try:
        rid = int(run)
    except (TypeError, ValueError):
        raise XnerError(f"--run must be latest, all or a run id; got {run!r}") from None
    if rid not in {r["id"] for r in st.runs()}:
        raise XnerError(f"no run {rid} in this store (see the report's 'Runs' section)")
    return rid, st.rows(rid)


def select_rows(store_path: str | Path, run: str | int | None = "latest") -> list[dict]:
    """The cells of one run of a store (``latest``, a run id) or of every run (``all``)."""
    with Store(store_path) as st:
        return _select(st, run)[1]


#: the fewest bootstrap replicates a report uses (the 2.5% endpoint of 2,000 is the 50th order statistic)
DEFAULT_REPLICATES = 2000


def replicates(rows: list[dict], bootstrap: int | None = None) -> int:
    """Bootstrap replicates of a report or table: ``bootstrap`` when given, else the sweep's own (the
    largest its cells record) but at least :data:`DEFAULT_REPLICATES`."""
    if bootstrap is not None:
        if bootstrap < 1:
            raise XnerError(f"--bootstrap is a number of replicates (at least 1), got {bootstrap}")
        return int(bootstrap)
    sweep = max([int((r["params"].get("identity") or {}).get("bootstrap") or 0) for r in rows] + [0])
    return max(sweep, DEFAULT_REPLICATES)


def table_rows(store_path: str | Path, run: str | int | None = "latest", bootstrap: int | None = None,
               table: str = "cells", interval: str = "t", floor_f1: float = FLOOR_F1) -> list[dict]:
    """The flat tables of ``xner results``: ``cells`` (the cells of ``run`` with the report's
    intervals), ``perturbations`` or ``contrasts``, computed as the report computes them (one engine)."""
    with Store(store_path) as st:
        rid, rows = _select(st, run)
        blobs = st.counts([r["key"] for r in rows])
        runs = st.runs()
    an = Analysis(rows, blobs, replicates(rows, bootstrap), interval=interval, floor_f1=floor_f1)
    if table == "cells":
        return flat_rows(rows, an.cell_intervals())
    chosen = next((r for r in runs if r["id"] == rid), None) or (runs[-1] if runs else None)
    t = compute(an, (chosen or {}).get("config") or {})
    return flat_conditions(t) if table == "perturbations" else flat_contrasts(t)


def _where(c: Cond) -> str:
    return f"{'+'.join(c.sources)} -> {c.target}"


def _edit(e: dict) -> str:
    if not e["cells"]:
        return "—"
    req = "all" if e["requested"] is None else f"{float(e['requested']):.2f}"
    s = f"{req} → {_num(e['achieved'], 1.0, 2)}"
    return s + (f" ⚠ capped ({e['capped']}/{e['cells']})" if e["capped"] else "")



def _q(e: dict | None) -> str:
    """' (q 0.03)' / ' (p_Holm 0.01)': the multiplicity-adjusted p-value of a test, if any."""
    if not e:
        return ""
    if e.get("p_holm") is not None:
        return f" p_Holm {e['p_holm']:.3f}"
    return f" q {e['q']:.2f}" if e.get("q") is not None else ""


def _qcell(e: dict | None) -> Cell:
    cell = _cic(e)
    from dataclasses import replace

    return replace(cell, ci=((cell.ci or "") + _q(e)).strip() or None) if e and e.get("value") is not None else cell


def _het(d: dict) -> str:
    ex = d.get("extra") or {}
    if "i2" not in ex:
        return "—"
    sg = ex.get("signs") or {}
    return f"I² {100 * ex['i2']:.0f}% · +{sg.get('positive', 0)}/−{sg.get('negative', 0)}"


def _research_question(an: Analysis, vary: set, tables: dict) -> tuple[Section, Table, list[dict]]:
    t = Table(["perturbation", "rate", "model", "setting", "sources", "targets", "seeds", "cells", "clean F1",
               "ΔF1 [95% CI]", "relative drop [95% CI]", "I² · signs", "floor",
               *(f"{t} [95% CI]" for _, t in BASELINES)], "llllrrrrrrrll" + "r" * len(BASELINES))
    sec = Section("Research question", key="question", blocks=[
        Para(f"*{QUESTION}*"),
        Para("Clean F1 x 100 beside every drop: a model near F1 0 cannot lose much, so read ΔF1 with it. ΔF1 x 100 = "
             "F1(perturbed) - F1(clean), mean over targets and training seeds; relative drop = ΔF1 / clean F1 (x 100, "
             "per training seed and replicate). Intervals (95%): each target's value over its training seeds is a t "
             "interval that carries the test-sentence variance the seeds share; targets are pooled by random effects "
             "(DerSimonian-Laird τ², Hartung-Knapp t with targets - 1 degrees of freedom): it generalises to targets "
             "like these. `I² · signs`: the share of variation between targets beyond chance, and how many targets "
             "lose (−) or gain (+). The contrasts are the paired difference in ΔF1 from the baseline setting (the pair "
             "student: the study's paired language as the only source, one teacher on its whole material, else a "
             "1-source student; zero-shot) of the same target and training seed on identical test sets: **positive = "
             "keeps more F1 than the baseline**, with its Benjamini-Hochberg q-value over the report's exploratory "
             "family (every baseline contrast of its tables; exploratory: no verdict rests on them). The declared "
             f"contrasts below carry the decision rule. `floor`: a target whose clean F1 is below {100 * an.floor_f1:.0f} or whose perturbation edited "
             "almost nothing; such rows carry no verdict. Each perturbation and rate is its own block; nothing is "
             "averaged across them. The study's P1/P2 (`entity_swap_shared`, `context_swap`, `entity_and_context`) edit "
             "only what the test set shares with each model's training material, so their perturbed test sets differ "
             "between settings: read their contrasts beside the achieved edit rates of the per-perturbation tables."),
        t])
    points = []
    for row in tables["pooled"]:
        pr, s, d = row["pr"], row["setting"], row["delta"]
        contrasts = {w: row[w] for w, _ in BASELINES}
        label = s[1] + (f" [{s[2]}]" if (s[0], s[1]) in vary else "")
        cols = [Cell("baseline") if c["baseline"] is None and _is_baseline(an, s, w)
                else _pooled_cell(c, d) if c["targets"] else Cell("—") for w, c in contrasts.items()]
        floor = "; ".join(f"{k}: {v}" for k, v in sorted(d["floor"].items()))
        t.rows.append([Cell(pr[0]), Cell(pr[1]), Cell(s[0]), Cell(label), Cell("/".join(map(str, d["n_sources"]))),
                       _int(d["targets"]), _int(d["seeds"]), _int(d["cells"]), _n(row["clean_f1"]), _cic(d),
                       _cic(row["relative"]), Cell(_het(d)), Cell(floor or ""), *cols])
        points.append({"pr": pr, "setting": s, "delta": d, **contrasts})
    summary = reading(an, tables)
    if summary:
        sec.blocks.append(Para(summary))
    return sec, t, points


def reading(an: Analysis, tables: dict) -> str:
    """One sentence under the research-question table: what it shows and what it does not, from its
    own numbers (clean F1 range, floors, seeds and targets, the declared primary verdicts)."""
    clean = {(c.label, c.target): float(np.mean([r["f1"] for r in c.clean.values()])) for c in an.conds}
    if not clean:
        return ""
    lo, hi = min(clean.values()), max(clean.values())
    floors = sorted({f"{lbl} on {t}" for (lbl, t), v in clean.items() if v < an.floor_f1})
    seeds = max(len(c.clean) for c in an.conds)
    targets = len({c.target for c in an.conds})
    prim = [r for r in tables["declared"] if r["primary"]]
    sets = (tables.get("set_regression") or {}).get("models")
    out = (f"What this table shows: every model's clean F1 is {100 * lo:.1f}-{100 * hi:.1f} "
           + (f"({len(floors)} at the floor, below {100 * an.floor_f1:.0f}: {', '.join(floors)}; their rows carry no "
              "verdict)" if floors else f"(none at the floor, below {100 * an.floor_f1:.0f})")
           + f", so each drop is read beside what the model had to lose. With {seeds} training seed(s) and {targets} "
           + ("target(s), " if sets else f"target(s), intervals pooled over targets have {max(targets - 1, 0)} "
              "degree(s) of freedom: "))
    if sets:  # the set regression's slopes are the primaries (the section "Source sets")
        out += sets_reading(tables["set_regression"]) + " "
        if prim:
            out += "Declared primary contrasts: " + "; ".join(f"{r['a']} − {r['b']}: {r['verdict']}" for r in prim) + ". "
    elif prim:
        out += "; ".join(f"{r['a']} − {r['b']} at the endpoint: {r['verdict']}" for r in prim) + ". "
    else:
        out += "no contrast was declared, so no row carries a verdict. "
    out += ("It does not show how larger or pretrained models behave, nor targets beyond these"
            + (", nor variation between training runs (one seed: --train-seeds 0,1,2)" if seeds == 1 else "") + ".")
    return out


def _declared(tables: dict) -> Section | None:
    rows = tables["declared"]
    if not rows:
        return None
    t = Table(["contrast (a − b)", "model", "endpoint / perturbation", "measure", "targets", "seeds",
               "a − b [95% CI]", "p", "adjusted p", "MDE", "τ² · I² · signs", "floor", "verdict"],
              "llllrrrrrrlll")
    per = Table(["contrast (a − b)", "model", "target", "a − b [95% CI]", "per seed", "p", "floor"], "lllrlrl")
    for r in rows:
        e = r["estimate"]
        ex = e.get("extra") or {}
        het = "—" if "tau2" not in ex else f"{1e4 * ex['tau2']:.2f} · {100 * ex['i2']:.0f}% · " \
            f"+{ex['signs']['positive']}/−{ex['signs']['negative']}"
        adj = e.get("p_holm") if e.get("p_holm") is not None else e.get("q")
        name = f"{r['a']} − {r['b']}" + (" (primary)" if r["primary"] else "")
        t.rows.append([Cell(name), Cell(r["model"]), Cell(r["where"]), Cell(r["measure"]), _int(len(r["targets"])),
                       _int(e.get("seeds")), _cic(e), _n(e.get("p"), 1.0, 3),
                       Cell(("Holm " if e.get("p_holm") is not None else "q ") + _num(adj, 1.0, 3), sort=_val(adj))
                       if adj is not None else Cell("—"),
                       _n(e.get("mde")), Cell(het), Cell("; ".join(f"{k}: {v}" for k, v in sorted(r["floor"].items()))),
                       Cell(r["verdict"] or "")])
        if r["where"] == "endpoint" or not any(x["where"] == "endpoint" for x in rows):
            for target, pe in sorted(r["per_target"].items()):
                per.rows.append([Cell(f"{r['a']} − {r['b']}"), Cell(r["model"]), Cell(target), _cic(pe),
                                 Cell(", ".join(_num(v, sign=True) for v in pe.get("per_seed") or [])),
                                 _n(pe.get("p"), 1.0, 3), Cell(r["floor"].get(target, ""))])
    primary = sum(r["primary"] for r in rows)
    return Section("Declared contrasts", key="declared", blocks=[
        Para("The contrasts the config declared before the run (`[[contrasts]]`), each computed directly: per target "
             "and training seed, the paired difference of the two conditions on the same test sentences, replicate by "
             "replicate; positive = `a` keeps more F1. At the endpoint the value is the mean over the endpoint's "
             "perturbations at its rate (of ΔF1, or of the relative drop ΔF1 / clean F1, the clean-F1-adjusted "
             "measure). Pooled over targets by random effects (Hartung-Knapp), x 100. **Decision rule**: a primary "
             f"contrast ({primary} in the family) is supported when its Holm-adjusted p is below 0.05; every other declared "
             "row (secondary contrasts, each contrast per perturbation and rate) is a discovery when its "
             "Benjamini-Hochberg q is below 0.05 (false discoveries ≤ 5%). A row at the floor carries no "
             "verdict. Otherwise: no evidence either way, and `MDE` says how large a true effect the run would have "
             "detected with 80% power (α Bonferroni-adjusted within the family)."),
        t, Para("Per target (endpoint; seeds are the training seeds' paired values):"), per])


def _pooled_cell(c: dict, d: dict) -> Cell:
    """A pooled contrast, saying so when it pooled fewer targets than the row's ΔF1 (and which are left
    out, why) or against more than one baseline setting."""
    cell = _qcell(c)
    notes = []
    if c["targets"] != d["targets"]:
        why = "; ".join(f"{t}: {r}" for t, r in sorted((c.get("left_out") or {}).items()))
        notes.append(f"{c['targets']} of {d['targets']} targets ({', '.join(c.get('pooled_targets') or [])}"
                     + (f"; left out {why}" if why else "") + ")")
    if len(set((c.get("baselines") or {}).values())) > 1:
        notes.append("vs " + ", ".join(f"{b} ({t})" for t, b in sorted(c["baselines"].items())))
    if notes:
        from dataclasses import replace

        cell = replace(cell, ci=((cell.ci or "") + " " + "; ".join(notes)).strip())
    return cell


def _is_baseline(an: Analysis, s: tuple, which: str) -> bool:
    conds = [c for c in an.conds if (c.model, c.label, c.variant) == s]
    return bool(conds) and all(an.baseline(c, which) is None and _could_be(c, which) for c in conds)


def _could_be(c: Cond, which: str) -> bool:
    return (c.kind == "student" and len(c.sources) == 1) if which == "student1" else c.kind == "zero-shot"


def build(store_path: str | Path, out: str | Path, run: str | int | None = "latest", bootstrap: int | None = None,
          overwrite: bool = False, interval: str = "t", floor_f1: float = FLOOR_F1) -> dict:
    """Write ``report.md``, ``report.html`` (the same report as one self-contained page), ``cells.csv``
    and the other tables, plots and ``correlations.json`` into ``out`` from the cells of one run of a
    sweep's store (default: the latest; ``run="all"``: every cell, cells of different configurations
    kept apart as variants)."""
    if not Path(store_path).is_file():
        raise XnerError(f"{store_path}: no such results store")
    out = Path(out)
    from xner.outputs import claim_dir

    claim_dir(out, inputs=[Path(store_path)], overwrite=overwrite)  # before anything is read or computed
    with Store(store_path) as st:
        rid, rows = _select(st, run)
        runs = st.runs()
        blobs = st.counts([r["key"] for r in rows])
    if not rows:
        raise XnerError(f"{store_path}: no finished cells to report")
    _prepare_out(out, overwrite, Path(store_path))
    n_boot = replicates(rows, bootstrap)
    an = Analysis(rows, blobs, n_boot, interval=interval, floor_f1=floor_f1)
    flat = flat_rows(rows, an.cell_intervals())  # one engine: the same intervals as the report's tables
    write_table(flat, out / "cells.csv", "csv", overwrite=True)
    chosen = next((r for r in runs if r["id"] == rid), None) or (runs[-1] if runs else None)
    tables = compute(an, (chosen or {}).get("config") or {})
    tables["set_regression"] = regression(an, (chosen or {}).get("config") or {}, n_boot=n_boot, n_perm=n_boot)
    variants = {}
    for c in an.conds:
        variants.setdefault((c.model, c.label), set()).add(c.variant)
    vary = {k for k, v in variants.items() if len(v) > 1}

    what = f"run {rid} (config `{chosen['config'].get('name', '')}`)" if chosen and rid is not None else "every run"
    doc = Document("xner robustness report", [
        Para(f"Store: `{store_path}`; {what}: {len(rows)} cells ({sum(1 for f in flat if f['perturbation'] == 'clean')} "
             f"models), {len({f['train_seed'] for f in flat})} training seed(s), {n_boot} bootstrap replicates of "
             f"the test sentences; intervals: {'t over training seeds, random effects over targets' if interval == 't' else 'hierarchical percentile bootstrap'}. "
             "`cells.csv` has one row per cell, `perturbations.csv` one per condition, perturbation and rate, "
             "`contrasts.csv` the declared contrasts.")])
    if vary:
        doc.intro.append(Para("Several configurations of one setting are in this selection; they are kept apart as "
                              "variants (`[hash]` after the setting; see `cells.csv`, column `variant`)."))
    rq, rq_table, points = _research_question(an, vary, tables)
    pngs = plots(an, points, out)
    rq.blocks += [Image("research question", pngs[0].name),
                  Para("Error bars: 95% intervals as in the table; `n=cells/seeds` beside each point.")]
    doc.sections.append(rq)
    dec = _declared(tables)
    if dec is not None:
        doc.sections.append(dec)
    sets = sets_section(an, (chosen or {}).get("config") or {}, out, n_boot, tables["set_regression"])
    if sets is not None:
        doc.sections.append(sets)
    # -- per perturbation and rate
    ref = reference()
    per = Section("ΔF1 per perturbation and rate", blocks=[
        Para("One table per perturbation and rate. F1 x 100, mean over training seeds (and perturbation seeds); ΔF1 "
             "with its 95% t interval over training seeds (carrying the shared sentence variance) and each training "
             "seed's own value; relative drop = ΔF1 / clean F1; edit rate requested → achieved (in the perturbation's "
             "unit; `all` = every eligible unit, ⚠ where the eligible material capped the rate); `ref`: the reference "
             "study's F1 (clean → perturbed) only where the cell is comparable; contrasts as above, per target, with "
             "their BH q-values.")])
    by_pr: dict = {}
    for row in tables["conditions"]:
        by_pr.setdefault(row["pr"], []).append(row)
    for pr in an.prs:
        t = Table(["model", "setting", "train -> test", "seeds", "clean F1", "F1", "ΔF1 [95% CI]", "per seed",
                   "relative drop", "floor", "edit rate", "ref", *(t for _, t in BASELINES)],
                  "lllrrrrlrllr" + "r" * len(BASELINES), ref_columns=(11,))
        for row in by_pr.get(pr, []):
            c, d, e = row["cond"], row["delta"], row["edit"]
            first = next(iter(next(iter(c.pert[pr].values()))))
            rp, rc = reference_f1(first["params"], ref), reference_f1(next(iter(c.clean.values()))["params"], ref)
            label = c.label + (f" [{c.variant}]" if (c.model, c.label) in vary else "")
            refs = Cell("—") if rp is None else Cell(f"{_num(rc, 1.0)} → {_num(rp, 1.0)}", sort=_val(rp), ref=True)
            t.rows.append([Cell(c.model), Cell(label), Cell(_where(c)), _int(d["seeds"]), _n(row["clean"]["value"]),
                           _n(row["f1"]), _cic(d), Cell(", ".join(_num(v, sign=True) for v in d.get("per_seed") or [])),
                           _cic(d.get("relative")), Cell(d.get("floor") or ""), Cell(_edit(e), sort=_val(e["achieved"])),
                           refs, *(Cell("baseline") if v is None and _could_be(c, w) else _qcell(v)
                                   for w, v in row["contrasts"].items())])
        per.blocks.append(Section(f"{pr[0]}, rate {pr[1]}", 3, [t]))
    doc.sections.append(per)
    _write_dicts(out / "perturbations.csv", flat_conditions(tables))
    _write_dicts(out / "contrasts.csv", flat_contrasts(tables))
    doc.sections += clean_tables(an, ref, out, vary)
    msec, mcsv = model_contrasts(rows, blobs, n_boot, order=list((chosen or {}).get("config", {}).get("models") or []))
    if msec is not None:  # several models trained alike: each against the first (models.csv)
        doc.sections.append(msec)
        _write_csv(out / "models.csv", mcsv)
    corr, sec = correlations(an)
    doc.sections += [sec, Section("Plots", blocks=[Images(tuple(Image(p.stem, p.name) for p in pngs[1:]))])]
    t = runs_table(runs, rid)
    doc.sections += [Section("Runs in this store", blocks=[t], key="runs"),
                     Section("How this was made", key="made", blocks=[
                         HtmlOnly(Para("**Versions, machine and command** of this report:")),
                         Code("json", dumps(provenance(store=str(store_path), run=rid), indent=2)),
                         *made(chosen, rows)])]
    (out / "report.md").write_text(to_markdown(doc), encoding="utf-8")
    html = write_html(doc, out)
    write_json(out / "correlations.json", corr)
    return {"report": str(out / "report.md"), "html": str(html), "plots": [str(p) for p in pngs], "cells": len(rows),
            "run": rid, "main_table": "\n".join(table_markdown(rq_table)) + (f"\n\n{reading(an, tables)}" if an.conds else ""),
            "cells_csv": str(out / "cells.csv")}
