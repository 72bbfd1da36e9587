"""Findings of the adversarial review of the inference layer (issue 26), each reproduced by a test
that failed before its fix."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from test_declared_contrasts import CONFIG, _store, _tables
from test_inference import _experiment

from xner.cli import main
from xner.errors import XnerError
from xner.experiments import load_config
from xner.experiments.inference import mde, over_seeds


def test_two_training_seeds_still_cover():
    """With 2 seeds the Satterthwaite df (from the same S² as the SE) gave 87-90% coverage."""
    import test_inference as ti

    rng = np.random.default_rng(11)
    hits = {"delta": 0, "contrast": 0}
    n = 400
    old = ti.SEEDS
    ti.SEEDS = 2
    try:
        for _ in range(n):
            ex = _experiment(rng, 0.06, 0.03)
            for q in hits:
                e = over_seeds(ex[q][0])
                hits[q] += e.lo <= ex[f"true_{q}"][0] <= e.hi
    finally:
        ti.SEEDS = old
    assert min(hits.values()) / n >= 0.92, hits


def test_a_declared_contrast_never_pairs_two_runs_settings(tmp_path):
    store = tmp_path / "s.sqlite"
    _store(store, steps={"pair K=1": 400, "related K=2": 4000, "mixed K=2": 4000})
    _, t = _tables(store)
    row = next(r for r in t["declared"] if r["a"] == "related K=2" and r["b"] == "pair K=1" and r["where"] == "endpoint")
    assert row["estimate"]["value"] is None and all("different settings" in v for v in row["left_out"].values())
    assert row["verdict"].startswith("not computed")


def test_a_primary_contrast_that_cannot_be_computed_keeps_its_row_and_its_holm_place(tmp_path):
    store = tmp_path / "s.sqlite"
    _store(store, skip=("mixed K=2", "name_swap"))  # its endpoint lacks a perturbation
    _, t = _tables(store)
    prim = [r for r in t["declared"] if r["primary"]]
    assert len(prim) == 2 and all(r["estimate"]["family_size"] == 2 for r in prim if r["estimate"].get("value"))
    ok = next(r for r in prim if r["estimate"].get("value") is not None)
    assert ok["estimate"]["p_holm"] == pytest.approx(min(1.0, 2 * ok["estimate"]["p"]))


def test_a_label_that_names_two_settings_is_refused():
    base = load_config("diversity-legacy")
    cfg = {k: v for k, v in base.items() if k not in ("contrasts", "endpoint", "settings")}
    cfg["settings"] = [{"kind": "student", "sources": "pair", "label": "x"},
                       {"kind": "student", "sources": "related:2", "label": "x"}]
    with pytest.raises(XnerError, match="share the label"):
        load_config(cfg)
    cfg["settings"] = [{"kind": "zero-shot", "sources": "pair", "label": "pair"},
                       {"kind": "student", "sources": "pair", "label": "pair"},
                       {"kind": "student", "sources": "related:2", "label": "related"}]
    cfg["contrasts"] = [{"a": "related", "b": "pair"}]  # "zero-shot pair" and "student pair"
    with pytest.raises(XnerError, match="names 2 settings"):
        load_config(cfg)


def test_power_refuses_a_pilot_without_two_seeds(tmp_path, capsys):
    store = tmp_path / "pilot.sqlite"
    _store(store, seeds=(0,))
    cfg = tmp_path / "cfg.toml"
    lines = ['name = "pw"', 'targets = ["af", "ast", "ms"]', "[models.tiny]",
             'init = { arch = "bert", hidden = 32, layers = 1, heads = 2 }', "[endpoint]",
             'perturbations = ["char_noise", "name_swap"]', "rate = 0.3", "[[settings]]", 'kind = "student"',
             'label = "pair K=1"', 'sources = "pair"', "[[settings]]", 'kind = "student"', 'label = "related K=2"',
             'sources = "related:2"', "[[contrasts]]", 'a = "related K=2"', 'b = "pair K=1"', "primary = true"]
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["sweep", str(cfg), "--plan", "--power", str(store)]) == 2
    assert "one training seed" in capsys.readouterr().err


def test_the_endpoint_honours_the_edit_floor(tmp_path):
    store = tmp_path / "s.sqlite"
    _store(store, achieved=0.005)
    _, t = _tables(store)
    prim = next(r for r in t["declared"] if r["primary"] and r["estimate"].get("value") is not None)
    assert prim["floor"] and prim["verdict"] == "floor: no verdict"


def test_one_training_run_on_one_target_carries_no_verdict(tmp_path):
    store = tmp_path / "s.sqlite"
    _store(store, seeds=(0,), targets=["af"])
    _, t = _tables(store)
    prim = next(r for r in t["declared"] if r["primary"] and r["estimate"].get("value") is not None)
    assert prim["verdict"].startswith("one training run")
    fixed = next(r for r in t["pooled"])["delta"]
    assert fixed["seeds"] == 1


def test_a_collapsed_seed_is_flagged_and_its_undefined_replicates_left_out(tmp_path):
    store = tmp_path / "s.sqlite"
    _store(store, collapse=("mixed K=2", 1), targets=["af"])
    an, t = _tables(store)
    row = next(r for r in t["conditions"] if r["cond"].label == "student mixed K=2")
    assert "training seed 1" in row["delta"]["floor"]
    rel = row["delta"]["relative"]
    assert rel["value"] is not None and np.isfinite(rel["lo"])


@pytest.mark.parametrize("df", [1, 2, 3, 10])
def test_the_mde_has_the_power_it_states(df):
    m = mde(1.0, df)
    crit = stats.t.isf(0.025, df)
    assert stats.nct.sf(crit, df, m) + stats.nct.cdf(-crit, df, m) == pytest.approx(0.8, abs=1e-6)
    assert CONFIG["contrasts"]
