"""The set-level regression of the source-diversity experiment (experiments/setregression.py) and its
report section (experiments/report_sets.py): identification, which sets enter, floors, Holm's family,
units; and the plan's fallback note, the pool's languages and the langid weights' spread."""

from __future__ import annotations

import numpy as np
import pytest

from xner.experiments import setregression as sr
from xner.experiments.analysis import Analysis, Cond
from xner.experiments.sourcesets import POOLS, draw_sets, set_properties

EP = {"perturbations": ["char_noise"], "rate": 0.3, "measure": "relative_drop"}


class FakeAnalysis:
    """What set_records reads of an Analysis: conditions, the pair baseline, the floor."""

    floor_f1 = 0.2
    floor = Analysis.floor

    def __init__(self):
        self.conds, self.values, self.pairs = [], {}, {}

    def add(self, model, target, label, sources, per_seed, clean_f1=0.5, weighting="uniform", props=None,
            source_set=True):
        c = Cond(model, "student", "", tuple(sources), target, weighting, "", label)
        params = {"source_set": {"index": len(self.conds)}} if source_set else {}
        c.clean = {s: {"f1": clean_f1, "params": params, **({"set_properties": props} if props else {})}
                   for s in per_seed}
        self.conds.append(c)
        self.values[id(c)] = per_seed
        if not source_set:
            self.pairs[(model, target)] = c
        return c

    def baseline(self, c, which):
        return self.pairs.get((c.model, c.target))


@pytest.fixture
def units(monkeypatch):
    monkeypatch.setattr(sr, "endpoint_units", lambda an, c, ep: {s: (v, None) for s, v in an.values[id(c)].items()})


def _shipped(target: str, slope_k: float = 0.03, seed: int = 0, noise: float = 0.004) -> list[dict]:
    """Records of every K=2 and 8 K=3 sets of the shipped pool for a target, with their real properties
    and a planted effect of K (none of diversity)."""
    rng = np.random.default_rng(seed)
    recs = []
    for k in (2, 3):
        for s in draw_sets(target, k, 8, POOLS["offline-hrl"], True, 2027):
            p = set_properties(s, target)
            recs.append({"target": target, **p, "clean_f1": rng.uniform(0.3, 0.6),
                         "y": slope_k * k + rng.normal(0, noise), "y_seeds": [0.0], "seeds": 1})
    return recs


def test_an_aliased_regressor_is_left_out_by_name_and_k_is_recovered():
    """fa: every set holds ar (Arabic script) and the rest are Latin, so the script share is 1/K; ms:
    the genetic distance to Malay is (K-1)/K (id is at 0, the rest at 1)."""
    for target, aliased in (("fa", "script_share"), ("fa-latn", "script_share"), ("ms", "distance")):
        fit = sr._fit_block(_shipped(target), False, 300, 300, 0)
        why = fit["dropped"][aliased]
        assert why.startswith("aliased") and "K" in why and target in why, (target, fit["dropped"])
        assert aliased not in fit["slopes"]
        k = fit["slopes"]["k"]
        assert k["lo"] < 0.03 < k["hi"] and k["p"] < 0.05  # the planted effect of K, found
        assert k["df"] == fit["sets"] - fit["rank"] and fit["rank"] == 1 + len(sr.REGRESSORS) - 1
        d = fit["slopes"]["diversity"]
        assert d["value"] is not None and d["lo"] < 0 < d["hi"]  # none of diversity, none claimed


def test_a_primary_that_is_not_identified_keeps_its_row_not_computed():
    rng = np.random.default_rng(1)
    recs = [{"target": "af", "k": k, "diversity": 0.3 + 0.05 * k, "distance": rng.uniform(0.4, 0.9),
             "script_share": rng.uniform(0.3, 1), "clean_f1": rng.uniform(0.3, 0.6), "y": rng.normal(0, 0.01)}
            for k in (2, 3) * 8]
    fit = sr._fit_block(recs, False, 50, 50, 0)
    assert fit["dropped"]["diversity"].startswith("not identified") and "K" in fit["dropped"]["diversity"]
    d = fit["slopes"]["diversity"]
    assert d["value"] is None and d["p"] is None and d["not_computed"]  # no p-value without its fit
    assert fit["slopes"]["k"]["p"] is not None


def test_langid_students_stay_out_of_the_regression(units):
    an = FakeAnalysis()
    an.add("m", "af", "pair K=1", ["nl"], {0: 0.0}, source_set=False)
    for i, s in enumerate(draw_sets("af", 3, 4, POOLS["offline-hrl"], True, 1)):
        an.add("m", "af", f"random K=3 #{i + 1}", s, {0: 0.01 * i})
    for i, s in enumerate(draw_sets("af", 3, 2, POOLS["offline-hrl"], True, 1)):
        an.add("m", "af", f"random K=3 langid #{i + 1}", s, {0: 0.5}, weighting="langid")
    labels = [r["label"] for r in sr.set_records(an, {"endpoint": EP})]
    assert labels == [f"random K=3 #{i}" for i in (1, 2, 3, 4)]


def _two_targets(an: FakeAnalysis, model: str = "m", floor_set: bool = False) -> None:
    """af and ms with stored properties whose diversity is constant within a target; y = 0.03 per source."""
    rng = np.random.default_rng(2)
    for t, pair, div in (("af", "nl", 0.4), ("ms", "id", 0.5)):
        an.add(model, t, "pair K=1", [pair], {0: 0.0}, source_set=False)
        for i in range(10):
            k = 2 + i % 2
            props = {"k": k, "diversity": div, "distance": rng.uniform(0.4, 0.9), "script_share": 1.0,
                     "genetic_diversity": rng.uniform(0.5, 1.0)}
            f1 = 0.1 if floor_set and t == "af" and i == 0 else 0.5
            an.add(model, t, f"random #{i}", [pair, "x"], {0: 0.03 * k + rng.normal(0, 0.001)}, clean_f1=f1,
                   props=props)


def test_holm_counts_a_primary_that_cannot_be_computed(units):
    an = FakeAnalysis()
    _two_targets(an)
    reg = sr.regression(an, {"endpoint": EP}, 200, 200)
    pooled = reg["models"]["m"]["pooled"]
    d, k = pooled["slopes"]["diversity"], pooled["slopes"]["k"]
    assert d["value"] is None and "does not vary" in d["not_computed"] and d["family"] == "primary (Holm)"
    assert k["p_holm"] == pytest.approx(min(1.0, 2 * k["p"])) and k["family_size"] == 2
    # one target: its own K and diversity slopes are the primaries
    one = FakeAnalysis()
    one.add("m", "af", "pair K=1", ["nl"], {0: 0.0}, source_set=False)
    rng = np.random.default_rng(5)
    for i, s in enumerate(draw_sets("af", 2, 8, POOLS["offline-hrl"], True, 1)
                          + draw_sets("af", 3, 8, POOLS["offline-hrl"], True, 1)):
        one.add("m", "af", f"random #{i}", s, {0: 0.03 * len(s) + rng.normal(0, 0.003)},
                clean_f1=rng.uniform(0.3, 0.6))
    block = sr.regression(one, {"endpoint": EP}, 100, 100)["models"]["m"]["per_target"]["af"]
    assert block["primary"] and block["slopes"]["k"].get("p_holm") is not None
    assert block["slopes"]["distance"].get("q") is not None and "p_holm" not in block["slopes"]["distance"]


def test_a_set_missing_a_value_is_dropped_not_the_regressor():
    recs = _shipped("af")
    recs[0]["distance"] = None
    fit = sr._fit_block(recs, False, 50, 50, 0)
    assert "distance" not in fit["dropped"] and "distance" in fit["slopes"]
    assert fit["missing_value_sets"] == 1 and fit["sets"] == len(recs) - 1


def test_floored_sets_are_flagged_and_left_out_of_the_fit(units):
    an = FakeAnalysis()
    _two_targets(an, floor_set=True)
    reg = sr.regression(an, {"endpoint": EP}, 50, 50)
    recs = reg["records"]
    assert sum(bool(r["floor"]) for r in recs) == 1 and "clean F1 10.0 < 20" in next(r["floor"] for r in recs
                                                                                    if r["floor"])
    per = reg["models"]["m"]["per_target"]
    assert per["af"]["floored"] == 1 and per["af"]["sets"] == 9 and per["ms"]["floored"] == 0
    assert reg["models"]["m"]["pooled"]["floored"] == 1
    # a pair student at the floor takes every set of its target out
    an2 = FakeAnalysis()
    _two_targets(an2)
    an2.pairs[("m", "ms")].clean[0]["f1"] = 0.05
    per2 = sr.regression(an2, {"endpoint": EP}, 50, 50)["models"]["m"]["per_target"]
    assert per2["ms"]["floored"] == 10 and per2["ms"]["slopes"]["k"]["value"] is None


def test_diversity_slope_is_per_tenth_with_a_genetic_sensitivity_row():
    rng = np.random.default_rng(3)
    recs = []
    for t in ("af", "ms", "fa"):
        for _ in range(12):
            div = rng.uniform(0.3, 0.7)
            recs.append({"target": t, "k": int(rng.integers(2, 4)), "diversity": div, "distance": rng.uniform(0.4, 0.9),
                         "script_share": 1.0, "clean_f1": rng.uniform(0.3, 0.6), "genetic_diversity": rng.uniform(0.5, 1),
                         "y": 0.2 * div + rng.normal(0, 0.005)})
    b = sr._block(recs, True, 200, 200, 0)
    d = b["slopes"]["diversity"]
    assert d["per"] == 0.1 and d["lo"] < 0.02 < d["hi"]  # 0.2 per unit = 0.02 per 0.1 of the index
    g = b["sensitivity"]["genetic"]["slopes"]["genetic_diversity"]
    assert g["sensitivity"] == "genetic diversity in place of the diversity index" and g["value"] is not None
    assert "genetic_diversity" not in b["slopes"]


def test_report_prints_slopes_and_mde_in_points(units, tmp_path):
    from xner.experiments.report_sets import sets_section
    from xner.experiments.reportdoc import Image, Para, Table, num

    an = FakeAnalysis()
    _two_targets(an)
    for c in an.conds:  # a second training seed: replicates inside each set
        v = an.values[id(c)][0]
        an.values[id(c)] = {0: v, 1: v + (0.004 if c.title != "pair K=1" else 0.0)}
        c.clean[1] = c.clean[0]
    sec = sets_section(an, {"endpoint": EP}, tmp_path, 200)
    table = next(b for b in sec.blocks if isinstance(b, Table))
    row = next(r for r in table.rows if r[1].text.startswith("pooled") and r[4].text.startswith("K (sources)"))
    assert row[5].text == "+3.0" and row[5].ci.startswith("[+")  # +0.03 per source, in points
    reg = sr.regression(an, {"endpoint": EP}, 200, 200)
    mde = reg["models"]["m"]["pooled"]["slopes"]["k"]["mde"]
    assert row[8].text == num(mde) and float(row[8].text) > 0.05  # points, not a fraction
    assert row[3].text == "2 (SD 0.3)"  # two seeds per set, averaged; their spread in points
    text = " ".join(b.text for b in sec.blocks if isinstance(b, Para))
    assert "conditional on these teachers" in text and "averaged over the seeds" in text and "per 0.1" in text
    img = next(b for b in sec.blocks if isinstance(b, Image))
    assert "marginal fit" in img.alt and "not the adjusted slope" in img.alt
    assert (tmp_path / "slopes.csv").exists() and (tmp_path / "sets_vs_diversity.png").exists()
    # a primary that is not computed keeps a row in the table
    assert any(r[1].text.startswith("pooled") and r[4].text.startswith("diversity index (per 0.1) (primary)")
               and r[5].text.startswith("not computed") for r in table.rows)


def test_unknown_pool_languages_are_refused():
    from xner.errors import XnerError
    from xner.experiments import load_config

    cfg = {"name": "x", "targets": ["fa"], "perturbations": ["char_noise"], "models": {"tiny": {"init": {
        "arch": "bert", "hidden": 32, "layers": 1, "heads": 2, "max_length": 64, "vocab_size": 400}}},
        "settings": [{"kind": "student", "sources": "pair"},
                     {"kind": "student", "label": "r", "sources": "random:2", "sets": 2,
                      "pool": ["en", "xx", "qq"]}]}
    with pytest.raises(XnerError, match="unknown language code.*'xx', 'qq'"):
        load_config(cfg)


def test_plan_says_when_a_fallback_stands_in_for_a_hub_model(data_dir, monkeypatch):
    from xner.experiments.planview import render_plan, sweep_plan

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    init = {"arch": "bert", "hidden": 32, "layers": 1, "heads": 2, "max_length": 64, "vocab_size": 400}
    cfg = {"name": "fb", "targets": ["fa"], "perturbations": ["char_noise"], "test_max_sentences": 20,
           "train_max_sentences": 60, "models": {"mb": {"hub": "bert-base-multilingual-cased",
                                                        "fallback": {"init": init}}},
           "train": {"preset": "scratch", "max_steps": 3}, "distill": {"preset": "student-scratch", "max_steps": 3},
           "settings": [{"kind": "student", "sources": "pair"}]}
    p = sweep_plan(cfg, str(data_dir))
    assert p["fallback"] is True and p["resolved_models"]["mb"] == {
        "fallback": True, "substitutes": "bert-base-multilingual-cased", "kind": "init"}
    text = render_plan(p)
    assert "NOTE: the hub is not reachable: mb's offline fallback (for bert-base-multilingual-cased)" in text
    assert "for the fallback model(s), not the hub model(s)" in text


def test_langid_weights_keep_their_spread_over_sentences():
    from xner.training.distill import mix_weights

    p = np.array([[0.9, 0.1], [0.5, 0.5], [0.1, 0.9], [0.7, 0.3]])
    w, info = mix_weights("langid", 2, 4, p)
    assert np.allclose(w, p.mean(0)) and info["applied_sd"] == [0.0, 0.0]  # set level: one weight per teacher
    assert info["weights_sd"] == pytest.approx(p.std(0).round(4).tolist()) and info["weights_sd"][0] > 0.2
    w2, info2 = mix_weights("langid-sentence", 2, 4, p)
    assert np.allclose(w2, p) and info2["weights_sd"] == info2["applied_sd"]
    _, u = mix_weights("uniform", 3, 4)
    assert u["weights_mean"] == [0.3333] * 3 and u["weights_sd"] == [0.0] * 3


# -- second review: K pooled by random effects, clean F1 out of the primaries, MDE and df, reading, plot, docs

TARGETS6 = ("af", "ast", "ms", "fa", "hi", "fa-latn")


def _teacher_records(rng, targets=TARGETS6, slope_k=0.0, slope_div=0.0, teacher_sd=0.01, noise=0.001,
                     model: str = "m") -> list[dict]:
    """Every K=2 and 8 K=3 shipped sets per target; each set's contrast carries the mean of its
    teachers' offsets (one per target, language and K: the pair teacher on N/2 is shared by every K=2
    set of a target, the one on N/3 by every K=3 set), a planted K and diversity slope and noise."""
    recs, teach = [], {}
    for t in targets:
        for k in (2, 3):
            for s in draw_sets(t, k, 8, POOLS["offline-hrl"], True, 2027):
                p = set_properties(s, t)
                off = np.mean([teach.setdefault((t, lang, k), rng.normal(0, teacher_sd)) for lang in s])
                y = slope_k * k + slope_div * p["diversity"] / 0.1 + off + rng.normal(0, noise)
                recs.append({"model": model, "target": t, **p, "clean_f1": rng.uniform(0.3, 0.6), "y": y,
                             "y_seeds": [y], "seeds": 1, "floor": "", "label": f"{t} {s}"})
    return recs


def _regress(monkeypatch, recs: list[dict], n: int = 30) -> dict:
    monkeypatch.setattr(sr, "set_records", lambda an, cfg: recs)
    return sr.regression(None, {}, n, n)


def test_pooled_k_pools_the_targets_k_slopes_by_random_effects(monkeypatch):
    """Within a target every K=2 set shares one pair teacher and every K=3 set another, so their
    difference is collinear with K: a fixed-effects K test over sets cannot see it.  Pooled by random
    effects over the targets' slopes it is between-target heterogeneity, and the test stays nominal."""
    rng = np.random.default_rng(0)
    reg = _regress(monkeypatch, _teacher_records(rng))
    k = reg["models"]["m"]["pooled"]["slopes"]["k"]
    assert k["method"].startswith("random effects") and k["df"] == len(TARGETS6) - 1
    assert k["targets"] == sorted(TARGETS6) and k["family"] == "primary (Holm)" and k["tau2"] > 0
    from xner.experiments.inference import mde
    assert k["mde"] == pytest.approx(mde(k["se"], k["df"], 0.05 / 2))  # from the random-effects SE
    assert reg["models"]["m"]["pooled"]["slopes"]["diversity"]["method"].startswith("OLS")
    # the size of the K test under no effect of K, with teacher noise 10x the sets' own noise
    rej = 0
    for _ in range(150):
        recs = _teacher_records(rng)
        per = {t: sr.fit_block([r for r in recs if r["target"] == t], False, 0, 0, 0, sr.REGRESSORS, only=("k",))
               for t in TARGETS6}
        rej += sr.pool_slope("k", {t: b["slopes"]["k"] for t, b in per.items()})["p"] < 0.05
    assert rej / 150 <= 0.10  # fixed effects over sets: nearly always "significant"


def test_pooled_k_needs_two_targets_with_a_slope_and_one_target_is_conditional(monkeypatch):
    rng = np.random.default_rng(1)
    recs = _teacher_records(rng, ("af", "ms"), slope_k=0.03)
    for r in recs:  # ms: only its K=3 sets, so no K slope there
        r["floor"] = "pair: clean F1 10 < 20" if r["target"] == "ms" and r["k"] == 2 else ""
    reg = _regress(monkeypatch, recs)
    k = reg["models"]["m"]["pooled"]["slopes"]["k"]
    assert k["value"] is None and "only af has" in k["not_computed"] and "ms" in k["left_out"]
    assert k["family"] == "primary (Holm)" and k["family_size"] == 2 and k["verdict"] == "not computed"
    d = reg["models"]["m"]["pooled"]["slopes"]["diversity"]
    assert d["p_holm"] == pytest.approx(min(1.0, 2 * d["p"]))  # K keeps its place in the family
    one = _regress(monkeypatch, _teacher_records(rng, ("af",), slope_k=0.03))
    k1 = one["models"]["m"]["per_target"]["af"]["slopes"]["k"]
    assert "conditional on af's two pair teachers" in k1["conditional"] and k1.get("p_holm") is not None


def test_primary_fits_leave_clean_f1_out_and_a_sensitivity_fit_adds_it(monkeypatch):
    """The set's student produces its clean F1: a set with more sources has a higher clean F1 *and*
    keeps more, so controlling for clean F1 takes K's effect away."""
    rng = np.random.default_rng(2)
    recs = _teacher_records(rng, ("af", "ast", "ms"), slope_k=0.03, teacher_sd=0.0, noise=0.002)
    for r in recs:
        r["clean_f1"] = 0.3 + 0.1 * r["k"] + rng.normal(0, 0.002)
    reg = _regress(monkeypatch, recs)
    pooled = reg["models"]["m"]["pooled"]
    assert "clean_f1" not in pooled["slopes"] and "clean_f1" not in pooled["dropped"]
    k = pooled["slopes"]["k"]
    assert k["lo"] < 0.03 < k["hi"] and k["verdict"] == "supported: positive"
    sens = pooled["sensitivity"]["clean_f1"]
    assert sens["label"] == "with the set student's clean F1" and "clean_f1" in sens["slopes"]
    assert all(s["family"] == "secondary (BH)" for s in sens["slopes"].values())


def test_mde_from_the_classical_se_and_a_fit_needs_four_df(monkeypatch):
    from xner.experiments.inference import mde

    rng = np.random.default_rng(3)
    base = _teacher_records(rng, ("af",), slope_k=0.03, teacher_sd=0.0, noise=0.005)
    mixed = [base[i] for j in range(8) for i in (j, 8 + j)]  # K = 2, 3, 2, 3, ...
    p = 1 + len(sr.REGRESSORS)  # intercept and four slopes, all identified in af
    small = sr._fit_block(mixed[:p + 3], False, 50, 50, 0, sr.REGRESSORS)
    assert small["rank"] == p and small["note"].startswith("too few sets") and "3 df" in small["note"]
    assert small["slopes"]["k"]["value"] is None and set(small["slopes"]) == set(sr.PRIMARY)
    ok = sr._fit_block(mixed[:p + 4], False, 50, 50, 0, sr.REGRESSORS)
    assert ok["rank"] == p and ok["slopes"]["k"]["df"] == 4 and "note" not in ok
    # the MDE of a primary comes from its classical SE, not the heavy-tailed bootstrap SE
    reg = _regress(monkeypatch, base, 100)
    d = reg["models"]["m"]["per_target"]["af"]["slopes"]["diversity"]
    assert d["mde"] == pytest.approx(mde(d["se"], d["df"], 0.05 / 2)) and d["boot_se"] != d["se"]
    assert d["replicates"] <= d["replicates_drawn"] == 100


def test_the_percentile_interval_is_scaled_for_few_sets():
    from xner.experiments.setfit import percentile_interval

    boot = np.random.default_rng(4).normal(1.0, 0.1, 4000)
    lo, hi = percentile_interval(boot, 1.0, 10, 5)
    raw = np.percentile(boot, [2.5, 97.5])
    assert hi - lo == pytest.approx(np.sqrt(2) * (raw[1] - raw[0]))


def test_reading_names_the_set_primaries_and_the_table_their_verdicts(units, tmp_path):
    from xner.experiments.report import reading
    from xner.experiments.report_sets import sets_section
    from xner.experiments.reportdoc import Table

    an = FakeAnalysis()
    _two_targets(an)
    reg = sr.regression(an, {"endpoint": EP}, 100, 100)
    text = reading(an, {"declared": [], "set_regression": reg})
    assert "no contrast was declared" not in text and "pooled over targets have" not in text
    assert "K (per source) +3.0" in text and "supported: positive" in text and "random effects over 2 targets" in text
    assert "diversity index (per 0.1): not computed" in text
    sec = sets_section(an, {"endpoint": EP}, tmp_path, 100)
    table = next(b for b in sec.blocks if isinstance(b, Table))
    col = table.header.index("verdict")
    row = next(r for r in table.rows if r[1].text.startswith("pooled") and r[4].text.startswith("K (sources)"))
    assert row[col].text == "supported: positive" and "random effects" in row[4].text
    assert "bootstrap kept" in table.header


def test_the_plot_has_one_colour_per_model(monkeypatch, tmp_path):
    import matplotlib.figure

    from xner.experiments import report_sets

    rng = np.random.default_rng(5)
    recs = _teacher_records(rng, ("af",), model="small") + _teacher_records(rng, ("af",), model="large")
    figs = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda self, *a, **k: figs.append(self))
    report_sets._plot(recs, tmp_path)
    ax = figs[0].axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lb.startswith("small, K=2") for lb in labels) and any(lb.startswith("large, K=2") for lb in labels)
    colours = {tuple(np.round(c.get_facecolor()[0], 3)) for c in ax.collections}
    assert len(colours) == 2 and "one colour per model" in figs[0]._suptitle.get_text()


def test_sensitivity_rows_count_their_own_sets_and_a_lone_target_is_labelled(monkeypatch, tmp_path):
    from xner.experiments.report_sets import sets_section
    from xner.experiments.reportdoc import Table

    rng = np.random.default_rng(6)
    recs = _teacher_records(rng, ("af", "ms"), slope_k=0.03)
    recs[0]["genetic_diversity"] = None  # missing only for the genetic sensitivity fit
    for r in recs:
        if r["target"] == "ms":
            r["floor"] = "pair K=1: clean F1 12.0 < 20"
    monkeypatch.setattr(sr, "set_records", lambda an, cfg: recs)
    sec = sets_section(FakeAnalysis(), {"endpoint": EP}, tmp_path, 30)
    table = next(b for b in sec.blocks if isinstance(b, Table))
    rows = [r for r in table.rows if r[1].text.startswith("single-target fit: af")]
    assert rows and not any(r[1].text.startswith("pooled") for r in table.rows)
    main = next(r for r in rows if "sensitivity" not in r[1].text)
    gen = next(r for r in rows if "sensitivity: genetic" in r[1].text)
    assert main[2].text == "16" and gen[2].text == "15"  # af's 16 sets; one lacks the genetic diversity
    assert "1 set(s) missing a property value" in gen[-1].text and "missing" not in main[-1].text
    import csv
    with open(tmp_path / "slopes.csv") as f:
        slopes = list(csv.DictReader(f))
    k = next(s for s in slopes if s["slope_of"] == "k" and s["fit"] == "target af")
    assert k["unit"] == "fraction" and 0.01 < float(k["value"]) < 0.05  # 0.03 per source, as a fraction


def test_the_design_doc_states_the_decision_rule_as_the_code_runs_it():
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "experiments" / "diversity.md").read_text()
    text = " ".join(doc.split())
    assert "one family of 2 x models" in text and "two per model" not in text
    assert "apart from the declared contrasts' BH family" in text
    assert "random effects over the targets' K slopes" in text and "a difference between the N/2 and N/3" in text
    assert "with the set student's clean F1" in text and "any one training seed" in text
    assert f"{sr.MIN_DF} or more residual degrees of freedom" in text


def test_a_student_at_clean_f1_zero_is_counted_at_the_floor_not_lost(units):
    """A student with clean F1 0 has no relative drop (its seeds leave the endpoint's units): its set
    used to vanish from the records, the floor counts and sets.csv (4 hi sets of the diversity run)."""
    an = FakeAnalysis()
    _two_targets(an)
    zero = an.add("m", "af", "random #zero", ["nl", "x"], {0: 0.0}, clean_f1=0.0,
                  props={"k": 2, "diversity": 0.4, "distance": 0.5, "script_share": 1.0, "genetic_diversity": 0.6})
    an.values[id(zero)] = {}  # what endpoint_units gives a condition whose every seed has clean F1 0
    reg = sr.regression(an, {"endpoint": EP}, 50, 50)
    rec = next(r for r in reg["records"] if r["label"] == "random #zero")
    assert rec["y"] is None and rec["seeds"] == 0 and "clean F1 0.0 < 20" in rec["floor"]
    per = reg["models"]["m"]["per_target"]
    assert per["af"]["floored"] == 1 and per["af"]["sets"] == 10
    # a pair student at clean F1 0: every set of its target is kept and counted at the floor
    an2 = FakeAnalysis()
    _two_targets(an2)
    pair = an2.pairs[("m", "ms")]
    pair.clean[0]["f1"] = 0.0
    an2.values[id(pair)] = {}
    reg2 = sr.regression(an2, {"endpoint": EP}, 50, 50)
    assert sum(r["target"] == "ms" for r in reg2["records"]) == 10
    assert reg2["models"]["m"]["per_target"]["ms"]["floored"] == 10


def test_a_declared_contrast_keeps_a_target_at_clean_f1_zero_at_the_floor(monkeypatch):
    """A student with clean F1 0 has no relative drop: its target used to leave the declared contrast
    as "no cells", with no floor flag, so the pooled row could get a verdict it should not have."""
    from xner.experiments import contrasts as ct

    class An:
        floor_f1 = 0.2
        floor = Analysis.floor
        prs = []
        interval = "t"

        def __init__(self):
            self.conds = []

        def test_id(self, r):
            return "t:" + r["target"]

    an = An()
    vals = {}
    rng = np.random.default_rng(0)
    for t in ("ast", "ms", "hi"):
        for lab in ("ensemble K=3", "pair K=1"):
            c = Cond("m", "student", "", ("x",), t, "uniform", "", lab)
            f1 = 0.0 if (t == "hi" and lab == "pair K=1") else 0.4
            c.clean = {s: {"f1": f1, "params": {}, "target": t} for s in (0, 1, 2)}
            an.conds.append(c)
            vals[id(c)] = {} if f1 == 0.0 else {s: (float(rng.normal(0, 0.01)), None) for s in (0, 1, 2)}
    monkeypatch.setattr(ct, "endpoint_units", lambda an, c, ep: vals[id(c)])
    cfg = {"endpoint": EP, "contrasts": [{"a": "ensemble K=3", "b": "pair K=1", "primary": True}]}
    row = next(r for r in ct.declared_contrasts(an, cfg) if r["where"] == "endpoint")
    assert row["targets"] == ["ast", "ms"]
    assert "hi" in row["floor"] and "clean F1 0.0 < 20" in row["floor"]["hi"]
    assert ct.verdict(row["estimate"], row["floor"]) == "floor: no verdict"
