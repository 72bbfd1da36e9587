"""One condition key (``experiments.identity.condition_key``) for every report table: two cells
that differ in any field of their condition, or in the data they saw or were tested on, never share
a row; cells that differ only in the training seed or the perturbation do."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from xner.experiments.analysis import Analysis
from xner.experiments.identity import CELL_FIELDS, condition_key

ROOT = Path(__file__).resolve().parent.parent

BASE = {"model": "enc", "setting": "student", "sources_spec": "related:3", "sources": ["nl", "de", "en"],
        "target": "sco", "weighting": "uniform", "train_seed": 0, "label": "student related K=3",
        "budget": 2000, "teachers": 2, "lapt": True, "perturbation": "clean", "rate": None, "seed": None,
        "model_id": "init",
        "identity": {"model": {"spec": {"arch": "bert"}}, "train": {"steps": 120}, "train_seed": 0,
                     "data": {"source": "wikiann", "split": {"scheme": "study"}, "material": {"nl": "m1"},
                              "material_base": {"nl": "b1"}, "distilled_on": "u1", "test": "t1"},
                     "teachers": [{"lang": "nl", "seed": 0, "sentences": 666, "sha256": "s1"}]}}

CHANGES = {
    "model": "xlmr", "setting": "joint", "sources_spec": "mixed:3", "sources": ["nl", "de", "id"], "target": "oc",
    "weighting": "langid", "label": "student mixed K=3", "budget": 666, "teachers": 3, "lapt": False,
}
IDENTITY_CHANGES = {
    ("data", "test"): "t2", ("data", "distilled_on"): "u2",
    ("data", "source"): "other", ("data", "split"): {"scheme": "standard"}, ("train",): {"steps": 240},
    ("model",): {"spec": {"arch": "xlmr"}},
    ("teachers",): [{"lang": "nl", "seed": 0, "sentences": 500, "sha256": "s1"}],
    ("data", "material_base"): {"nl": "b2"},
}


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_every_shown_field_separates_conditions(field):
    p = {**BASE, field: CHANGES[field]}
    assert condition_key(p) != condition_key(BASE)


@pytest.mark.parametrize("path", sorted(IDENTITY_CHANGES), ids=lambda p: ".".join(p))
def test_data_fingerprints_and_settings_separate_conditions(path):
    p = copy.deepcopy(BASE)
    d = p["identity"]
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = IDENTITY_CHANGES[path]
    assert condition_key(p) != condition_key(BASE)


def test_seed_and_perturbation_do_not():
    """A budget or ensemble student's teachers follow the training seed (their seeds, the seeded parts they
    train on, so the parts' fingerprints): replicates of one condition, one report row (each training seed
    was a row of its own)."""
    p = copy.deepcopy({**BASE, "train_seed": 2, "perturbation": "char_noise", "rate": 0.3, "seed": 1,
                       "perturbation_params": {"rate": 0.3}})
    p["identity"]["train_seed"] = 2
    p["identity"]["teachers"] = [{"lang": "nl", "seed": 2000, "sentences": 666, "sha256": "s9"}]
    p["identity"]["data"]["material"] = {"nl": "m9"}  # the union of the seed's parts
    assert condition_key(p) == condition_key(BASE)


def test_material_separates_conditions_without_parts():
    p = copy.deepcopy(BASE)
    for q in (p, base := copy.deepcopy(BASE)):
        q["identity"]["data"].pop("material_base")
        q["identity"].pop("teachers")
    p["identity"]["data"]["material"] = {"nl": "m2"}
    assert condition_key(p) != condition_key(base)


def test_model_against_model_drops_only_the_model():
    p = copy.deepcopy(BASE)
    p["model"] = "random"
    p["identity"]["model"] = {"spec": {"arch": "bert", "init": "random"}}
    assert condition_key(p, drop=("model",)) == condition_key(BASE, drop=("model",))
    p["identity"]["data"]["test"] = "t2"
    assert condition_key(p, drop=("model",)) != condition_key(BASE, drop=("model",))


def test_analysis_keeps_cells_of_corrected_data_apart():
    """A data folder corrected in place between two runs: the cells before and after share every name
    but their test fingerprint; the report had one condition (cells doubled, seeds the same)."""
    rows = []
    for test in ("t1", "t2"):
        for seed in (0, 1):
            p = copy.deepcopy(BASE)
            p["identity"]["data"]["test"] = test
            p["train_seed"] = seed
            rows.append({"key": f"{test}-{seed}", "params": p, "f1": 0.5})
    an = Analysis(rows, {}, n_boot=10)
    assert len(an.conds) == 2 and all(len(c.clean) == 2 for c in an.conds)


def test_every_grouping_in_the_report_uses_the_condition_key():
    """A report table that groups cells by a hand-built tuple of some params drops fields: the tables
    build their rows from Analysis (condition_key) or call condition_key themselves."""
    for name in ("analysis.py", "models.py"):
        assert "condition_key(" in (ROOT / "experiments" / name).read_text(), name
    for f in sorted((ROOT / "experiments").glob("*.py")):
        text = f.read_text()
        assert 'where = (p["setting"]' not in text, f"{f.name} groups by a partial key"
    assert "perturbation" in CELL_FIELDS


def test_a_contrast_takes_its_baseline_from_its_own_variant():
    """Two runs of one config with different training steps in one store (report --run all): native of
    the first run was contrasted with the zero-shot model of the second (the most recent)."""
    rows = []
    for steps, run, shift in ((5, 1, 0.0), (7, 2, 0.05)):
        for setting, delta in (("native", 0.011), ("zero-shot", 0.020 + shift)):
            ident = {"model": {"spec": {"arch": "bert"}}, "train": {"steps": steps}, "train_seed": 0,
                     "data": {"source": "w", "split": {}, "material": {"x": setting}, "test": "t1"}}
            base = {"model": "tiny", "setting": setting, "sources_spec": "" if setting == "native" else "pair",
                    "sources": ["fa"] if setting == "native" else ["ar"], "target": "fa", "weighting": "",
                    "train_seed": 0, "model_id": "init", "identity": ident}
            rows.append({"key": f"{setting}{steps}c", "run": run, "f1": 0.5,
                         "params": {**base, "perturbation": "clean", "rate": None, "seed": None}})
            rows.append({"key": f"{setting}{steps}p", "run": run, "f1": 0.5 + delta, "delta_f1": delta,
                         "params": {**base, "perturbation": "char_noise", "rate": "default", "seed": 0}})
    an = Analysis(rows, {}, n_boot=10)
    for c in an.conds:
        if c.kind == "native":
            con = an.contrast(c, "zero-shot", ("char_noise", "default"))
            own = 0.011 - (0.020 if "5" in next(iter(c.clean.values()))["key"] else 0.070)
            assert con["value"] == pytest.approx(own)
        else:
            assert an.baseline(c, "zero-shot") is None  # each zero-shot model is its own run's baseline


def test_runs_whose_targets_differ_do_not_pair():
    """Two runs of one config with different targets: their training texts differ (each drops its own
    targets' test text), so a native model of one run must not take the other run's zero-shot model as
    its baseline; the held-out targets are part of the split's identity."""
    rows = []
    for held, run, delta in ((["fa"], 1, 0.020), (["fa", "ms"], 2, 0.070)):
        for setting, d in (("native", 0.011), ("zero-shot", delta)):
            ident = {"model": {"spec": {"arch": "bert"}}, "train": {"steps": 5}, "train_seed": 0,
                     "data": {"source": "w", "split": {"scheme": "standard", "heldout_of": held},
                              "material": {"x": setting + str(run)}, "test": "t1"}}
            base = {"model": "tiny", "setting": setting, "sources_spec": "" if setting == "native" else "pair",
                    "sources": ["fa"] if setting == "native" else ["ar"], "target": "fa", "weighting": "",
                    "train_seed": 0, "model_id": "init", "identity": ident}
            rows.append({"key": f"{setting}{run}c", "run": run, "f1": 0.5,
                         "params": {**base, "perturbation": "clean", "rate": None, "seed": None}})
            rows.append({"key": f"{setting}{run}p", "run": run, "f1": 0.5 + d, "delta_f1": d,
                         "params": {**base, "perturbation": "char_noise", "rate": "default", "seed": 0}})
    an = Analysis(rows, {}, n_boot=10)
    for c in an.conds:
        if c.kind == "native":
            own = 0.011 - (0.020 if next(iter(c.clean.values()))["run"] == 1 else 0.070)
            assert an.contrast(c, "zero-shot", ("char_noise", "default"))["value"] == pytest.approx(own)
