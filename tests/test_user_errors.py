"""11. No traceback for a user error, anywhere: every subcommand x a table of bad inputs -> exit 2, one message."""

from __future__ import annotations

import json
import shutil

import pytest

from xner.cli import main


@pytest.fixture(scope="module")
def bad(tmp_path_factory, data_dir, onnx_dir, tiny_bert):
    """Paths of broken inputs, built once."""
    root = tmp_path_factory.mktemp("bad")
    p = {"data": str(data_dir), "onnx": str(onnx_dir), "tiny": str(tiny_bert), "none": str(root / "missing")}
    (root / "empty_dir").mkdir()
    p["empty_dir"] = str(root / "empty_dir")
    noweights = root / "noweights"  # a model folder without weights
    noweights.mkdir()
    shutil.copy(tiny_bert / "config.json", noweights / "config.json")
    p["noweights"] = str(noweights)
    noonnx = root / "noonnx"  # an export folder without model.onnx
    shutil.copytree(onnx_dir, noonnx)
    (noonnx / "model.onnx").unlink()
    p["noonnx"] = str(noonnx)
    junk = root / "junkonnx"  # model.onnx that is not ONNX
    shutil.copytree(onnx_dir, junk)
    (junk / "model.onnx").write_bytes(b"not a graph")
    p["junkonnx"] = str(junk)
    badcfg = root / "badconfig"
    shutil.copytree(onnx_dir, badcfg)
    (badcfg / "config.json").write_text("{oops")
    p["badconfig"] = str(badcfg)
    (root / "gold.tsv").write_text("Anna\tB-PER\n\n", encoding="utf-8")
    (root / "pred_bad.tsv").write_text("Anna\tQ-PER\n\n", encoding="utf-8")
    (root / "binary.tsv").write_bytes(b"\xff\xfe\x00\x00garbage")
    (root / "bad.toml").write_text("name = [unclosed\n")
    (root / "wrong.toml").write_text('name = "x"\nmodels = 3\n')
    (root / "text.txt").write_text("Anna Smith lives in Boston .\n")
    p["root"] = str(root)
    return p


CASES = [
    # (id, argv with {placeholders})
    ("data-stats-missing-dir", "data stats --data-dir {none} --lang en"),
    ("data-stats-missing-lang", "data stats --data-dir {data} --lang xx"),
    ("data-overlap-missing-lang", "data overlap --data-dir {data} --train en --test zz"),
    ("data-convert-missing", "data convert {none}/a.tsv {root}/out.tsv"),
    ("data-convert-dir-as-file", "data convert {empty_dir} {root}/out.tsv"),
    ("data-convert-binary", "data convert {root}/binary.tsv {root}/out2.tsv"),
    ("data-split-missing-lang", "data split --data-dir {data} --lang zz --out {root}/split"),
    ("score-missing-gold", "score --gold {none}/g.tsv --pred {root}/gold.tsv"),
    ("score-bad-tag", "score --gold {root}/gold.tsv --pred {root}/pred_bad.tsv"),
    ("score-bad-bootstrap", "score --gold {root}/gold.tsv --pred {root}/gold.tsv --bootstrap -5"),
    ("init-model-missing-vocab", "init-model --arch bert --vocab {none}/vocab.txt --out {root}/m1"),
    ("init-model-bad-heads", "init-model --arch bert --train-tokenizer-on {data}/en/train.tsv --hidden 33 --heads 2 "
                             "--out {root}/m2"),
    ("init-model-missing-data", "init-model --arch bert --train-tokenizer-on {none}/x.tsv --out {root}/m3"),
    ("train-model-without-weights", "train --model {noweights} --data-dir {data} --train-langs en --eval-lang en "
                                    "--max-steps 1 --out {root}/t1"),
    ("train-missing-model", "train --model {none} --data-dir {data} --train-langs en --eval-lang en --out {root}/t2"),
    ("train-bad-lang", "train --model {tiny} --data-dir {data} --train-langs zz --eval-lang en --out {root}/t3"),
    ("distill-missing-teacher", "distill --teachers {none} --data-dir {data} --target-lang fa --student {tiny} "
                                "--out {root}/d1"),
    ("export-model-without-weights", "export --model {noweights} --out {root}/e1 --exporter torch"),
    ("export-missing-model", "export --model {none} --out {root}/e2"),
    ("verify-no-onnx", "verify --model {tiny} --onnx {noonnx}"),
    ("predict-no-onnx", "predict --model {noonnx} --text x"),
    ("predict-junk-onnx", "predict --model {junkonnx} --text x"),
    ("predict-bad-config", "predict --model {badconfig} --text x"),
    ("predict-pytorch-folder", "predict --model {tiny} --text x"),
    ("predict-missing-input", "predict --model {onnx} --input {none}/in.txt"),
    ("predict-bad-threads", "predict --model {onnx} --text x --threads -2"),
    ("serve-no-onnx", "serve --model {noonnx} --port 1"),
    ("serve-bad-cache", "serve --model {onnx} --cache-words 0"),
    ("perturb-bad-name", "perturb --data-dir {data} --lang en --perturbation nope --out {root}/p1.tsv"),
    ("perturb-bad-rate", "perturb --data-dir {data} --lang en --perturbation char_noise --rate 7 --out {root}/p2.tsv"),
    ("evaluate-no-onnx", "evaluate --model {noonnx} --data-dir {data} --lang en"),
    ("evaluate-bad-rates", "evaluate --model {onnx} --data-dir {data} --lang en --perturbations char_noise "
                           "--rates x"),
    ("sweep-missing-config", "sweep {none}/c.toml --store {root}/s1"),
    ("sweep-bad-toml", "sweep {root}/bad.toml --store {root}/s2"),
    ("sweep-wrong-types", "sweep {root}/wrong.toml --store {root}/s3"),
    ("report-missing-store", "report {none}/store --out {root}/r1"),
    ("results-missing-store", "results {none}/store"),
    ("sweep-bad-train-seeds", "sweep demo --train-seeds 0,x --store {root}/s4"),
    ("bench-bad-shapes", "bench --suite inference --shapes 12 --out {root}/b1"),
    ("pretrain-bad-spec", "pretrain --init nope:hidden=x --data-dir {data} --langs en --out {root}/pt1"),
    ("pretrain-bad-lang", "pretrain --init bert --data-dir {data} --langs zz --out {root}/pt2"),
    ("pretrain-missing-model", "pretrain --model {none} --data-dir {data} --langs en --out {root}/pt3"),
]


@pytest.mark.parametrize("case,argv", CASES, ids=[c for c, _ in CASES])
def test_user_error_exits_2_with_one_message(bad, capsys, case, argv):
    args = argv.format(**bad).split()
    try:
        rc = main(args)
    except SystemExit as e:  # argparse's own usage errors exit 2 with a usage line
        rc = e.code
    captured = capsys.readouterr()
    assert rc == 2, (case, rc, captured.err[-2000:])
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    errors = [ln for ln in captured.err.splitlines() if ln.startswith(("xner: error:", "xner ", "usage:"))
              or ": error:" in ln]
    assert errors, captured.err[-2000:]
    assert len([ln for ln in captured.err.splitlines() if "error:" in ln]) == 1, captured.err[-2000:]


def test_every_subcommand_is_in_the_table():
    from xner.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    tested = {argv.split()[0] for _, argv in CASES}
    untested = set(sub.choices) - tested - {"langs", "demo", "env"}  # no input to get wrong (demo: see its own test)
    assert not untested, f"subcommands without a bad-input case: {sorted(untested)}"


def test_json_errors_are_not_json_on_stdout(bad, capsys):
    """A failing command prints nothing on stdout, so a pipe into a JSON reader sees no half result."""
    assert main(["data", "stats", "--data-dir", bad["none"], "--lang", "en", "--json"]) == 2
    out = capsys.readouterr().out
    assert out == "" or json.loads(out) is not None
