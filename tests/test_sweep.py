from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from xner.cli import main
from xner.experiments import Store, comparable, load_config, plan, read_done, reference, run_sweep
from xner.robustness.statistics import correlation

TOML = """
name = "tiny"
targets = ["fa"]
perturbations = ["name_swap", "char_noise", "entity_swap_shared"]
seeds = [0, 1]
test_max_sentences = 30
bootstrap = 20

[models.tiny]
init = {{ arch = "bert", hidden = 32, layers = 1, heads = 2, max_length = 64, vocab_size = 400 }}

[train]
preset = "scratch"
max_steps = 3

[distill]
preset = "student-scratch"
max_steps = 3

[[settings]]
kind = "native"

[[settings]]
kind = "zero-shot"
sources = "en"

[[settings]]
kind = "student"
sources = "en,ru"
weighting = "{weighting}"
"""


def write_cfg(tmp_path, weighting="uniform"):
    p = tmp_path / "tiny.toml"
    p.write_text(TOML.format(weighting=weighting), encoding="utf-8")
    return p


def rows_of(store) -> dict[str, dict]:
    with Store(store) as st:
        rows = st.rows()
    assert len({r["key"] for r in rows}) == len(rows)
    return {r["key"]: comparable(r) for r in rows}


def test_plan_and_builtin_configs():
    for name in ("study", "diversity", "demo"):
        cfg = load_config(name)
        groups = plan(cfg)
        assert groups and all(cells[0]["perturbation"] == "clean" for _, cells in groups)
    study = plan(load_config("study"))
    assert {g.target for g, _ in study} == {"br", "fa", "hi", "sco", "cy", "ca", "ms", "oc", "af", "scn", "an", "ast"}
    div = plan(load_config("diversity"))
    assert {len(g.sources) for g, _ in div if g.setting == "student"} == {1, 2, 3}


#: a sweep whose models learn: one generator gives every language its training, dev and test
#: sentences (disjoint by content, as the sweep's held-out filter requires), so each model scores
#: well above 0 and a wrong or untrained model shows in the rows
LEARNED = TOML.replace("layers = 1,", "layers = 2,").replace("hidden = 32", "hidden = 64").replace("max_steps = 3", "max_steps = 300\nlr = 3e-3")


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    """One sweep, run once: its config, data, store rows and artefact folder (trained and exported
    models), which the tests below copy so that every run they compare scores the very same files."""
    from synth import sentences, write_tsv

    root = tmp_path_factory.mktemp("learned")
    base = sentences("en", 760, seed=7)
    for k, lang in enumerate(("en", "ru", "fa")):  # three disjoint training sets, one test set
        write_tsv(root / "data" / lang / "train.tsv", base[240 * k : 240 * k + 240])
        write_tsv(root / "data" / lang / "dev.tsv", base[750:760])
        write_tsv(root / "data" / lang / "test.tsv", base[720:750])
    cfg = root / "learned.toml"
    cfg.write_text(LEARNED.format(weighting="langid"), encoding="utf-8")
    store = root / "ref" / "results.sqlite"
    r = run_sweep(str(cfg), store, data_dir=str(root / "data"), progress=False)
    assert r["cells"] == 21 and r["written"] == 21 == r["results_received"] and r["results_duplicated"] == 0
    again = run_sweep(str(cfg), store, data_dir=str(root / "data"), progress=False)
    assert again["skipped"] == 21 and again["written"] == 0  # a rerun skips finished cells
    rows = rows_of(store)
    clean = {r["params"]["setting"]: r["f1"] for r in rows.values() if r["params"]["perturbation"] == "clean"}
    assert len(clean) == 3 and min(clean.values()) > 0.2, clean  # every model really learned
    return {"cfg": cfg, "data": root / "data", "rows": rows, "artifacts": store.parent / "results-artifacts"}


def with_artifacts(learned, store):
    """A new store beside a copy of the learned sweep's artefacts; returns the artefact names."""
    shutil.copytree(learned["artifacts"], store.parent / "results-artifacts")
    return sorted(p.name for p in learned["artifacts"].iterdir())


#: runs the CLI and SIGKILLs itself as it is about to write cell number argv[1] + 1
KILLED_AFTER = """
import os, signal, sys
from xner.experiments import Store
put, n = Store.put, [0]
def dying_put(self, params, row, *a, **kw):
    if n[0] == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)
    n[0] += 1
    return put(self, params, row, *a, **kw)
Store.put = dying_put
from xner.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_sigkill_then_resume_matches_uninterrupted(tmp_path, learned):
    store = tmp_path / "killed" / "results.sqlite"
    names = with_artifacts(learned, store)
    arts = tmp_path / "elsewhere"  # --artifacts: the artefact folder need not be beside the store
    os.rename(store.parent / "results-artifacts", arts)
    args = ["sweep", str(learned["cfg"]), "--store", str(store), "--data-dir", str(learned["data"]),
            "--artifacts", str(arts)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", KILLED_AFTER, "9", *args], env=env, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    partial = rows_of(store)
    assert len(partial) == 9  # past the first group (7 cells), inside the second
    for k, row in partial.items():
        assert row == learned["rows"][k], k
    # a damaged DONE marker is rebuilt, not a crash: every export's, truncated
    for done in arts.glob("onnx-*/DONE"):
        done.write_text(done.read_text()[:25])
    subprocess.run([sys.executable, "-m", "xner", *args], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    resumed = rows_of(store)
    assert set(resumed) == set(learned["rows"])  # none lost, none duplicated
    for k, row in learned["rows"].items():
        assert resumed[k] == row, k  # identical numbers
    valid = [read_done(d.parent) is not None for d in arts.glob("onnx-*/DONE")]
    assert sorted(valid) == [False, True, True]  # the exports of the two groups resumed were rebuilt
    got = sorted(p.name for p in arts.iterdir())
    assert not (store.parent / "results-artifacts").exists()  # nothing went beside the store
    assert [n for n in got if not n.startswith(".")] == [n for n in names if not n.startswith(".")]


def test_ray_resources_and_artifacts_in_config():
    from xner.errors import XnerError
    from xner.experiments.graph import resources

    cfg = load_config({**load_config("demo"), "cpus_per_task": 4, "gpus_per_task": 0.5, "artifacts": "/shared/a"})
    assert resources(cfg, "train") == resources(cfg, "distill") == {"num_cpus": 4, "num_gpus": 0.5}
    assert resources(cfg, "export") == resources(cfg, "cells") == {"num_cpus": 1, "num_gpus": 0}
    assert resources(load_config("demo")) == {"num_cpus": 1, "num_gpus": 0}  # defaults: one CPU, no GPU
    for bad in ({"cpus_per_task": 0}, {"cpus_per_task": 1.5}, {"gpus_per_task": -1}, {"artifacts": 3}):
        with pytest.raises(XnerError, match=next(iter(bad))):
            load_config({**load_config("demo"), **bad})


class DriverCrash(Exception):
    pass


def test_whole_sweep_on_ray_matches_local(tmp_path, learned, monkeypatch):
    """Issue 16: training, distillation, export and evaluation as Ray tasks in a shared artefact
    folder.  Independent models train at the same time, a student waits for its teachers and an
    export for its model; a driver that crashes mid-sweep resumes; the rows are the local executor's
    and a rerun on the finished artefacts builds nothing."""
    pytest.importorskip("ray")
    import ray

    from xner.experiments.artefacts import build_record

    shared = tmp_path / "shared"
    store = tmp_path / "ray" / "results.sqlite"
    args = {"executor": "ray", "data_dir": str(learned["data"]), "progress": False, "artifacts": str(shared)}
    put, n = Store.put, [0]

    def crashing_put(self, *a, **kw):  # the driver dies as it is about to write its tenth cell
        if n[0] == 9:
            raise DriverCrash
        n[0] += 1
        return put(self, *a, **kw)

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}})
    try:
        with monkeypatch.context() as m:
            m.setattr(Store, "put", crashing_put)
            with pytest.raises(DriverCrash):
                run_sweep(str(learned["cfg"]), store, **args)
        assert len(rows_of(store)) == 9
        resumed = run_sweep(str(learned["cfg"]), store, **args)
        names = sorted(p.name for p in shared.iterdir() if not p.name.startswith("."))
        records = {name: build_record(shared / name) for name in names}
        other = tmp_path / "again" / "results.sqlite"  # a new store on the finished artefacts
        again = run_sweep(str(learned["cfg"]), other, **args)
    finally:
        ray.shutdown()
    assert (resumed["skipped"], resumed["written"]) == (9, 12)
    assert rows_of(store) == learned["rows"]  # the local executor's rows, to the float
    assert again["written"] == 21 and rows_of(other) == learned["rows"]
    assert {name: build_record(shared / name) for name in names} == records  # nothing rebuilt
    assert not (store.parent / "results-artifacts").exists()  # artefacts went to the shared folder
    assert names == sorted(p.name for p in learned["artifacts"].iterdir() if not p.name.startswith("."))  # same keys
    built = {name: rec for name, rec in records.items() if not name.startswith("init-")}  # (init: the driver's)
    assert all(rec["pid"] != os.getpid() for rec in built.values())  # all built by Ray workers
    trains = [rec for name, rec in built.items() if name.startswith("train-")]
    assert len(trains) == 3  # fa, en, ru
    assert any(a["started"] < b["built"] and b["started"] < a["built"] and a["pid"] != b["pid"]
               for i, a in enumerate(trains) for b in trains[i + 1 :])  # two trained at the same time
    student = next(name for name in names if name.startswith("distill-"))
    teachers = [os.path.basename(t) for t in read_done(shared / student)["teachers"]]
    assert len(teachers) == 2 and all(records[student]["started"] >= records[t]["built"] for t in teachers)
    for name in names:
        if name.startswith("onnx-"):  # each export started once its model was built
            assert records[name]["started"] >= records[read_done(shared / name)["source"]]["built"]


def comparable_params(**over) -> dict:
    """A cell as a sweep of the hub's mBERT on the study's split stores it: comparable with the study."""
    ident = {"version": 2, "model": {"spec": {"hub": "bert-base-multilingual-cased"}, "substituted_for": None},
             "train": {"preset": "study"}, "distill": None, "export": {},
             "data": {"source": "/data", "split": {"scheme": "study", "seed": 42, "train_max_sentences": 0,
                                                   "test_max_sentences": 0},
                      "material": {"ar": "a" * 64}, "distilled_on": None, "test": "b" * 64},
             "train_seed": 0, "bootstrap": 20}
    p = {"model": "mbert", "model_id": "bert-base-multilingual-cased", "substituted_for": None,
         "setting": "zero-shot", "sources_spec": "pair", "sources": ["ar"], "target": "fa", "weighting": "",
         "train_seed": 0, "perturbation": "clean", "rate": None, "seed": None, "perturbation_params": None,
         "identity": ident}
    return {**p, **over}


def test_report_tables_plots_and_reference(tmp_path, data_dir):
    cfg = write_cfg(tmp_path)
    store = tmp_path / "s" / "results.sqlite"
    run_sweep(str(cfg), store, data_dir=str(data_dir), progress=False)
    # a comparable cell: the study's mBERT ar->fa, as a sweep of the hub model on the study split stores it
    ov = {"entity_token_tag_overlap": 0.3, "shared_chunk_share_unique": 0.2, "context_overlap": 0.4,
          "entity_token_overlap": 0.25, "shared_chunks_unique": 14, "seen_chunk_share": 0.001, "o_word_overlap": 0.06}
    clean = comparable_params()
    from xner.experiments.identity import make_perturbation

    swap = comparable_params(perturbation="name_swap", rate="default", seed=0,
                             perturbation_params=json.loads(json.dumps(make_perturbation("name_swap").params,
                                                                       default=str)))
    with Store(store) as st:
        st.put(clean, {"f1": 0.5, "clean_f1": 0.5, "delta_f1": 0.0, "per_type": {}, "ci": {}, "overlap": ov})
        st.put(swap, {"f1": 0.45, "clean_f1": 0.5, "delta_f1": -0.05, "per_type": {}, "ci": {"delta_f1": [-0.07, -0.03]},
                      "overlap": ov, "edit": {"entity_edit_rate": 0.3, "token_edit_rate": 0.1},
                      "edit_rate": {"unit": "entities", "requested": None, "achieved": 0.3, "capped": None}})
    out = tmp_path / "report"
    assert main(["report", str(store), "--out", str(out), "--run", "all"]) == 0
    md = (out / "report.md").read_text(encoding="utf-8")
    ref = reference()[("ar", "fa", "bert-base-multilingual-cased")]
    assert md.index("## Research question") < md.index("## ΔF1 per perturbation and rate")  # the question first
    assert f"| 1 | 50.0 | {ref['clean']:.1f} |" in md  # ours beside the study's clean F1
    assert f"| all → 0.30 | {ref['clean']:.1f} → {ref['name_swap']:.1f} |" in md  # and under name swap
    assert "| mbert | zero-shot pair | ar -> fa | 1 | 50.0 | 45.0 | -5.0 |" in md
    # each run says which code made it (a store resumed across commits shows each one)
    runs_table = md[md.index("## Runs in this store"):md.index("## How this was made")]
    assert "| commit | tree |" in runs_table and ("| clean |" in runs_table or "| edited |" in runs_table)
    flat = {(r["model"], r["perturbation"]): r for r in csv.DictReader(open(out / "cells.csv", encoding="utf-8"))}
    assert float(flat[("mbert", "name_swap")]["reference_f1"]) == ref["name_swap"]
    # a cell stored without per-sentence counts has no interval in the report, so none in cells.csv
    # either (one engine: the row's own evaluation-time interval, -0.07 here, is not a second one)
    assert flat[("mbert", "name_swap")]["delta_f1_lo"] == ""
    assert all(not r["reference_f1"] for k, r in flat.items() if k[0] == "tiny")  # not the study's model
    for png in ("research_question.png", "f1_change_vs_overlap.png", "heatmap.png", "students_vs_sources.png"):
        assert (out / png).stat().st_size > 5000
    for f in ("cells.csv", "clean.csv", "perturbations.csv", "correlations.json"):
        assert (out / f).exists()
    corr = json.loads((out / "correlations.json").read_text())
    assert "entity_token_overlap~F1 (clean)" in corr
    # a folder that holds something else is not written into
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["report", str(store), "--out", str(other)]) == 2
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def test_correlations_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    y = x + rng.normal(size=40)
    y[:5] = y[0]  # ties: Spearman's average ranks
    c = correlation(x, y, n=200)
    assert c["n"] == 40
    assert abs(c["pearson"] - stats.pearsonr(x, y)[0]) < 1e-12
    assert abs(c["spearman"] - stats.spearmanr(x, y)[0]) < 1e-12
    for k in ("pearson", "spearman"):
        assert c[f"{k}_ci"][0] <= c[k] <= c[f"{k}_ci"][1]


def test_demo_needs_data(monkeypatch, capsys):
    monkeypatch.delenv("XNER_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # neither a data folder nor the hub
    assert main(["demo"]) == 2
    err = capsys.readouterr().err
    assert "--data-dir" in err and "hub" in err


def test_failed_int8_gate_falls_back_to_float32(tmp_path, data_dir, monkeypatch):
    import xner.export.build as build

    real = build.quantize_static_int8  # what "quantize": "int8" runs (static int8)

    def broken(*args, **kw):  # a quantiser that wrecks the classifier: its gate must fail
        import onnx
        from onnx import numpy_helper

        out = real(*args, **kw)
        path = args[1]  # the quantised graph: (src, dst, model_dir, calibration) writes dst
        m = onnx.load(str(path))
        for init in m.graph.initializer:
            a = numpy_helper.to_array(init)
            if a.ndim == 2 and a.shape[1] == 7:
                init.CopyFrom(numpy_helper.from_array(a[:, ::-1].copy() * 3, init.name))
        onnx.save(m, str(path))
        return out

    monkeypatch.setattr(build, "quantize_static_int8", broken)
    cfg = load_config(str(write_cfg(tmp_path)))
    cfg["export"] = {"quantize": "int8"}
    cfg["settings"] = cfg["settings"][:1]
    cfg["perturbations"] = ["char_noise"]
    store = tmp_path / "fb" / "results.sqlite"
    run_sweep(cfg, store, data_dir=str(data_dir), progress=False)
    with Store(store) as st:
        rows = st.rows()
    assert len(rows) == 3 and all("float32" in r["export"]["fallback"] for r in rows)


# -- issue 14: cell identity, training seeds, substitution, rates ------------------------------------


def learned_cfg(learned, **over) -> dict:
    """The learned sweep's config, native only (so its tokenizer is trained on fa alone: a new base
    model), with ``over`` applied."""
    import copy

    cfg = copy.deepcopy(load_config(str(learned["cfg"])))
    cfg["settings"] = cfg["settings"][:1]
    cfg.update(over)
    return cfg


def stored(store) -> tuple[list[dict], dict[str, bytes]]:
    with Store(store) as st:
        return st.rows(), st.counts()


def test_training_material_is_what_the_model_saw(learned):
    """Overlap (and the study's P1/P2) count against the material each model was trained on: the
    native fa and zero-shot en models saw 240 sentences each, the en+ru student its teachers' 480."""
    seen = {r["params"]["setting"]: r["material_sentences"] for r in learned["rows"].values()}
    assert seen == {"native": 240, "zero-shot": 240, "student": 480}
    ov = {r["params"]["setting"]: r["overlap"]["train_sentences"] for r in learned["rows"].values()}
    assert ov == seen


def test_train_seeds_store_one_row_per_training_seed(tmp_path, learned):
    store = tmp_path / "seeds" / "results.sqlite"
    cfg = learned_cfg(learned, perturbations=["char_noise"], train_seeds=[0, 1])
    r = run_sweep(cfg, store, data_dir=str(learned["data"]), progress=False)
    assert r["cells"] == r["written"] == 2 * 3  # (clean + 2 perturbation seeds) x 2 training seeds
    rows, counts = stored(store)
    by: dict[tuple, dict[int, dict]] = {}
    for row in rows:
        p = row["params"]
        by.setdefault((p["perturbation"], p["seed"]), {})[p["train_seed"]] = row
    assert sorted(by, key=str) == [("char_noise", 0), ("char_noise", 1), ("clean", None)]
    for cell in by.values():
        assert sorted(cell) == [0, 1]  # one row per training seed
        assert cell[0]["export"]["source"] != cell[1]["export"]["source"]  # from two different models
        assert counts[cell[0]["key"]] != counts[cell[1]["key"]]  # that predict differently
    assert min(by[("clean", None)][s]["f1"] for s in (0, 1)) > 0.2  # both models learned
    # the report shows the mean over both seeds with an interval over sentences x seeds
    out = tmp_path / "report"
    assert main(["report", str(store), "--out", str(out)]) == 0
    md = (out / "report.md").read_text(encoding="utf-8")
    line = next(ln for ln in md.splitlines() if ln.startswith("| char_noise | default | tiny | native |"))
    assert "| 1 | 1 | 2 | 4 |" in line and "[" in line  # 1 source, 1 target, 2 seeds, 4 cells, an interval


def test_changed_training_setting_makes_new_cells(tmp_path, learned):
    store = tmp_path / "id" / "results.sqlite"
    cfg = learned_cfg(learned, perturbations=["char_noise"], seeds=[0])
    first = run_sweep(cfg, store, data_dir=str(learned["data"]), progress=False)
    assert first["written"] == 2
    again = run_sweep(cfg, store, data_dir=str(learned["data"]), progress=False)
    assert again["written"] == 0 and again["skipped"] == 2  # unchanged: nothing new
    cfg["train"] = {**cfg["train"], "max_steps": 40}
    changed = run_sweep(cfg, store, data_dir=str(learned["data"]), progress=False)
    assert changed["written"] == 2 and changed["skipped"] == 0  # a training setting changed: new cells
    rows, _ = stored(store)
    assert len(rows) == 4  # the old rows stay, attributed to the run that made them
    assert sorted(r["run"] for r in rows) == [first["run"]] * 2 + [changed["run"]] * 2
    old = [r for r in rows if r["run"] == first["run"]]
    new = [r for r in rows if r["run"] == changed["run"]]
    assert {r["params"]["identity"]["train"]["max_steps"] for r in new} == {40}
    assert old[0]["export"]["source"] != new[0]["export"]["source"]
    # the report shows the latest run's cells; --run all keeps the two configurations apart
    out = tmp_path / "latest"
    assert main(["report", str(store), "--out", str(out)]) == 0
    assert len(list(csv.DictReader(open(out / "cells.csv", encoding="utf-8")))) == 2
    out = tmp_path / "all"
    assert main(["report", str(store), "--out", str(out), "--run", "all"]) == 0
    flat = list(csv.DictReader(open(out / "cells.csv", encoding="utf-8")))
    assert len(flat) == 4 and len({r["variant"] for r in flat}) == 2
    md = (out / "report.md").read_text(encoding="utf-8")
    assert sum(ln.startswith("| char_noise | default | tiny | native [") for ln in md.splitlines()) == 2


def test_offline_fallback_is_recorded_and_gets_no_reference(tmp_path, learned, monkeypatch):
    from xner.experiments import reference_f1

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub is unreachable: the fallback stands in for mBERT
    tiny = load_config(str(learned["cfg"]))["models"]["tiny"]
    cfg = learned_cfg(learned, models={"mbert": {"hub": "bert-base-multilingual-cased", "fallback": tiny}},
                      perturbations=["entity_swap_shared"], seeds=[0], split_scheme="study", test_max_sentences=0)
    store = tmp_path / "fb" / "results.sqlite"
    run_sweep(cfg, store, data_dir=str(learned["data"]), progress=False)
    rows, _ = stored(store)
    assert len(rows) == 2
    for r in rows:
        p = r["params"]
        assert (p["model"], p["model_id"], p["substituted_for"]) == ("mbert", "init", "bert-base-multilingual-cased")
        assert p["identity"]["data"]["split"]["scheme"] == "study"  # the study's pooled split, end to end
    clean = next(r for r in rows if r["params"]["perturbation"] == "clean")
    assert clean["f1"] > 0.2 and clean["test_sentences"] == 56 and clean["material_sentences"] == 224
    out = tmp_path / "report"
    assert main(["report", str(store), "--out", str(out)]) == 0
    flat = list(csv.DictReader(open(out / "cells.csv", encoding="utf-8")))
    assert {r["substituted_for"] for r in flat} == {"bert-base-multilingual-cased"}
    assert {r["reference_f1"] for r in flat} == {""}  # no reference number beside a substituted model
    # ... which the very same cell, run by the real mBERT, would get: the substitution alone withholds it
    for r in rows:
        real = {**r["params"], "substituted_for": None, "model_id": "bert-base-multilingual-cased"}
        col = "clean" if real["perturbation"] == "clean" else "entity_swap_shared"
        assert reference_f1(real) == reference()[("fa", "fa", "bert-base-multilingual-cased")][col]


def test_two_rates_are_two_rows_and_two_tables(tmp_path, learned, capsys):
    store = tmp_path / "rates" / "results.sqlite"
    cfg = learned_cfg(learned, perturbations=["char_noise"], rates=[0.1, 0.5], seeds=[0])
    assert run_sweep(cfg, store, data_dir=str(learned["data"]), progress=False)["written"] == 3
    out = tmp_path / "report"
    assert main(["report", str(store), "--out", str(out)]) == 0
    flat = [r for r in csv.DictReader(open(out / "cells.csv", encoding="utf-8")) if r["perturbation"] == "char_noise"]
    assert sorted(r["rate"] for r in flat) == ["0.1", "0.5"]  # two rows
    for r in flat:
        assert float(r["edit_rate_requested"]) == float(r["rate"])
        assert abs(float(r["edit_rate_achieved"]) - float(r["rate"])) < 0.1 and r["edit_rate_capped"] == "False"
        assert float(r["delta_f1_lo"]) <= float(r["delta_f1"]) <= float(r["delta_f1_hi"])
    md = (out / "report.md").read_text(encoding="utf-8")
    deltas = {r["rate"]: 100 * float(r["delta_f1"]) for r in flat}
    assert deltas["0.1"] != deltas["0.5"]
    for rate, d in deltas.items():
        block = md.split(f"### char_noise, rate {rate}\n")[1].split("###")[0]  # its own table
        assert f"| {d:+.1f} [" in block
        assert next(ln for ln in md.splitlines() if ln.startswith(f"| char_noise | {rate} | tiny | native |"))
    mean = (deltas["0.1"] + deltas["0.5"]) / 2
    assert f"{mean:+.1f} [" not in md  # never their mean
    # xner results: the same table, for pandas or DuckDB
    capsys.readouterr()
    assert main(["results", str(store)]) == 0
    assert capsys.readouterr().out == (out / "cells.csv").read_text(encoding="utf-8")
    assert main(["results", str(store), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert len(records) == 3 and {r["rate"] for r in records} == {None, "0.1", "0.5"}
    pq = tmp_path / "cells.parquet"
    assert main(["results", str(store), "--format", "parquet", "--out", str(pq)]) == 0
    got = capsys.readouterr()
    assert got.out == "" and "3 cells" in got.err
    import pyarrow.parquet as papq

    assert papq.read_table(pq).num_rows == 3
    assert main(["results", str(store), "--format", "parquet", "--out", str(pq)]) == 0  # its own file: replaced
    pq.write_bytes(b"mine")  # now the user's
    assert main(["results", str(store), "--format", "parquet", "--out", str(pq)]) == 2  # not over a user's file
    assert "exists" in capsys.readouterr().err and pq.read_bytes() == b"mine"
    assert main(["results", str(store), "--format", "parquet", "--out", str(pq), "--overwrite"]) == 0


def test_budget_and_ensemble_students_pool_their_training_seeds(tmp_path, learned):
    """Their teachers train on seeded parts drawn anew per training seed: each seed was a report row of
    its own (seeds 1, targets 2 in the headline); now one condition over both seeds."""
    from xner.experiments.analysis import Analysis

    cfg = learned_cfg(learned, perturbations=["char_noise"], seeds=[0], train_seeds=[0, 1],
                      settings=[{"kind": "student", "sources": "en", "teachers": "seeds:2", "label": "ensemble K=2"},
                                {"kind": "student", "sources": "en,ru", "budget": 100, "label": "budget K=2"}])
    cfg["train"] = {**cfg["train"], "max_steps": 3}
    cfg["distill"] = {**cfg["distill"], "max_steps": 3}
    store = tmp_path / "pool" / "results.sqlite"
    assert run_sweep(cfg, store, data_dir=str(learned["data"]), progress=False)["written"] == 8
    rows, counts = stored(store)
    an = Analysis(rows, counts, 100)
    assert sorted((c.label, sorted(c.clean)) for c in an.conds) == [("student budget K=2", [0, 1]),
                                                                     ("student ensemble K=2", [0, 1])]
