"""One command-line contract (README, "Command-line contract"): shared names in every --help, --json
on stdout for every result-producing command, old names as hidden aliases, documented exit codes,
and a quiet console whose library noise goes to the run's log file."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xner.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
#: commands that print no result (serve: a service)
NO_RESULT = {"serve"}
OLD_NAMES = ("--eval-lang", "--target-lang", "--train-lang", "--teacher-langs", "--eval-data", "--eval-split",
             "--onnx", "--test-split")


def _commands() -> dict[str, argparse.ArgumentParser]:
    """Every (sub)command's parser by its name, ``data stats`` and the like included."""
    def subs(p):
        return next((a.choices for a in p._actions if isinstance(a, argparse._SubParsersAction)), {})

    out = {}
    for name, p in subs(build_parser()).items():
        inner = subs(p)
        out.update({f"{name} {k}": q for k, q in inner.items()} if inner else {name: p})
    return out


def _help(p: argparse.ArgumentParser) -> str:
    return p.format_help()


def test_every_command_lists_the_shared_names():
    cmds = _commands()
    assert {"train", "distill", "export", "verify", "predict", "perturb", "evaluate", "sweep", "demo", "bench",
            "data stats", "score"} <= set(cmds)
    for name, p in cmds.items():
        h = _help(p)
        assert "--quiet" in h and "--verbose" in h, name
        if name not in NO_RESULT:
            assert "--json" in h, name
        for old in OLD_NAMES:  # old names still parse but are not advertised
            assert old + " " not in h and old + "\n" not in h, (name, old)
    for name in ("train", "distill", "export", "verify", "perturb", "evaluate", "data stats", "data overlap",
                 "data split"):
        assert "--lang" in _help(cmds[name]), name
    for name in ("train", "distill", "export", "verify", "predict", "serve", "evaluate", "perturb"):
        assert "--threads" in _help(cmds[name]), name
    for name in ("export", "verify", "predict", "serve", "evaluate", "perturb"):
        assert "--provider" in _help(cmds[name]), name
    for name in ("train", "distill", "export", "perturb", "evaluate", "data stats", "data overlap", "sweep"):
        assert "--data-dir" in _help(cmds[name]), name


@pytest.mark.parametrize(("old", "new"), [
    ("train --model m --out o --train-langs en --eval-lang fa --eval-split dev",
     "train --model m --out o --train-langs en --lang fa --split dev"),
    ("distill --teachers a,b --teacher-langs en,ru --target-lang fa --student s --out o",
     "distill --teachers a,b --train-langs en,ru --lang fa --student s --out o"),
    ("export --model m --out o --eval-data d --eval-lang fa --eval-split dev",
     "export --model m --out o --data-dir d --lang fa --split dev"),
    ("perturb --lang fa --train-lang en --perturbation p --out o",
     "perturb --lang fa --train-langs en --perturbation p --out o"),
    ("data overlap --train en --test fa --test-split dev --seed 7",
     "data overlap --train-langs en --lang fa --split dev --split-seed 7"),
    ("data split --lang fa --seed 7 --out o", "data split --lang fa --split-seed 7 --out o"),
    ("score --gold g --pred p --seed 3", "score --gold g --pred p --bootstrap-seed 3"),
])
def test_old_names_are_hidden_aliases(old, new):
    parse = build_parser().parse_args
    a, b = vars(parse(old.split())), vars(parse(new.split()))
    a.pop("func"), b.pop("func")
    assert a == b


def test_required_flag_through_an_alias_and_missing(capsys):
    assert main(["train", "--model", "m", "--out", "o", "--train-langs", "en"]) == 2
    assert "required: --lang" in capsys.readouterr().err


@pytest.fixture(scope="module")
def made(tmp_path_factory, data_dir, trained, onnx_dir, tiny_bert) -> dict:
    return {"d": str(data_dir), "t": str(tmp_path_factory.mktemp("contract")), "trained": trained["bert"],
            "onnx": str(onnx_dir), "tiny": str(tiny_bert)}


#: every result-producing command, run for real with --json (sweep, report, demo and bench below)
JSON_RUNS = {
    "langs": "langs",
    "env": "env --no-hub",
    "data stats": "data stats --data-dir {d} --lang fa",
    "data overlap": "data overlap --data-dir {d} --train-langs en --lang fa",
    "data convert": "data convert {d}/fa/test.tsv {t}/fa.jsonl",
    "data split": "data split --data-dir {d} --lang fa --out {t}/split",
    "score": "score --gold {d}/fa/test.tsv --pred {d}/fa/test.tsv --bootstrap 20",
    "init-model": "init-model --arch bert --train-tokenizer-on {d}/en/train.tsv --vocab-size 300 --hidden 32 "
                  "--layers 1 --heads 2 --max-length 64 --out {t}/init",
    "train": "train --model {tiny} --data-dir {d} --train-langs en --lang en --preset scratch --max-steps 2 "
             "--out {t}/train --threads 1",
    "distill": "distill --teachers {trained} --train-langs en --data-dir {d} --lang fa --student {tiny} "
               "--preset student-scratch --max-steps 2 --out {t}/student --threads 1",
    "export": "export --model {trained} --out {t}/onnx --exporter torch --data-dir {d} --lang en",
    "verify": "verify --model {onnx} --data-dir {d} --lang en --threads 1",
    "predict": "predict --model {onnx} --text 'Marie lives in Paris' --threads 1",
    "data transliterate": "data transliterate --data-dir {d} --lang hi --out {t}/translit",
    "pretrain": "pretrain --init bert:hidden=32,layers=1,heads=2,vocab-size=300,positions=64 --data-dir {d} "
                "--langs en --max-steps 2 --batch-size 8 --out {t}/pretrain",
    "perturb": "perturb --data-dir {d} --lang fa --perturbation char_noise --out {t}/p.tsv",
    "evaluate": "evaluate --model {onnx} --data-dir {d} --lang en --perturbations char_noise --bootstrap 20 "
                "--threads 1",
}


@pytest.mark.parametrize("name", sorted(JSON_RUNS))
def test_json_on_stdout(name, made, capsys):
    import shlex

    argv = shlex.split(JSON_RUNS[name].format(**made)) + ["--json"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    json.loads(out)  # stdout holds the JSON document and nothing else
    if name in ("train", "distill", "export", "init-model", "pretrain"):  # a long job's log in its --out folder
        assert (Path(argv[argv.index("--out") + 1]) / "xner.log").is_file(), name
    if name == "perturb":  # ... or beside its output file
        assert Path(argv[argv.index("--out") + 1] + ".log").is_file()


def test_every_result_command_is_covered():
    """The JSON check above, with sweep/report/results (test_quiet_sweep), demo and bench (own tests), is every
    result-producing command; a new command must join it."""
    covered = set(JSON_RUNS) | {"sweep", "report", "results", "demo", "bench"}
    result_cmds = {n for n, p in _commands().items() if "--json" in _help(p)}
    assert result_cmds - covered == set(), "add these commands to JSON_RUNS"


def test_verify_failed_gate_exits_3_and_reference_from_report(made, tmp_path, capsys):
    import shutil

    from onnx_edits import damage

    shutil.copytree(made["onnx"], tmp_path / "m")
    damage(tmp_path / "m")
    assert main(["verify", "--model", str(tmp_path / "m"), "--data-dir", made["d"], "--lang", "en", "--json"]) == 3
    cap = capsys.readouterr()
    assert json.loads(cap.out)["passed"] is False and "FAIL" in cap.err


def test_bench_unmet_ratio_exits_4(tmp_path, monkeypatch, capsys):
    from xner.bench import suites
    from xner.bench.harness import SuiteResult, Timing

    def run(quick=False, data_dir=None):  # a suite whose fast path is slower than its baseline
        r = SuiteResult("slow")
        fast, base = (Timing(n, m, m, m, 3, 1.0, "x") for n, m in (("fast", 2.0), ("base", 1.0)))
        r.ratio("fast vs base", r.add(fast), r.add(base), required=2.0)
        return r

    monkeypatch.setattr(suites, "run_suites", lambda *a, **k: [run()])
    assert main(["bench", "--suite", "score", "--out", str(tmp_path / "b"), "--json"]) == 4
    cap = capsys.readouterr()
    assert json.loads(cap.out)["unmet"][0]["name"] == "fast vs base" and "not met" in cap.err
    assert main(["bench", "--suite", "score", "--out", str(tmp_path / "b2"), "--no-require", "-q"]) == 0


CFG = """
name = "quiet"
targets = ["fa"]
perturbations = ["char_noise"]
seeds = [0]
test_max_sentences = 20
bootstrap = 10

[models.tiny]
init = { arch = "bert", hidden = 32, layers = 1, heads = 2, max_length = 64, vocab_size = 400 }

[train]
preset = "scratch"
max_steps = 4

[export]
quantize = "int8"

[[settings]]
kind = "native"
"""


def test_quiet_sweep_console_and_log(tmp_path, data_dir):
    """A sweep's console: one progress display and the summary; the Trainer's loss lines and the
    exporter's and quantiser's warnings are in runs' xner.log, not on the console."""
    cfg = tmp_path / "quiet.toml"
    cfg.write_text(CFG, encoding="utf-8")
    store = tmp_path / "run" / "results.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    r = subprocess.run([sys.executable, "-m", "xner", "sweep", str(cfg), "--store", str(store), "--data-dir",
                        str(data_dir), "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout)
    assert summary["written"] == summary["cells"] > 0
    log = (tmp_path / "run" / "xner.log").read_text(encoding="utf-8")
    assert "'loss'" in log and "Warning" in log  # the Trainer's lines, the exporter's/quantiser's warnings
    for noise in ("'loss'", "Warning", "warnings.warn", "Please consider"):
        assert noise not in r.stderr, (noise, r.stderr[-2000:])
    assert r.stderr.count("sweep quiet") >= 1 and "%" in r.stderr  # the one progress display
    out = tmp_path / "report"
    r2 = subprocess.run([sys.executable, "-m", "xner", "report", str(store), "--out", str(out), "--json"],
                        capture_output=True, text=True, env=env, timeout=300)
    assert r2.returncode == 0, r2.stderr[-2000:]
    assert Path(json.loads(r2.stdout)["report"]).is_file()
    r3 = subprocess.run([sys.executable, "-m", "xner", "results", str(store), "--json"], capture_output=True,
                        text=True, env=env, timeout=300)
    assert r3.returncode == 0 and len(json.loads(r3.stdout)) == summary["cells"]
    v = subprocess.run([sys.executable, "-m", "xner", "sweep", str(cfg), "--store", str(store), "--data-dir",
                        str(data_dir), "--quiet"], capture_output=True, text=True, env=env, timeout=300)
    assert v.returncode == 0 and v.stderr.strip() == "", v.stderr  # --quiet: nothing but the result on stdout
    assert "1 already done" in v.stdout or "already done" in v.stdout


def test_refused_out_gets_no_log(tmp_path, tiny_bert, data_dir, capsys):
    """A refused --out is left as it was: the log of the failed command stays in the temp folder."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    rc = main(["train", "--model", str(tiny_bert), "--data-dir", str(data_dir), "--train-langs", "en", "--lang",
               "en", "--max-steps", "1", "--out", str(out)])
    assert rc == 2 and sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    err = capsys.readouterr().err
    assert "not empty" in err


def test_demo_json_is_its_summary(tmp_path, monkeypatch, capsys):
    """demo's --json path (the demo itself runs in the README's main command, not in the tests)."""
    from xner.experiments import demo

    monkeypatch.setattr(demo, "run_demo", lambda *a, **k: {
        "sweep": {"cells": 3, "skipped": 0, "written": 3, "store": "s", "run": 1},
        "report": {"report": "r.md", "html": "r.html", "cells_csv": "c.csv", "plots": [], "main_table": "| t |"}})
    assert main(["demo", "--data-dir", str(tmp_path), "--out", str(tmp_path / "d"), "--json"]) == 0
    cap = capsys.readouterr()
    d = json.loads(cap.out)
    assert d["sweep"]["written"] == 3 and d["report"]["html"] == "r.html" and "main_table" not in d["report"]
    assert "| t |" in cap.err  # the summary table goes to stderr with --json


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert ci.startswith("bash .ci/browser && python3.11 -m venv .venv") and ci in readme.splitlines()


def test_a_log_file_xner_did_not_write_is_left_alone(tmp_path, capsys):
    """A command's log goes to OUT.log (or FOLDER/xner.log); a file of that name that xner did not write
    is never appended to (it was, before the logs carried a header): the log stays in its temporary
    file, which the console names."""
    from xner import console

    mine = tmp_path / "p.tsv.log"
    mine.write_text("my own notes\n", encoding="utf-8")
    console.configure()
    with console.captured(mine):
        print("library noise")
    assert mine.read_text(encoding="utf-8") == "my own notes\n"
    err = capsys.readouterr().err
    assert "is not an xner log: left alone" in err
    kept = Path(err.split("log: ")[1].split(" (")[0])
    assert kept.read_text(encoding="utf-8") == "library noise\n"
    kept.unlink()
    mine.unlink()
    for _ in range(2):  # a log xner wrote is appended to
        with console.captured(mine):
            print("library noise")
    text = mine.read_text(encoding="utf-8")
    assert text.startswith("# xner log") and text.count("# xner log") == 1 and text.count("library noise") == 2
