"""Robustness gates for CI: `xner evaluate --require NAME:METRIC>=X [--require-file F] [--junit out.xml]`
prints pass/fail per gate, exits 4 when one fails and writes JUnit XML that parses."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from xner.cli import main
from xner.errors import XnerError
from xner.robustness.gates import check, junit_xml, parse_gate


def _argv(onnx_dir, data_dir, *extra):
    return ["evaluate", "--model", str(onnx_dir), "--data-dir", str(data_dir), "--lang", "en",
            "--perturbations", "char_noise,name_swap", "--rates", "0.3", "--seeds", "0,1", "--bootstrap", "50",
            *extra]


def test_a_failing_gate_exits_4_and_writes_junit(onnx_dir, data_dir, tmp_path, capsys):
    junit = tmp_path / "gates.xml"
    rc = main(_argv(onnx_dir, data_dir, "--require", "char_noise:delta_f1>=0.5", "--require", "*:f1>=0.0",
                    "--junit", str(junit)))
    assert rc == 4
    err = capsys.readouterr().err
    assert "char_noise:delta_f1>=0.5" in err and "FAIL" in err and "1 of 2 gates passed" in err
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) == 2  # one test per gate, its rows in its output
    assert int(suite.get("failures")) == 1 and all(c.get("classname") for c in cases)
    bad = [c for c in cases if c.find("failure") is not None]
    assert bad[0].get("name") == "char_noise:delta_f1>=0.5" and "seed 1" in bad[0].find("failure").get("message")
    assert bad[0].find("system-out").text.count("char_noise @ 0.3 seed") == 2


def test_passing_gates_exit_0_and_a_file_of_gates(onnx_dir, data_dir, tmp_path, capsys):
    f = tmp_path / "gates.toml"
    # the tiny test model's clean F1 (about 0.1) is under the default floor of 0.2: these gates lower it
    f.write_text('[[require]]\nperturbation = "name_swap"\nmetric = "delta_f1_lo"\nop = ">="\nvalue = -1.0\n'
                 'floor = 0.05\n'
                 '[[require]]\nperturbation = "char_noise"\nmetric = "relative_drop"\nop = "<="\nvalue = 1.0\n'
                 "min_pass_rate = 0.5\nfloor = 0.05\n", encoding="utf-8")
    assert main(_argv(onnx_dir, data_dir, "--require-file", str(f), "--junit", str(tmp_path / "j.xml"))) == 0
    assert "2 of 2 gates passed" in capsys.readouterr().err
    assert ET.parse(tmp_path / "j.xml").getroot().find("testsuite").get("failures") == "0"


@pytest.mark.parametrize("extra", [["--require", "char_noise:delta>=0"], ["--require", "char_noise>=0"],
                                   ["--junit", "x.xml"], ["--require-file", "/nonexistent.toml"]])
def test_bad_gates_exit_2_before_any_work(onnx_dir, data_dir, extra, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(_argv(onnx_dir, data_dir, *extra)) == 2


def test_a_gate_that_matches_nothing_fails():
    g = parse_gate("no_such:f1>=0")
    (o,) = check([{"perturbation": "char_noise", "rate": 0.3, "seed": 0, "f1": 0.9}], [g])
    assert not o.passed and "no evaluated row matched" in junit_xml([o])
    with pytest.raises(XnerError):
        parse_gate("char_noise:f1=>0")


def _row(**kw):
    edit = {"eligible": 100, "tokens_edited": 30, "entities_edited": 10}
    return {"perturbation": "lowercase", "rate": 1.0, "seed": 0, "f1": 0.5, "clean_f1": 0.6, "delta_f1": -0.1,
            "relative_drop": 0.1667, "ci": {"delta_f1": [-0.12, -0.08]}, "edit": edit, **kw}


@pytest.mark.parametrize("metric", ["delta_f1>=-0.01", "delta_f1_lo>=-0.01", "relative_drop<=0.01"])
def test_a_model_at_the_floor_passes_no_drop_gate(metric):
    """Review of 29, F1: a model at F1 0 lost nothing, so every drop gate passed (relative drop 0.0)."""
    row = _row(f1=0.0, clean_f1=0.0, delta_f1=0.0, relative_drop=None, ci={"delta_f1": [0.0, 0.0]})
    (o,) = check([row], [parse_gate(f"lowercase:{metric}")])
    assert not o.passed and "floor" in o.cases[0]["why"] or "undefined" in o.cases[0]["why"]
    (o,) = check([_row(clean_f1=0.15, f1=0.15, delta_f1=0.0, relative_drop=0.0)], [parse_gate(f"lowercase:{metric}")])
    assert not o.passed and "floor" in o.cases[0]["why"]
    (o,) = check([_row(f1=0.6, delta_f1=0.0, relative_drop=0.0, ci={"delta_f1": [0.0, 0.0]})],
                 [parse_gate(f"lowercase:{metric}")])
    assert o.passed  # the same numbers off the floor pass


def test_a_perturbation_that_edited_nothing_or_was_skipped_does_not_pass():
    """Review of 29, F3: number_to_word on a text without numbers (0 eligible) and a skipped context_swap
    passed their gates."""
    unedited = _row(edit={"eligible": 0, "tokens_edited": 0, "entities_edited": 0}, delta_f1=0.0, relative_drop=0.0)
    (o,) = check([unedited], [parse_gate("lowercase:delta_f1>=-0.05")])
    assert not o.passed and "edited nothing" in o.cases[0]["why"]
    g = load_toml_gates('perturbation = "lowercase"\nmetric = "delta_f1"\nvalue = -0.05\nallow_unedited = true\n')
    assert check([unedited], g)[0].passed
    skipped = {"perturbation": "context_swap", "skipped": "needs train"}
    (o,) = check([_row(), skipped], [parse_gate("*:f1>=0")])
    assert not o.passed and len(o.cases) == 2 and "skipped" in o.cases[1]["why"]


def load_toml_gates(body: str, tmp=None):
    import tempfile
    from pathlib import Path

    from xner.robustness.gates import load_gates

    f = Path(tempfile.mkdtemp()) / "g.toml"
    f.write_text("[[require]]\n" + body, encoding="utf-8")
    return load_gates(f)


@pytest.mark.parametrize("body", [
    'perturbation = "lowercase"\nmetric = "relative_drop"\ncomparison = "<="\nvalue = 0.1\n',  # misspelt op
    'perturbation = "lowercase"\nmetric = "f1"\nvalue = 0.5\nmin_pass_rat = 0.5\n',
    'perturbation = "lowercase"\nmetric = "f1"\nvalue = true\n',
    'perturbation = "lowercase"\nmetric = "f1"\nvalue = 0.5\nmin_pass_rate = true\n'])
def test_a_gate_file_with_an_unknown_key_or_a_boolean_value_is_refused(body):
    """Review of 29, F9: unknown keys were ignored (a misspelt op turned <= into >=) and true read as 1.0."""
    with pytest.raises(XnerError):
        load_toml_gates(body)


def test_a_passing_gate_with_failing_cases_is_green_in_junit():
    """Review of 29, F8: min_pass_rate 0.5 passed (exit 0) while the JUnit file reported a failure."""
    rows = [_row(seed=0, f1=0.7), _row(seed=1, f1=0.3)]
    (o,) = check(rows, [parse_gate("lowercase:f1>=0.5")])
    o.gate = type(o.gate)(o.gate.perturbation, o.gate.metric, o.gate.op, o.gate.value, 0.5)
    assert o.passed
    suite = ET.fromstring(junit_xml([o])).find("testsuite")
    assert suite.get("failures") == "0" and len(suite.findall("testcase")) == 1
    assert "FAIL" in suite.find("testcase").find("system-out").text  # the failing case is still shown


def test_a_gate_naming_a_perturbation_the_run_lacks_fails_before_any_work(onnx_dir, data_dir, capsys):
    """Review of 29, F10: it failed only after the whole run ("no row matched")."""
    assert main(_argv(onnx_dir, data_dir, "--require", "nosuch:delta_f1>=-0.1")) == 2
    assert "evaluates no perturbation 'nosuch'" in capsys.readouterr().err
    argv = [*_argv(onnx_dir, data_dir), "--require", "entity_and_context:f1>=0"]  # an alias of a combination
    argv[argv.index("char_noise,name_swap")] = "entity_swap_shared+context_swap"
    assert main(argv) != 2


def test_junit_never_overwrites_the_gates_file_or_the_sweep_config(onnx_dir, data_dir, tmp_path, capsys):
    """Review of 29, F4: --junit onto --require-file (or the sweep's config) with --overwrite replaced it."""
    f = tmp_path / "gates.toml"
    body = '[[require]]\nperturbation = "name_swap"\nmetric = "f1"\nvalue = 0.0\n'
    f.write_text(body, encoding="utf-8")
    assert main(_argv(onnx_dir, data_dir, "--require-file", str(f), "--junit", str(f), "--overwrite")) == 2
    assert f.read_text(encoding="utf-8") == body and "inputs" in capsys.readouterr().err
    cfg = tmp_path / "sweep.toml"
    cfg.write_text('name = "s"\ntargets = ["fa"]\nperturbations = ["char_noise"]\n[models.m]\n'
                   'init = { arch = "bert", hidden = 32, layers = 1, heads = 2 }\n[[settings]]\nkind = "native"\n',
                   encoding="utf-8")
    before = cfg.read_text(encoding="utf-8")
    rc = main(["sweep", str(cfg), "--data-dir", str(data_dir), "--store", str(tmp_path / "s.sqlite"),
               "--require", "char_noise:f1>=0", "--junit", str(cfg), "--overwrite"])
    assert rc == 2 and cfg.read_text(encoding="utf-8") == before


def test_a_perturbation_that_edited_almost_nothing_does_not_pass():
    """Review of 29, round 2: transliterate on Malay edited 0.52% of tokens (capped) and passed."""
    row = _row(edit={"eligible": 6, "tokens_edited": 6, "entities_edited": 0, "requested_rate": 0.3,
                     "achieved_rate": 0.0052}, delta_f1=0.0, relative_drop=0.0)
    (o,) = check([row], [parse_gate("lowercase:delta_f1>=-0.02")])
    assert not o.passed and "almost nothing" in o.cases[0]["why"]


def test_a_row_stored_under_an_alias_matches_the_gate_of_its_parts():
    """Review of 29, round 2: a sweep stores entity_and_context; a gate on its parts passed the up-front
    check and then matched no row."""
    row = _row(perturbation="entity_and_context")
    assert check([row], [parse_gate("entity_swap_shared+context_swap:f1>=0")])[0].cases
    assert check([_row(perturbation="entity_swap_shared+context_swap")], [parse_gate("entity_and_context:f1>=0")])[0].cases


def test_sweep_junit_never_writes_into_the_artifacts(data_dir, tmp_path):
    """Review of 29, round 2: --junit onto an export's config.json in --artifacts, with --overwrite,
    replaced it, and every later sweep on those artefacts failed."""
    art = tmp_path / "art" / "onnx-x"
    art.mkdir(parents=True)
    victim = art / "config.json"
    victim.write_text("{}", encoding="utf-8")
    cfg = tmp_path / "sweep.toml"
    cfg.write_text('name = "s"\ntargets = ["fa"]\nperturbations = ["char_noise"]\n[models.m]\n'
                   'init = { arch = "bert", hidden = 32, layers = 1, heads = 2 }\n[[settings]]\nkind = "native"\n',
                   encoding="utf-8")
    rc = main(["sweep", str(cfg), "--data-dir", str(data_dir), "--store", str(tmp_path / "s.sqlite"),
               "--artifacts", str(tmp_path / "art"), "--require", "char_noise:f1>=0", "--junit", str(victim),
               "--overwrite"])
    assert rc == 2 and victim.read_text(encoding="utf-8") == "{}"
