"""Sweep identity, intervals, contrasts and reference pairing, without training a model (issue 14).

The acceptance tests that run real sweeps (training seeds, changed settings, offline fallbacks, two
rates) are in test_sweep.py, beside its trained fixture."""

from __future__ import annotations

import copy
import json
import shutil

import numpy as np
import pytest

from xner.errors import XnerError
from xner.experiments import (
    Artifacts,
    Material,
    Resampler,
    Store,
    cell_key,
    cell_params,
    group_identity,
    load_config,
    pack_counts,
    parse_seeds,
    plan,
    reference,
    reference_f1,
    resolve_models,
    unpack_counts,
)
from xner.experiments.analysis import Analysis
from xner.experiments.identity import make_perturbation
from xner.experiments.plan import Group, material_langs
from xner.metrics import EntityCounts, paired_bootstrap


def test_config_train_seeds_and_split():
    cfg = {"models": {"m": {"path": "x"}}, "targets": ["fa"], "settings": [{"kind": "native"}]}
    got = load_config(dict(cfg))
    assert got["train_seeds"] == [0] and got["seeds"] == [0] and got["split_scheme"] == "standard"
    assert load_config(dict(cfg), [0, 1, 2])["train_seeds"] == [0, 1, 2]  # --train-seeds overrides
    assert load_config({**cfg, "train_seed": 7})["train_seeds"] == [7]  # the old single-seed key
    assert parse_seeds("0,1, 2") == [0, 1, 2]
    for bad in ("a,b", ""):
        with pytest.raises(XnerError):
            parse_seeds(bad)
    for bad in ({"train_seeds": [0, 0]}, {"train_seeds": ["0"]}, {"split_scheme": "random"},
                {"train_max_sentences": -1}):
        with pytest.raises(XnerError):
            load_config({**cfg, **bad})
    div = load_config("diversity-legacy")
    assert div["train_seeds"] == [0, 1, 2] and div["split_scheme"] == "study"
    assert {g.train_seed for g, _ in plan(div)} == {0, 1, 2}


def test_material_langs_and_study_split_without_leakage(data_dir):
    from xner.datadir import DataDir

    assert material_langs(Group("m", "native", ("fa",), "fa")) == ("fa",)
    assert material_langs(Group("m", "joint", ("ar", "fa"), "fa")) == ("ar", "fa")  # source plus target
    assert material_langs(Group("m", "student", ("ar", "en"), "fa", "langid")) == ("ar", "en")  # teachers' data
    mat = Material(DataDir(data_dir), "study", 42, train_cap=0, test_cap=0)
    train, test = mat.train("fa"), mat.test("fa")
    assert len(train) + len(test) == 200 and len(test) == 40  # train, dev and test pooled, 80/20
    assert not set(train.sentence_ids.tolist()) & set(test.sentence_ids.tolist())  # no sentence on both sides
    other = Material(DataDir(data_dir), "study", 43)
    assert other.sha256("fa", "test") != mat.sha256("fa", "test")  # the split seed matters
    capped = Material(DataDir(data_dir), "standard", train_cap=50, test_cap=10)
    assert len(capped.train("fa")) == 50 and len(capped.test("fa")) == 10
    both = capped.training(("ar", "fa"))
    assert len(both) == 100 and both.lang == "ar+fa"


def test_reference_only_where_comparable():
    ref = reference()[("fa", "fa", "bert-base-multilingual-cased")]
    ident = {"model": {"spec": {"hub": "bert-base-multilingual-cased"}},
             "data": {"split": {"scheme": "study", "seed": 42, "train_max_sentences": 0, "test_max_sentences": 0}}}
    base = {"model": "mbert", "model_id": "bert-base-multilingual-cased", "substituted_for": None, "setting": "native",
            "sources": ["fa"], "target": "fa", "perturbation": "clean", "rate": None, "perturbation_params": None,
            "identity": ident}
    def resolved(name, rate="default", **args):
        return json.loads(json.dumps(make_perturbation(name, rate, args).params, default=str))

    p1 = {**base, "perturbation": "entity_swap_shared", "rate": "default",
          "perturbation_params": resolved("entity_swap_shared")}
    assert reference_f1(base) == ref["clean"] and reference_f1(p1) == ref["entity_swap_shared"]
    both = {**p1, "perturbation": "entity_and_context", "perturbation_params": resolved("entity_and_context")}
    assert reference_f1(both) == ref["entity_and_context"]
    assert reference_f1({**p1, "rate": "none"}) == ref["entity_swap_shared"]  # the same: every eligible unit

    def split(**kw):
        return {**ident, "data": {"split": {**ident["data"]["split"], **kw}}}

    for off in ({"substituted_for": "bert-base-multilingual-cased", "model_id": "init"},  # a fallback ran
                {"setting": "student"}, {"setting": "joint"},  # not a study setting
                {"identity": split(scheme="standard")}, {"identity": split(train_max_sentences=3000)},
                {"identity": split(test_max_sentences=1000)},  # not the study's split
                {"model_id": "bert-base-cased"}):  # a model the study did not run
        assert reference_f1({**base, **off}) is None, off
    for off in ({"rate": 0.3, "perturbation_params": resolved("entity_swap_shared", 0.3)},  # not the default rate
                {"perturbation": "char_noise", "perturbation_params": resolved("char_noise")}):  # not a study one
        assert reference_f1({**p1, **off}) is None, off
    zs = {**base, "setting": "zero-shot", "sources": ["ar"]}
    assert reference_f1(zs) == reference()[("ar", "fa", "bert-base-multilingual-cased")]["clean"]


def test_counts_pack_and_resampled_f1_match_the_scorer():
    rng = np.random.default_rng(0)
    for top in (3, 300, 70000):
        c = rng.integers(0, top, size=(40, 3, 3)).astype(np.int32)
        assert np.array_equal(unpack_counts(pack_counts(c)), c)
    gold = rng.integers(0, 7, size=600).astype(np.int8)
    pred = np.where(rng.random(600) < 0.8, gold, rng.integers(0, 7, size=600)).astype(np.int8)
    pert = np.where(rng.random(600) < 0.7, gold, rng.integers(0, 7, size=600)).astype(np.int8)
    offsets = np.arange(0, 601, 6)
    types = ["LOC", "ORG", "PER"]
    a, b = EntityCounts(gold, pred, offsets, types), EntityCounts(gold, pert, offsets, types)
    res = Resampler(2000, seed=1)
    fa, ra = res.f1("ab" * 32, unpack_counts(pack_counts(a.counts)))
    fb, rb = res.f1("ab" * 32, b.counts)
    assert fa == pytest.approx(a.scores().f1) and fb == pytest.approx(b.scores().f1)
    lo, hi = np.percentile(rb - ra, [2.5, 97.5])  # paired: the same resamples on both sides
    ref = paired_bootstrap(a, b, 2000, 0)["delta_f1"]
    assert abs(lo - ref[0]) < 0.02 and abs(hi - ref[1]) < 0.02
    again = Resampler(2000, seed=1).f1("ab" * 32, b.counts)[1]
    assert np.array_equal(again, rb)  # deterministic for a test set


def test_intervals_grow_with_seed_spread():
    from xner.experiments.inference import over_seeds, percentile, pool_targets

    rng = np.random.default_rng(0)
    reps = rng.normal(0, 0.01, size=1000)
    for method in ("t", "percentile"):
        def est(units, method=method):
            if method == "percentile":
                return percentile(units).to_json()
            return (over_seeds(units[0]) if len(units) == 1 else
                    pool_targets({str(i): over_seeds(u) for i, u in enumerate(units)})).to_json()

        one = est([[(0.0, reps)]])
        assert one["lo"] < 0 < one["hi"] and one["seeds"] == 1 and one["targets"] == 1
        spread = est([[(v, reps + v) for v in (-0.05, 0.0, 0.05)]])
        assert spread["value"] == pytest.approx(0.0) and spread["seeds"] == 3
        assert spread["hi"] - spread["lo"] > 2 * (one["hi"] - one["lo"])  # training seeds count
        pooled = est([[(0.1, reps + 0.1)], [(0.3, reps + 0.3)]])
        assert pooled["value"] == pytest.approx(0.2) and pooled["targets"] == 2 and pooled["lo"] < 0.2 < pooled["hi"]
        assert est([[(0.1, None)]])["lo"] is None  # one seed, no counts: no interval


def _fake_store(path, shift: dict) -> None:
    """A store of two 1-target settings (a 1-source and a 2-source student) x 2 training seeds, with
    counts; ``shift[(sources, seed)]`` = how many more true positives the perturbed cell loses."""
    rng = np.random.default_rng(0)
    m = 200
    gold = rng.integers(1, 4, size=(m, 3))
    with Store(path) as st:
        for (sources, seed), loss in shift.items():
            ident = {"data": {"test": "c" * 64, "split": {}}, "train_seed": seed, "distill": {"x": 1}}
            base = {"model": "tiny", "model_id": "init", "substituted_for": None, "setting": "student",
                    "sources_spec": ",".join(sources), "sources": list(sources), "target": "fa",
                    "weighting": "uniform", "train_seed": seed, "identity": ident}
            tp = np.minimum(gold, rng.integers(1, 4, size=(m, 3)))
            clean = np.stack([tp, gold, gold], axis=-1)
            lost = np.zeros_like(tp)
            lost[rng.choice(m, loss, replace=False), 0] = 1
            pert = np.stack([np.maximum(tp - lost, 0), gold, gold], axis=-1)
            f = [2 * c[..., 0].sum() / (c[..., 1].sum() + c[..., 2].sum()) for c in (clean, pert)]
            cp = {**base, "perturbation": "clean", "rate": None, "seed": None, "perturbation_params": None}
            st.put(cp, {"f1": f[0]}, pack_counts(clean))
            st.put({**base, "perturbation": "char_noise", "rate": "default", "seed": 0,
                    "perturbation_params": {"rate": 0.3}}, {"f1": f[1], "delta_f1": f[1] - f[0]}, pack_counts(pert))


def test_contrast_is_paired_over_sentences_and_seeds(tmp_path):
    store = tmp_path / "s.sqlite"
    _fake_store(store, {(("en",), 0): 5, (("en",), 1): 7, (("en", "ru"), 0): 40, (("en", "ru"), 1): 44})
    with Store(store) as st:
        rows, blobs = st.rows(), st.counts()
    an = Analysis(rows, blobs, 500)
    one, two = sorted(an.conds, key=lambda c: len(c.sources))
    pr = ("char_noise", "default")
    assert an.baseline(two, "student1") is one and an.baseline(one, "student1") is None
    c = an.contrast(two, "student1", pr)
    d = {s: {len(k.sources): k.pert[pr][s][0]["delta_f1"] for k in (one, two)} for s in (0, 1)}
    expect = np.mean([d[s][2] - d[s][1] for s in (0, 1)])
    assert c["value"] == pytest.approx(expect) and c["seeds"] == 2 and c["lo"] <= expect <= c["hi"] < 0
    st = an.stat(two, pr)
    assert st["value"] == pytest.approx(np.mean([d[s][2] for s in (0, 1)])) and st["cells"] == 2
    pooled = an.pooled(("tiny", two.label, two.variant), pr, "student1")
    assert pooled["value"] == pytest.approx(expect) and pooled["targets"] == 1 and pooled["baseline"] == one.label


def _keys(root, cfg: dict, data) -> dict[tuple, str]:
    from xner.datadir import DataDir

    cfg = load_config(copy.deepcopy(cfg))
    arts = Artifacts(root / "arts", cfg, resolve_models(cfg), Material.of(DataDir(data), cfg))
    out = {}
    for g, cells in plan(cfg):
        for c in cell_params(cells, group_identity(arts, g, cfg["bootstrap"]), arts.vectors_identity(g.model)):
            out[(g.setting, g.train_seed, c["perturbation"], c["rate"], c["seed"])] = cell_key(c)
    return out


def _vocab(data, path) -> str:
    """A WordPiece vocabulary of the data's words and characters (no tokenizer training needed)."""
    words = {ln.split("\t")[0] for f in sorted(data.rglob("*.tsv")) for ln in f.read_text(encoding="utf-8").splitlines()
             if ln.strip()}
    chars = sorted({ch for w in words for ch in w})
    toks = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{ch}" for ch in chars), *sorted(words)]
    path.write_text("\n".join(dict.fromkeys(toks)) + "\n", encoding="utf-8")
    return str(path)


def test_cell_identity_covers_every_input(tmp_path, data_dir, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    base = {"name": "id", "targets": ["fa"], "perturbations": ["char_noise", "context_swap"], "bootstrap": 20,
            "models": {"tiny": {"init": {"arch": "bert", "vocab": _vocab(data, tmp_path / "vocab.txt"), "hidden": 32,
                                         "layers": 1, "heads": 2, "max_length": 64}}},
            "train": {"preset": "scratch", "max_steps": 3}, "distill": {"preset": "student-scratch", "max_steps": 3},
            "settings": [{"kind": "native"}, {"kind": "student", "sources": "en"}]}
    k0 = _keys(tmp_path, base, data)
    native = {k for k in k0 if k[0] == "native"}

    def changed(**over) -> set:
        cfg = copy.deepcopy(base)
        for k, v in over.items():
            if isinstance(v, dict) and isinstance(cfg.get(k), dict):
                cfg[k] = {**cfg[k], **v}
            else:
                cfg[k] = v
        k1 = _keys(tmp_path, cfg, data)
        return {k for k in k0 if k0[k] != k1.get(k)}

    everything = set(k0)
    assert changed() == set()  # the same inputs, the same keys
    assert changed(train={"max_steps": 4}) == everything  # students' teachers train too
    assert changed(distill={"max_steps": 4}) == everything - native
    assert changed(export={"quantize": "int8"}) == everything
    assert changed(train_max_sentences=50) == everything
    assert changed(test_max_sentences=10) == everything
    assert changed(split_scheme="study") == everything
    assert changed(split_seed=7) == set()  # no study split: its seed is no input
    assert changed(split_scheme="study", split_seed=7) == everything
    assert changed(bootstrap=21) == everything
    assert changed(seeds=[1]) == {k for k in everything if k[2] != "clean"}
    assert changed(rates=[0.5]) == {k for k in everything if k[2] != "clean"}
    assert changed(train_seeds=[1]) == everything
    p2 = {k for k in everything if k[2] == "context_swap"}
    assert changed(vectors="model") == p2  # P2's encoder: only the cells that use it
    assert changed(perturbations=["char_noise", {"name": "context_swap", "filter": "frequency"}]) == p2
    assert changed(models={"tiny": {"init": {**base["models"]["tiny"]["init"], "hidden": 64}}}) == everything
    # how xner makes and runs the graph: another static int8 recipe (int8 cells and artefacts only), or
    # other onnxruntime fusions (every cell: they can move even a float32 graph's logits), are others
    import xner.export.quantize as quantize
    import xner.export.runtime as runtime

    def export_name(quantize_cfg) -> str:
        cfg = load_config({**copy.deepcopy(base), "export": {"quantize": quantize_cfg} if quantize_cfg else {}})
        from xner.datadir import DataDir

        arts = Artifacts(tmp_path / "arts", cfg, resolve_models(cfg), Material.of(DataDir(data), cfg))
        return arts.export_step("/x/model", "fa").name

    int8 = {**copy.deepcopy(base), "export": {"quantize": "int8"}}
    dyn = {**copy.deepcopy(base), "export": {"quantize": "int8-dynamic"}}
    k8, kd = _keys(tmp_path, int8, data), _keys(tmp_path, dyn, data)
    before = {q: export_name(q) for q in ("int8", "int8-dynamic", None)}
    with monkeypatch.context() as m:
        m.setattr(quantize, "RECIPE", quantize.RECIPE + 1)
        assert changed() == set() and _keys(tmp_path, dyn, data) == kd
        assert set(_keys(tmp_path, int8, data).items()).isdisjoint(k8.items())
        assert export_name("int8") != before["int8"] and export_name(None) == before[None]
        assert export_name("int8-dynamic") == before["int8-dynamic"]
    with monkeypatch.context() as m:
        m.setattr(runtime, "CPU_DISABLED_FUSIONS", ())
        assert changed() == everything
        assert set(_keys(tmp_path, int8, data).items()).isdisjoint(k8.items())
        assert set(_keys(tmp_path, dyn, data).items()).isdisjoint(kd.items())
        # the gate of a quantised export ran under the fusions: another artefact; a float32 one is the same file
        assert export_name("int8-dynamic") != before["int8-dynamic"] and export_name(None) == before[None]
    # data content: an edited source training file changes the student only, an edited test file all
    f = data / "en" / "train.tsv"
    f.write_text(f.read_text(encoding="utf-8").replace("\tO\n", "\tB-PER\n", 1), encoding="utf-8")
    assert {k for k, v in _keys(tmp_path, base, data).items() if v != k0[k]} == everything - native
    f = data / "fa" / "test.tsv"
    f.write_text(f.read_text(encoding="utf-8").replace("\tO\n", "\tB-LOC\n", 1), encoding="utf-8")
    assert {k for k, v in _keys(tmp_path, base, data).items() if v != k0[k]} == everything


def test_capped_rate_of_a_combination_follows_its_parts(data_dir):
    """A combination's own statistics carry no `capped`; its parts do, and the cell's edit rate must
    say capped when any part was (the row keeps the parts beside `edit`)."""
    from xner.experiments.cells import edit_rate
    from xner.robustness import make

    pert = make("entity_swap_shared+char_noise")
    row = {"edit": {"entities": 100, "tokens": 400, "entity_edit_rate": 0.29, "token_edit_rate": 0.3},
           "parts": [{"capped": True}, {"capped": False}]}
    assert edit_rate(pert, row)["capped"] is True
    row["parts"] = [{"capped": False}, {"capped": False}]
    assert edit_rate(pert, row)["capped"] is False


def test_one_engine_one_interval_and_the_sweeps_replicates(tmp_path):
    """cells.csv / `xner results` took a cell's ΔF1 interval from the evaluation-time bootstrap and
    report.md from the report's resampler: two intervals for one cell; and the report used
    max(sweep's B, 200) where its help said the sweep's (now: the sweep's, at least 2000, as it says)."""
    from xner.experiments.report import replicates, table_rows

    store = tmp_path / "s.sqlite"
    _fake_store(store, {(("en",), 0): 9})
    with Store(store) as st:  # the sweep's B = 50, and a stored evaluation-time interval that differs
        st.db.execute("UPDATE cells SET row = json_set(row, '$.ci', json('{\"delta_f1\": [-0.9, 0.9]}'))")
        st.db.execute("UPDATE cells SET params = json_set(params, '$.identity.bootstrap', 50)")
        rows, blobs = st.rows(), st.counts()
    assert replicates(rows) == 2000 and replicates(rows, 400) == 400
    an = Analysis(rows, blobs, replicates(rows))
    (cond,) = an.conds
    st = an.stat(cond, ("char_noise", "default"))
    (row,) = [f for f in table_rows(store) if f["perturbation"] != "clean"]
    assert (row["delta_f1_lo"], row["delta_f1_hi"]) == pytest.approx((st["lo"], st["hi"]))
    assert row["delta_f1_lo"] != -0.9 and row["bootstrap"] == 2000
    with Store(store) as st:
        st.db.execute("UPDATE cells SET params = json_set(params, '$.identity.bootstrap', 3000)")
        assert replicates(st.rows()) == 3000


def test_pooled_contrast_says_which_targets_and_baselines_it_pooled(tmp_path):
    """A target without a baseline was dropped from the pooled contrast while the row showed the
    ΔF1's target count and only the last target's baseline."""
    from xner.experiments.report import _pooled_cell

    rng = np.random.default_rng(1)
    m = 120
    store = tmp_path / "s.sqlite"
    with Store(store) as st:
        for target, setups in (("fa", [("en",), ("en", "ru")]), ("ms", [("en", "ru")])):
            gold = rng.integers(1, 4, size=(m, 3))
            for sources in setups:
                ident = {"data": {"test": target * 32, "split": {}}, "train_seed": 0, "distill": {"x": 1}}
                base = {"model": "tiny", "model_id": "init", "substituted_for": None, "setting": "student",
                        "sources_spec": "related:" + str(len(sources)), "sources": list(sources), "target": target,
                        "weighting": "uniform", "train_seed": 0, "identity": ident}
                tp = np.minimum(gold, rng.integers(1, 4, size=(m, 3)))
                clean = np.stack([tp, gold, gold], axis=-1)
                pert = np.stack([np.maximum(tp - (rng.random((m, 3)) < 0.1), 0), gold, gold], axis=-1)
                st.put({**base, "perturbation": "clean", "rate": None, "seed": None, "perturbation_params": None},
                       {"f1": 0.5}, pack_counts(clean))
                st.put({**base, "perturbation": "char_noise", "rate": "default", "seed": 0,
                        "perturbation_params": {"rate": 0.3}}, {"f1": 0.4, "delta_f1": -0.1}, pack_counts(pert))
        rows, blobs = st.rows(), st.counts()
    an = Analysis(rows, blobs, 200)
    pr = ("char_noise", "default")
    (two,) = [s for s in an.settings() if "related:2" in s[1]]
    d, c = an.pooled(two, pr), an.pooled(two, pr, "student1")
    assert d["targets"] == 2 and c["targets"] == 1
    assert c["pooled_targets"] == ["fa"] and c["left_out"] == {"ms": "no baseline"}
    assert c["baselines"] == {"fa": "student related:1 (uniform)"}
    assert "1 of 2 targets (fa; left out ms: no baseline)" in _pooled_cell(c, d).md


def test_the_studys_overlap_measures_lead_the_tables():
    """cells.csv, the clean-F1 table and the correlations showed xner's word-only measures where the
    report says the study's."""
    from xner.experiments.results import COLUMNS, OVERLAP, _flat

    study = ["entity_token_tag_overlap", "shared_chunk_share_unique", "context_overlap"]
    assert list(OVERLAP[:3]) == study and "entity_token_overlap" in OVERLAP[3:]
    assert COLUMNS.index("entity_token_tag_overlap") < COLUMNS.index("entity_token_overlap")
    row = {"key": "k", "f1": 0.5, "overlap": {"entity_token_tag_overlap": 0.31, "context_overlap": 0.4},
           "params": {"model": "m", "setting": "native", "sources": ["fa"], "target": "fa", "perturbation": "clean",
                      "rate": None, "seed": None, "identity": {}}}
    flat = _flat(row, {})
    assert flat["entity_token_tag_overlap"] == 0.31 and flat["context_overlap"] == 0.4
