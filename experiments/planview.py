"""``xner sweep CONFIG --plan``: what a sweep would build and compute, and an estimate of its cost,
without running, training, exporting or downloading anything.

It resolves the config as the sweep does (models, material under the split and caps, budgets,
teachers) and names every artefact with the sweep's own keys (:class:`.artefacts.Artifacts` with
``build=False``: not even a base model is built), says which are already built in the artefact
folder, counts the cells per condition and target, and estimates the seconds (:mod:`.estimate`).
An artefact of a model built by ``init-model`` is named by the hash of the base model's vocabulary,
so until that base model is built the plan lists such artefacts without a name.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from xner.threads import available_cpus

from .artefacts import Artifacts, Step, read_done
from .config import load_config, resolve_models
from .estimate import (
    HOW,
    cell_seconds,
    export_seconds,
    group_seconds,
    model_size,
    step_seconds,
    training_steps,
)
from .material import Material
from .plan import (
    Group,
    condition_label,
    disjoint_shares,
    ensemble_size,
    plan,
    resolve_sources,
    setting_sources,
    teacher_plan,
)

__all__ = ["render_plan", "sweep_plan"]


def _conditions(cfg: dict, groups: list[tuple[Group, list[dict]]], size) -> list[dict]:
    cells = Counter((g.condition, g.target) for g, cs in groups for _ in cs)
    out = []
    for s in cfg["settings"]:
        kind, label = s["kind"], condition_label(s)
        student = kind == "student"
        sources, per = {}, {}
        for t in cfg["targets"]:
            src = [t] if kind == "native" else resolve_sources(setting_sources(s, t), t)
            sources[t] = src + [t] if kind == "joint" else src
            if student and (s.get("budget") or disjoint_shares(s)):
                g = next(g for g, _ in groups if g.condition == label and g.target == t)
                per[t] = sorted({x.sentences or size(x.lang) for x in teacher_plan(g, size)})
        n = ensemble_size(s) if student else 1
        budget = s.get("budget") or ("pair" if student and disjoint_shares(s) else None)
        out.append({"label": label, "setting": kind, "sources": sources,
                    "weighting": s.get("weighting", "uniform") if student else None,
                    "budget": {"spec": budget, "sentences_per_teacher": per} if student and budget else None,
                    "teachers": {"per_language": n, "seeds": "train_seed" if n == 1 or disjoint_shares(s)
                                 else "train_seed*1000+i", **({"disjoint_shares": True} if disjoint_shares(s) else {})}
                    if student else None,
                    **({"source_set": s["source_set"]} if s.get("source_set") else {}),
                    "train_seeds": list(cfg["train_seeds"]),
                    "cells": {t: cells[(label, t)] for t in cfg["targets"]}})
    return out


def _model(arts: Artifacts, step: Step, g: Group, named: bool, size, cores: int, msize) -> dict:
    """One artefact of the plan with its estimated seconds (0 when built)."""
    m = {"kind": step.kind, "artifact": step.name if named else None, "model": g.model}
    if step.kind == "train":
        _, langs, seed, _, n, share = step.args
        sentences = n or sum(size(x) for x in langs)
        hp = arts.train_hp()
        steps = training_steps(hp, sentences)
        secs = steps * step_seconds(msize, int(hp["batch_size"]), cores) + group_seconds(msize, 0, 0, cores)
        m.update(languages=list(langs), sentences=sentences, subset=bool(n), seed=seed, steps=steps,
                 **({"share": share} if share else {}))
    elif step.kind == "distill":
        _, _, parts, target, weighting, seed, _ = step.args
        hp = arts.distill_hp()["hyperparameters"]
        steps = training_steps(hp, size(target))
        secs = steps * step_seconds(msize, int(hp["batch_size"]), cores) \
            + group_seconds(msize, len(parts), size(target), cores)
        m.update(languages=[t[0] for t in parts], target=target, weighting=weighting, seed=seed,
                 teachers=[{"lang": t[0], "seed": t[1], "sentences": t[2] or size(t[0]),
                            **({"share": t[3]} if len(t) > 3 and t[3] else {})} for t in parts],
                 unlabelled_sentences=size(target), steps=steps)
    else:
        model_dir, target = step.args
        test = len(arts.material.test(target))
        secs = export_seconds(msize, test)
        m.update(of=Path(model_dir).name if named else None, target=target, gate_sentences=test)
    built = named and read_done(arts.root / step.name) is not None
    m.update(built=built, seconds=0.0 if built else round(secs, 1))
    return m


def sweep_plan(config: str | dict, data_dir: str | None = None, repair: str = "conlleval",
               train_seeds: list[int] | None = None, artifacts: str | Path | None = None,
               store: str | Path | None = None) -> dict:
    """The plan of a sweep (see the module's docstring) as a dict: ``config``, ``train_seeds``,
    ``conditions`` (label, setting, sources per target, weighting, budget, teachers, training seeds,
    cells per target), ``models`` (every artefact: kind, name, languages, sentences, seed, whether
    built), ``cells`` and ``estimate_seconds`` with how it was estimated."""
    from xner.datadir import open_source

    cfg = load_config(config, train_seeds)
    mat = Material.of(open_source(data_dir or cfg.get("data_dir"), repair), cfg)
    store = Path(store or f"runs/{cfg['name']}/results.sqlite")
    root = Path(os.path.abspath(artifacts or cfg.get("artifacts") or store.parent / f"{store.stem}-artifacts"))
    arts = Artifacts(root, cfg, resolve_models(cfg), mat, build=False)

    def size(lang: str) -> int:
        return len(mat.train(lang))

    groups = plan(cfg)
    cores = available_cpus()
    models: dict[str, dict] = {}
    bases: dict[str, dict] = {}
    sizes = {name: model_size(spec, arts.models) for name, spec in arts.models.items()}
    cell_s = 0.0
    for g, cells in groups:
        spec = arts.models[g.model]
        named = True
        if "init" in spec:
            folder = Path(arts.base_model(g.model)).name  # (models that resolve alike share it)
            built = read_done(root / folder) is not None
            bases.setdefault(folder, {"kind": "init", "artifact": folder, "model": g.model, "built": built,
                                      "seconds": 0.0 if built else 5.0})
            named = built
        elif "pretrain" in spec:  # the encoder pretrained first (xner pretrain), named by its inputs
            folder = Path(arts.base_model(g.model)).name
            built = read_done(root / folder) is not None
            steps = int(spec["pretrain"].get("max_steps") or 0)
            bases.setdefault(folder, {"kind": "pretrain", "artifact": folder, "model": g.model, "built": built,
                                      "steps": steps, "seconds": 0.0 if built else 10.0 + steps * step_seconds(
                                          sizes[g.model], int(spec["pretrain"].get("batch_size", 32)), cores)})
        for step in arts.steps(g):
            if step.name not in models:
                models[step.name] = _model(arts, step, g, named, size, cores, sizes[g.model])
        test = len(mat.test(g.target))
        cell_s += group_seconds(sizes[g.model], 0, 0, cores) + sum(
            cell_seconds(sizes[g.model], test, c["perturbation"] == "clean") for c in cells)
    listed = [*bases.values(), *models.values()]
    by_kind = {k: round(sum(m["seconds"] for m in listed if m["kind"] == k), 1)
               for k in ("init", "pretrain", "train", "distill", "export")}
    by_kind["cells"] = round(cell_s, 1)
    total = round(sum(by_kind.values()), 1)
    quant = 1.25 if cfg["export"].get("quantize") or cfg["export"].get("fp16") else 1.0  # + the int8/fp16 graph
    disk = sum(4 * sizes[m["model"]][0] * (quant if m["kind"] == "export" else 1.0) for m in listed if not m["built"])
    conditions = _conditions(cfg, groups, size)
    uses = sum(len(m.get("teachers") or []) for m in listed if m["kind"] == "distill")
    sets: dict[str, dict[str, list]] = {}
    for c in conditions:
        if c.get("source_set"):
            for t, src in c["sources"].items():
                sets.setdefault(t, {}).setdefault(f"K={c['source_set']['k']}", []).append(
                    {"label": c["label"], "sources": src, "weighting": c["weighting"]})
    # a model whose hub could not be reached is planned, and priced, as its offline fallback: say so
    resolved = {name: {"fallback": bool(spec.get("substitutes")), "substitutes": spec.get("substitutes"),
                       "kind": next((k for k in ("hub", "pretrain", "init", "path") if k in spec), "?")}
                for name, spec in arts.models.items()}
    fallback = {n: r["substitutes"] for n, r in resolved.items() if r["fallback"]}
    return {"config": cfg.get("name", ""), "train_seeds": list(cfg["train_seeds"]), "targets": list(cfg["targets"]),
            "artifacts": str(root), "conditions": conditions, "models": listed, "resolved_models": resolved,
            "fallback": bool(fallback),
            **({"note": f"the hub is not reachable: {_fallback_text(fallback)} "
                        f"{'stands' if len(fallback) == 1 else 'stand'} in; the models and the "
                        "estimate below are the fallback's, not the hub model's"} if fallback else {}),
            "source_sets": sets, "teacher_sharing": {"teachers": sum(m["kind"] == "train" for m in listed),
                                                     "used_by_students": uses},
            "counts": {k: {"planned": sum(m["kind"] == k for m in listed),
                           "built": sum(bool(m["built"]) for m in listed if m["kind"] == k)}
                       for k in ("init", "pretrain", "train", "distill", "export")},
            "groups": len(groups), "cells": sum(len(c) for _, c in groups),
            "estimate_seconds": total, "estimate": {"seconds_by_kind": by_kind, "cores": cores, "how": HOW,
                                                    "disk_gb": round(disk / 1e9, 1)}}


def _fallback_text(fallback: dict[str, str]) -> str:
    return ", ".join(f"{name}'s offline fallback (for {hub})" for name, hub in fallback.items())


def _fmt_s(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 3 * 3600 else f"{s / 60:.0f} min"


def render_plan(p: dict) -> str:
    """The plan as text: conditions, artefacts, cells and the estimate."""
    lines = [f"sweep {p['config']}: the plan (nothing was run, trained or built)",
             f"training seeds {', '.join(map(str, p['train_seeds']))}; targets {', '.join(p['targets'])}; "
             f"artefacts in {p['artifacts']}"]
    if p.get("note"):
        lines.append(f"NOTE: {p['note']}")
    lines += ["", "conditions (sources per target; cells per target):"]
    for c in p["conditions"]:
        extra = []
        if c["budget"]:
            per = "; ".join(f"{t} {'/'.join(map(str, v))}" for t, v in c["budget"]["sentences_per_teacher"].items())
            extra.append(f"budget {c['budget']['spec']} ({per} sentences per teacher)")
        if c["teachers"] and c["teachers"]["per_language"] > 1:
            extra.append(f"{c['teachers']['per_language']} teachers per language (seeds {c['teachers']['seeds']})")
        srcs = "  ".join(f"{t}: {','.join(v)}" for t, v in c["sources"].items())
        cells = sorted(set(c["cells"].values()))
        lines.append(f"  {c['label']:<28} {c['weighting'] or '-':<8} {srcs}  [{'/'.join(map(str, cells))} cells"
                     f" x {len(c['cells'])} targets]" + (f"  {'; '.join(extra)}" if extra else ""))
    lines += ["", "artefacts (kind, name, what, built or estimated seconds; '?': named by the hash of its base model's "
              "vocabulary once that is built, the sweep's first step):"]
    for m in p["models"]:
        name = m["artifact"] or "?"
        if m["kind"] == "init":
            what = f"base model {m['model']}"
        elif m["kind"] == "pretrain":
            what = f"encoder {m['model']}, {m['steps']} masked-LM steps"
        elif m["kind"] == "train":
            what = f"{','.join(m['languages'])} {m['sentences']}{' (subset)' if m['subset'] else ''} seed {m['seed']} " \
                   f"{m['steps']} steps"
        elif m["kind"] == "distill":
            t = " ".join(f"{x['lang']}/{x['seed']}/{x['sentences']}" + (f"/share{x['share']}" if x.get("share") else "")
                         for x in m["teachers"])
            what = f"-> {m['target']} ({m['weighting']}) seed {m['seed']} teachers {t} {m['steps']} steps"
        else:
            what = f"{m['of'] or '?'} gated on {m['target']} ({m['gate_sentences']} sentences)"
        state = "built" if m["built"] else f"~{m['seconds']:.0f} s"
        lines.append(f"  {m['kind']:<7} {name:<26} {what}  {state}")
    if p.get("source_sets"):
        lines += ["", "source sets (per target and K; teachers depend only on language, labelled share and seed, so "
                  f"sets share them: {p['teacher_sharing']['teachers']} teachers serve "
                  f"{p['teacher_sharing']['used_by_students']} teacher slots of the students):"]
        for t, by_k in p["source_sets"].items():
            for k, ss in by_k.items():
                lines.append(f"  {t} {k}: " + "  ".join(f"{','.join(x['sources'])}"
                                                      + (f" ({x['weighting']})" if x["weighting"] != "uniform" else "")
                                                      for x in ss))
    n = p["counts"]
    e = p["estimate"]
    lines += ["", "to build: " + ", ".join(f"{k} {v['planned'] - v['built']} of {v['planned']}" for k, v in n.items()
                                          if v["planned"]),
              f"cells: {p['cells']} in {p['groups']} groups (models x settings x targets x training seeds)",
              f"estimate: {_fmt_s(p['estimate_seconds'])} ({p['estimate_seconds']:.0f} s) on {e['cores']} CPU cores: "
              + ", ".join(f"{k} {v:.0f} s" for k, v in e["seconds_by_kind"].items())
              + f"; about {e['disk_gb']:.1f} GB of artefacts (float32 weights)"
              + (" -- for the fallback model(s), not the hub model(s) they stand in for" if p.get("fallback") else ""),
              f"how: {e['how']}"]
    return "\n".join(lines)
