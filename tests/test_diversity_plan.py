"""The source-diversity experiment's config support (README, "The source-diversity experiment"):
sources per target and mixed:K, labelled budgets split across teachers, ensembles of one language,
labels, the pair-student baseline, and `xner sweep --plan` (which trains nothing)."""

from __future__ import annotations

import json
import textwrap

import pytest
from conftest import WIKIANN, needs_shared

from xner.cli import main
from xner.errors import XnerError
from xner.experiments import (
    Artifacts,
    Material,
    cell_key,
    cell_params,
    group_identity,
    load_config,
    plan,
    read_done,
)
from xner.experiments.analysis import Analysis
from xner.experiments.config import resolve_models
from xner.experiments.plan import Group, resolve_sources, teacher_plan

INIT = {"arch": "bert", "hidden": 32, "layers": 1, "heads": 2, "max_length": 64, "vocab_size": 400}


def _cfg(**over) -> dict:
    cfg = {"name": "div", "targets": ["fa"], "perturbations": ["char_noise"], "test_max_sentences": 20,
           "bootstrap": 20, "models": {"tiny": {"init": dict(INIT)}},
           "train": {"preset": "scratch", "max_steps": 3}, "distill": {"preset": "student-scratch", "max_steps": 3},
           "settings": [{"kind": "student", "label": "pair K=1", "sources": "pair"},
                        {"kind": "student", "label": "budget K=2", "sources": "ar,en", "budget": 60},
                        {"kind": "student", "label": "ensemble K=2", "sources": "pair", "teachers": "seeds:2"}]}
    cfg.update(over)
    return load_config(cfg)


def _arts(tmp_path, cfg, data_dir) -> Artifacts:
    from xner.datadir import DataDir

    return Artifacts(tmp_path / "arts", cfg, resolve_models(cfg), Material.of(DataDir(data_dir), cfg), build=False)


def _keys(tmp_path, cfg, data_dir) -> dict[tuple, str]:
    arts = _arts(tmp_path, cfg, data_dir)
    return {(g.condition, g.train_seed, c["perturbation"]): cell_key(c)
            for g, cells in plan(cfg) for c in cell_params(cells, group_identity(arts, g, 20))}


def test_sources_per_target_mixed_and_labels():
    cfg = _cfg(targets=["fa", "hi"], settings=[
        {"kind": "student", "sources": {"fa": "ar,en", "*": "ar"}},
        {"kind": "zero-shot", "label": "zero-shot pair"}, {"kind": "native"}])
    got = {(g.setting, g.target): (g.sources, g.spec, g.condition) for g, _ in plan(cfg)}
    assert got[("student", "fa")][:2] == (("ar", "en"), "ar,en")
    assert got[("student", "hi")][:2] == (("ar",), "ar")  # "*": every other target
    assert got[("student", "fa")][2] == "student {fa=ar,en; *=ar} (uniform)"  # one label for every target
    assert got[("zero-shot", "fa")][2] == "zero-shot pair" and got[("native", "fa")][2] == "native"
    with pytest.raises(XnerError, match="no sources for target hi"):
        plan(_cfg(targets=["fa", "hi"], settings=[{"kind": "student", "sources": {"fa": "ar"}}]))
    with pytest.raises(XnerError, match="a source twice"):
        plan(_cfg(settings=[{"kind": "student", "sources": "ar,ar"}]))
    # mixed:K = K-1 related + the first unrelated source in the target's script (else the first unrelated)
    assert resolve_sources("mixed:2", "af") == ["nl", "id"] and resolve_sources("mixed:3", "af") == ["nl", "de", "id"]
    assert resolve_sources("mixed:3", "ms") == ["id", "en", "es"]  # not ar: another script
    assert resolve_sources("mixed:2", "fa") == ["ar", "id"]  # no unrelated source in Arabic script
    assert resolve_sources("pair", "ast") == ["es"] and resolve_sources("related:3", "ast") == ["es", "pt", "fr"]
    labels = {c["label"] for _, cells in plan(_cfg()) for c in cells}
    assert labels == {"student pair K=1", "student budget K=2", "student ensemble K=2"}


def test_budget_splits_and_is_part_of_the_identity(tmp_path, data_dir):
    cfg = _cfg()
    arts = _arts(tmp_path, cfg, data_dir)
    size = {x: len(arts.material.train(x)) for x in ("ar", "en")}  # 120 each
    g = Group("tiny", "student", ("ar", "en"), "fa", "uniform", 1, "ar,en", 60)
    assert [tuple(t) for t in teacher_plan(g, size.get)] == [("ar", 1, 30, 0), ("en", 1, 30, 0)]  # floor(60 / 2)
    pair = Group("tiny", "student", ("ar", "en", "ru"), "fa", "uniform", 0, "ar,en,ru", "pair")
    assert {t.sentences for t in teacher_plan(pair, lambda x: 120)} == {40}  # the pair (ar) teacher's 120 / 3
    big = Group("tiny", "student", ("ar",), "fa", "uniform", 0, "ar", 10_000)
    assert teacher_plan(big, size.get)[0].sentences == 0  # more than the language has: all of it
    # the subset: seeded, in corpus order, nested for one seed, part of the teacher's artefact name
    mat = arts.material
    a, b = mat.part("ar", 30, 1), mat.part("ar", 40, 1)
    assert len(a) == 30 and set(a.sentence_ids.tolist()) <= set(b.sentence_ids.tolist())
    assert mat.part_sha256("ar", 30, 1) != mat.part_sha256("ar", 30, 2) != mat.sha256("ar", "train")
    steps = arts.steps(g)
    assert [s.kind for s in steps] == ["train", "train", "distill", "export"]
    assert [s.args[1:] for s in steps[:2]] == [(("ar",), 1, "tiny", 30, 0), (("en",), 1, "tiny", 30, 0)]
    assert steps[0].name != arts.train_step("tiny", ("ar",), 1).name  # a subset is another teacher
    assert arts.train_step("tiny", ("ar",), 1, 10_000).name == arts.train_step("tiny", ("ar",), 1).name
    # the budget is in the cells' identity: only the budget student's keys change
    k0, k1 = _keys(tmp_path, cfg, data_dir), _keys(tmp_path, _cfg(settings=[
        *cfg["settings"][:1], {**cfg["settings"][1], "budget": 80}, *cfg["settings"][2:]]), data_dir)
    assert {k[0] for k in k0 if k0[k] != k1[k]} == {"student budget K=2"}
    ident = group_identity(arts, g, 20)
    assert ident["budget"] == 60 and [t["sentences"] for t in ident["teachers"]] == [30, 30]
    with pytest.raises(XnerError, match="student settings"):
        plan(_cfg(settings=[{"kind": "zero-shot", "sources": "ar", "budget": 10}]))


def test_ensemble_teachers_share_the_language_not_the_seed(tmp_path, data_dir):
    cfg = _cfg()
    arts = _arts(tmp_path, cfg, data_dir)
    g = next(g for g, _ in plan(cfg) if g.condition == "student ensemble K=2")
    assert g.sources == ("ar",) and g.teachers == 2
    seeds = [t.seed for t in teacher_plan(Group("m", "student", ("ar",), "fa", train_seed=2, teachers=3))]
    assert seeds == [2000, 2001, 2002]  # train_seed * 1000 + i
    steps = arts.steps(g)
    trains = [s for s in steps if s.kind == "train"]
    assert len({s.name for s in trains}) == 2 and {s.args[1] for s in trains} == {("ar",)}
    assert steps[-2].deps == tuple(s.name for s in trains)  # the student distils from both
    with pytest.raises(XnerError, match="uniform"):
        plan(_cfg(settings=[{"kind": "student", "sources": "pair", "teachers": "seeds:3", "weighting": "langid"}]))
    with pytest.raises(XnerError, match="seeds:N"):
        plan(_cfg(settings=[{"kind": "student", "sources": "pair", "teachers": "three"}]))


def test_pair_student_is_the_baseline():
    rows = []
    for label, sources, extra in (("student pair K=1", ["ar"], {}), ("student related K=1", ["ar"], {}),
                                  ("student ensemble K=3", ["ar"], {"teachers": 3}),
                                  ("student related K=2", ["ar", "en"], {}), ("student unrelated K=1", ["id"], {})):
        p = {"model": "tiny", "setting": "student", "sources_spec": ",".join(sources), "sources": sources,
             "target": "fa", "weighting": "uniform", "train_seed": 0, "perturbation": "clean", "rate": None,
             "seed": None, "label": label, **extra,
             "identity": {"data": {"test": "t"}, "teachers": [{"lang": "ar", "sentences": 9}] * extra.get("teachers", 0)}}
        rows.append({"key": label, "params": p, "f1": 0.5})
    an = Analysis(rows, {}, 10)
    by = {c.label: c for c in an.conds}
    pair = by["student pair K=1"]
    for other in ("student related K=2", "student ensemble K=3", "student unrelated K=1", "student related K=1"):
        assert an.baseline(by[other], "student1") is pair, other
    assert an.baseline(pair, "student1") is None and not by["student ensemble K=3"].plain


def _plan_json(capsys, argv: list[str]) -> dict:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_plan_json_trains_nothing(tmp_path, data_dir, capsys):
    cfg = tmp_path / "div.toml"
    cfg.write_text(textwrap.dedent("""
        name = "div"
        targets = ["fa", "hi"]
        perturbations = ["char_noise", { name = "entity_swap_shared", rates = ["default"] }]
        rates = [0.1, 0.3]
        train_seeds = [0, 1, 2]
        [models.tiny]
        init = { arch = "bert", hidden = 32, layers = 1, heads = 2, max_length = 64, vocab_size = 400 }
        [train]
        preset = "scratch"
        max_steps = 3
        [[settings]]
        kind = "student"
        label = "budget K=2"
        sources = { fa = "ar,en", hi = "ar,ru" }
        budget = "pair"
        [[settings]]
        kind = "student"
        label = "ensemble K=3"
        sources = "pair"
        teachers = "seeds:3"
    """), encoding="utf-8")
    arts, store = tmp_path / "arts", tmp_path / "s" / "results.sqlite"
    p = _plan_json(capsys, ["sweep", str(cfg), "--plan", "--json", "--data-dir", str(data_dir),
                            "--artifacts", str(arts), "--store", str(store)])
    assert not arts.exists() and not store.parent.exists()  # nothing built, not even a folder or the store
    assert p["config"] == "div" and p["train_seeds"] == [0, 1, 2]
    conds = {c["label"]: c for c in p["conditions"]}
    assert set(conds) == {"student budget K=2", "student ensemble K=3"}
    b = conds["student budget K=2"]
    assert b["sources"] == {"fa": ["ar", "en"], "hi": ["ar", "ru"]} and b["train_seeds"] == [0, 1, 2]
    assert b["budget"]["sentences_per_teacher"] == {"fa": [60], "hi": [60]}  # ar's 120 training sentences / 2
    assert conds["student ensemble K=3"]["teachers"]["per_language"] == 3
    assert p["cells"] == 2 * 2 * 3 * (1 + 1 + 2)  # settings x targets x seeds x (clean, P1 at default, 2 rates)
    ens = [m for m in p["models"] if m["kind"] == "distill" and len({t["lang"] for t in m["teachers"]}) == 1]
    assert ens and all(len({t["seed"] for t in m["teachers"]}) == 3 for m in ens)
    assert p["estimate_seconds"] > 0 and "estimate" in p["estimate"]["how"] and not any(m["built"] for m in p["models"])


def test_tiny_sweep_builds_students_from_the_right_teachers(tmp_path, data_dir):
    from xner.experiments import run_sweep
    from xner.experiments.planview import sweep_plan

    cfg = _cfg(targets=["fa"])
    store = tmp_path / "s" / "results.sqlite"
    r = run_sweep(cfg, store, data_dir=str(data_dir), progress=False)
    assert r["written"] == r["cells"] == 3 * 2
    root = store.parent / "results-artifacts"
    got = []
    for d in root.glob("distill-*"):
        assert not (d / "checkpoints").exists()  # only a training in progress needs them
        teachers = [read_done(root / t.rsplit("/", 1)[-1]) for t in read_done(d)["teachers"]]
        got.append(sorted((tuple(t["langs"]), t["seed"], t.get("sentences", 0)) for t in teachers))
    assert sorted(got) == [[(("ar",), 0, 0)],  # the pair student
                           [(("ar",), 0, 0), (("ar",), 1, 0)],  # the ensemble: seeds 0 * 1000 + i
                           [(("ar",), 0, 30), (("en",), 0, 30)]]  # the budget: 60 / 2 sentences each
    p = sweep_plan(cfg, str(data_dir), store=store)  # now everything is built, and the plan says so
    assert all(m["built"] for m in p["models"]) and p["estimate"]["seconds_by_kind"]["train"] == 0


@needs_shared
def test_builtin_diversity_plan(capsys, tmp_path):
    p = _plan_json(capsys, ["sweep", "diversity-legacy", "--plan", "--json", "--data-dir", str(WIKIANN),
                            "--artifacts", str(tmp_path / "arts")])
    assert not (tmp_path / "arts").exists()
    conds = {c["label"]: c for c in p["conditions"]}
    assert {"native", "zero-shot pair", "student pair K=1", "student related K=2", "student related K=3",
            "student mixed K=2", "student mixed K=3", "student budget K=3", "student ensemble K=3",
            "student langid K=3"} == set(conds)
    assert all(len(c["train_seeds"]) >= 3 for c in conds.values())
    assert conds["student budget K=3"]["budget"]["sentences_per_teacher"] == {t: [666] for t in p["targets"]}
    assert conds["student mixed K=2"]["sources"] == {"af": ["nl", "id"], "ast": ["es", "id"], "ms": ["id", "es"],
                                                     "fa": ["ar", "id"]}
    assert conds["student langid K=3"]["weighting"] == "langid"
    est = p["estimate"]
    assert p["estimate_seconds"] == pytest.approx(sum(est["seconds_by_kind"].values()), abs=1)
    if est["cores"] == 2:
        assert 45 * 60 < p["estimate_seconds"] < 90 * 60  # sized for about an hour on 2 cores
