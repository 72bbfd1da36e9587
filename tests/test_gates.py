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
    assert int(suite.get("tests")) == len(cases) == 2 + 4 + 1  # char_noise x 2 seeds, * x 4 rows, the gate
    assert int(suite.get("failures")) == 3 and all(c.get("classname") for c in cases)


def test_passing_gates_exit_0_and_a_file_of_gates(onnx_dir, data_dir, tmp_path, capsys):
    f = tmp_path / "gates.toml"
    f.write_text('[[require]]\nperturbation = "name_swap"\nmetric = "delta_f1_lo"\nop = ">="\nvalue = -1.0\n'
                 '[[require]]\nperturbation = "char_noise"\nmetric = "relative_drop"\nop = "<="\nvalue = 1.0\n'
                 "min_pass_rate = 0.5\n", encoding="utf-8")
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
    assert not o.passed and 'name="gate"' in junit_xml([o])
    with pytest.raises(XnerError):
        parse_gate("char_noise:f1=>0")
