from __future__ import annotations

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


#: a sweep whose models learn: every group's test set is partly sentences of its training data, so
#: each model scores well above 0 and a wrong or untrained model shows in the rows
LEARNED = TOML.replace("layers = 1,", "layers = 2,").replace("max_steps = 3", "max_steps = 150\nlr = 3e-3")


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    """One sweep, run once: its config, data, store rows and artefact folder (trained and exported
    models), which the tests below copy so that every run they compare scores the very same files."""
    from synth import sentences, write_tsv

    root = tmp_path_factory.mktemp("learned")
    base = sentences("en", 110, seed=7)
    for k, lang in enumerate(("en", "ru", "fa")):  # three overlapping training sets, one test set
        write_tsv(root / "data" / lang / "train.tsv", base[10 * k : 10 * k + 80])
        write_tsv(root / "data" / lang / "dev.tsv", base[100:])
        write_tsv(root / "data" / lang / "test.tsv", base[20:40] + base[100:])
    cfg = root / "learned.toml"
    cfg.write_text(LEARNED.format(weighting="langid"), encoding="utf-8")
    store = root / "ref" / "results.sqlite"
    r = run_sweep(str(cfg), store, data_dir=str(root / "data"), progress=False)
    assert r["cells"] == 21 and r["written"] == 21
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
def dying_put(self, params, row):
    if n[0] == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)
    n[0] += 1
    return put(self, params, row)
Store.put = dying_put
from xner.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_sigkill_then_resume_matches_uninterrupted(tmp_path, learned):
    store = tmp_path / "killed" / "results.sqlite"
    names = with_artifacts(learned, store)
    args = ["sweep", str(learned["cfg"]), "--store", str(store), "--data-dir", str(learned["data"])]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", KILLED_AFTER, "9", *args], env=env, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    partial = rows_of(store)
    assert len(partial) == 9  # past the first group (7 cells), inside the second
    for k, row in partial.items():
        assert row == learned["rows"][k], k
    # a damaged DONE marker is rebuilt, not a crash: every export's, truncated
    for done in (store.parent / "results-artifacts").glob("onnx-*/DONE"):
        done.write_text(done.read_text()[:25])
    subprocess.run([sys.executable, "-m", "xner", *args], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    resumed = rows_of(store)
    assert set(resumed) == set(learned["rows"])  # none lost, none duplicated
    for k, row in learned["rows"].items():
        assert resumed[k] == row, k  # identical numbers
    valid = [read_done(d.parent) is not None for d in (store.parent / "results-artifacts").glob("onnx-*/DONE")]
    assert sorted(valid) == [False, True, True]  # the exports of the two groups resumed were rebuilt
    got = sorted(p.name for p in (store.parent / "results-artifacts").iterdir())
    assert [n for n in got if not n.startswith(".")] == [n for n in names if not n.startswith(".")]


def test_ray_and_local_executors_agree(tmp_path, learned):
    pytest.importorskip("ray")
    import ray

    remote = tmp_path / "ray" / "results.sqlite"
    with_artifacts(learned, remote)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}})
    try:
        r = run_sweep(str(learned["cfg"]), remote, executor="ray", data_dir=str(learned["data"]), progress=False)
    finally:
        ray.shutdown()
    assert r["written"] == 21 and r["skipped"] == 0
    assert rows_of(remote) == learned["rows"]  # the local run's rows, to the float


def test_report_tables_plots_and_reference(tmp_path, data_dir):
    cfg = write_cfg(tmp_path)
    store = tmp_path / "s" / "results.sqlite"
    run_sweep(str(cfg), store, data_dir=str(data_dir), progress=False)
    # a matching cell: the study's mBERT ar->fa, as a sweep of a hub model would store it
    with Store(store) as st:
        st.log_run({"models": {"mbert": {"hub": "bert-base-multilingual-cased"}}}, {})
        base = {"model": "mbert", "setting": "zero-shot", "sources": ["ar"], "target": "fa", "weighting": "",
                "config": "x", "seed": None, "rate": None}
        ov = {"entity_token_overlap": 0.25, "shared_chunks_unique": 14, "seen_chunk_share": 0.001, "o_word_overlap": 0.06}
        st.put({**base, "perturbation": "clean"}, {"f1": 0.5, "clean_f1": 0.5, "delta_f1": 0.0, "per_type": {},
                                                   "ci": {}, "overlap": ov})
        st.put({**base, "perturbation": "name_swap", "seed": 0},
               {"f1": 0.45, "clean_f1": 0.5, "delta_f1": -0.05, "per_type": {}, "ci": {}, "overlap": ov,
                "edit": {"entity_edit_rate": 0.3, "token_edit_rate": 0.1}})
    out = tmp_path / "report"
    assert main(["report", str(store), "--out", str(out)]) == 0
    md = (out / "report.md").read_text(encoding="utf-8")
    ref = reference()[("ar", "fa", "bert-base-multilingual-cased")]
    assert f"| 50.0 | — | {ref['clean']:.1f} |" in md  # ours beside the study's clean F1
    assert f"45.0 ({ref['name_swap']:.1f})" in md  # and under name swap
    for png in ("f1_change_vs_overlap.png", "heatmap.png", "students_vs_sources.png"):
        assert (out / png).stat().st_size > 5000
    for f in ("cells.csv", "clean.csv", "perturbations.csv", "correlations.json"):
        assert (out / f).exists()
    corr = json.loads((out / "correlations.json").read_text())
    assert "entity_token_overlap~F1" in corr


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

    real = build.quantize_int8

    def broken(*paths):  # a quantiser that wrecks the classifier: its gate must fail
        import onnx
        from onnx import numpy_helper

        out = real(*paths)
        path = paths[-1]  # the quantised graph: (src, dst) writes dst
        m = onnx.load(str(path))
        for init in m.graph.initializer:
            a = numpy_helper.to_array(init)
            if a.ndim == 2 and a.shape[1] == 7:
                init.CopyFrom(numpy_helper.from_array(a[:, ::-1].copy() * 3, init.name))
        onnx.save(m, str(path))
        return out

    monkeypatch.setattr(build, "quantize_int8", broken)
    cfg = load_config(str(write_cfg(tmp_path)))
    cfg["export"] = {"quantize": "int8"}
    cfg["settings"] = cfg["settings"][:1]
    cfg["perturbations"] = ["char_noise"]
    store = tmp_path / "fb" / "results.sqlite"
    run_sweep(cfg, store, data_dir=str(data_dir), progress=False)
    with Store(store) as st:
        rows = st.rows()
    assert len(rows) == 3 and all("float32" in r["export"]["fallback"] for r in rows)
