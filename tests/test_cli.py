from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import WIKIANN, needs_shared

from xner.cli import build_parser, main


def _subcommands(parser, prefix=()):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sp in action.choices.items():
                yield prefix + (name,)
                yield from _subcommands(sp, prefix + (name,))


def test_every_subcommand_has_help(capsys):
    cmds = list(_subcommands(build_parser()))
    assert ("score",) in cmds and ("data", "overlap") in cmds and ("langs",) in cmds
    for cmd in cmds:
        with pytest.raises(SystemExit) as e:
            main([*cmd, "--help"])
        assert e.value.code == 0
        assert "usage: xner " + " ".join(cmd) in capsys.readouterr().out


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "xner", *args], capture_output=True, text=True, cwd=cwd)


def test_langs(capsys):
    assert main(["langs"]) == 0
    out = capsys.readouterr().out
    assert "ar->fa" in out and "Breton" in out and "panx  (40)" in out
    assert main(["langs", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["pairs"]) == 13


@pytest.mark.parametrize("content,needle", [
    (b"a\tO\nb\n", ":2: no tag"),
    (b"a\tB-FOO\n", ":1: unknown tag 'B-FOO'"),
    (b"a\tO\nb\tX-PER\n", ":2: not an IOB2 tag"),
    (b"a\x00\tO\n", ":1: NUL byte"),
    (b"a\tO\n\xc3\x28\tO\n", ":2: not UTF-8"),
    (b"", "empty file"),
])
def test_bad_input_exit_2_no_traceback(tmp_path, content, needle):
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(content)
    # data commands use a fixed label set (WikiANN unless --types); score accepts any entity type
    cmds = [("data", "convert", str(bad), str(tmp_path / "out.jsonl"))]
    if "B-FOO" not in needle:
        cmds.append(("score", "--gold", str(bad), "--pred", str(bad)))
    for cmd in cmds:
        r = run(*cmd)
        assert r.returncode == 2, r.stderr
        assert needle in r.stderr and str(bad) in r.stderr
        assert "Traceback" not in r.stderr


def test_missing_data_exit_2(tmp_path, data_dir):
    r = run("data", "stats", "--data-dir", str(tmp_path / "none"), "--lang", "fa")
    assert r.returncode == 2 and "data folder not found" in r.stderr and "Traceback" not in r.stderr
    r = run("data", "stats", "--data-dir", str(data_dir), "--lang", "zz")
    assert r.returncode == 2 and "no folder for language 'zz'" in r.stderr
    r = run("data", "overlap", "--data-dir", str(data_dir), "--train", "en", "--test", "zz")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_score_misaligned_exit_2(tmp_path):
    (tmp_path / "g.tsv").write_text("a\tO\nb\tB-PER\n", encoding="utf-8")
    (tmp_path / "p.tsv").write_text("a\tO\nc\tB-PER\n", encoding="utf-8")
    r = run("score", "--gold", str(tmp_path / "g.tsv"), "--pred", str(tmp_path / "p.tsv"))
    assert r.returncode == 2 and f"{tmp_path / 'p.tsv'}:2:" in r.stderr and "Traceback" not in r.stderr


def test_score_cli_json(tmp_path, capsys):
    (tmp_path / "g.tsv").write_text("a\tB-PER\nb\tI-PER\n\nc\tB-LOC\n", encoding="utf-8")
    (tmp_path / "p.tsv").write_text("a\tB-PER\nb\tI-PER\n\nc\tB-ORG\n", encoding="utf-8")
    assert main(["score", "--gold", str(tmp_path / "g.tsv"), "--pred", str(tmp_path / "p.tsv"), "--json",
                 "--bootstrap", "100"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["f1"] == 0.5 and d["per_type"]["PER"]["f1"] == 1.0 and d["per_type"]["ORG"]["support"] == 0
    assert "versions" in d["provenance"] and len(d["ci"]["f1"]) == 2


def test_stats_overlap_convert_split(tmp_path, data_dir, capsys):
    assert main(["data", "stats", "--data-dir", str(data_dir), "--lang", "ru", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [d["splits"][s]["sentences"] for s in ("train", "dev", "test")] == [120, 40, 40]
    assert main(["data", "overlap", "--data-dir", str(data_dir), "--train", "en", "--test", "ru"]) == 0
    assert "entity-token overlap" in capsys.readouterr().out
    out = tmp_path / "x.jsonl"
    assert main(["data", "convert", str(data_dir / "fa" / "test.tsv"), str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 40
    assert main(["data", "split", "--data-dir", str(data_dir), "--lang", "hi", "--out", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "hi" / "train.tsv").exists() and (tmp_path / "s" / "hi" / "split.json").exists()


def test_env_data_dir(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("XNER_DATA_DIR", str(data_dir))
    assert main(["data", "stats", "--lang", "en", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"] == str(data_dir)


@needs_shared
def test_real_stats_fa(capsys):
    assert main(["data", "stats", "--data-dir", str(WIKIANN), "--lang", "fa", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [d["splits"][s]["sentences"] for s in ("train", "dev", "test")] == [20000, 10000, 10000]


# -- Trust issue --------------------------------------------------------------------------------


def _parquet(path, tokens, tags):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"tokens": tokens, "ner_tags": tags}), str(path))
    return path


def test_negative_tag_ids_exit_2(tmp_path):
    for bad in (-1, -100):
        p = _parquet(tmp_path / f"n{-bad}.parquet", [["a", "b"]], [[0, bad]])
        for cmd in (("data", "convert", str(p), str(tmp_path / "o.tsv")), ("score", "--gold", str(p), "--pred", str(p))):
            r = run(*cmd)
            assert r.returncode == 2, r.stderr
            assert f"{p}: record 0" in r.stderr and f"tag id {bad} out of range" in r.stderr
            assert "Traceback" not in r.stderr


def test_score_wikiann_ids_by_default(tmp_path, capsys):
    """WikiANN integer ids (O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC) are scored without --types."""
    g, p = tmp_path / "g.jsonl", tmp_path / "p.jsonl"
    g.write_text(json.dumps({"tokens": ["Jakarta", "kota", "Budi"], "ner_tags": [5, 0, 1]}) + "\n", encoding="utf-8")
    p.write_text(json.dumps({"tokens": ["Jakarta", "kota", "Budi"], "ner_tags": [5, 0, 3]}) + "\n", encoding="utf-8")
    assert main(["score", "--gold", str(g), "--pred", str(p), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["per_type"]["LOC"]["f1"] == 1.0 and d["per_type"]["PER"]["support"] == 1
    assert d["per_type"]["ORG"]["predicted"] == 1 and d["f1"] == 0.5
    gq = _parquet(tmp_path / "g.parquet", [["Jakarta", "kota", "Budi"]], [[5, 0, 1]])
    pq_ = _parquet(tmp_path / "p.parquet", [["Jakarta", "kota", "Budi"]], [[5, 0, 3]])
    assert main(["score", "--gold", str(gq), "--pred", str(pq_), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["per_type"]["LOC"]["f1"] == 1.0
    # --types declares another id layout: O, B-LOC, I-LOC, B-PER, I-PER, B-ORG, I-ORG
    assert main(["score", "--gold", str(g), "--pred", str(p), "--json", "--types", "LOC,PER,ORG"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["per_type"]["ORG"]["support"] == 1 and d["per_type"]["LOC"]["support"] == 1
    assert d["per_type"]["PER"]["predicted"] == 1


def test_score_iobes_and_bilou(tmp_path, capsys):
    g, p = tmp_path / "g.tsv", tmp_path / "p.tsv"
    g.write_text("a\tS-PER\nb\tO\nc\tB-LOC\nd\tE-LOC\n", encoding="utf-8")
    p.write_text("a\tS-PER\nb\tO\nc\tB-LOC\nd\tI-LOC\n", encoding="utf-8")
    assert main(["score", "--gold", str(g), "--pred", str(p), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["per_type"]["PER"]["f1"] == 1.0 and d["f1"] == 1.0  # default mode: B-LOC I-LOC is a chunk
    assert main(["score", "--gold", str(g), "--pred", str(p), "--json", "--mode", "strict", "--scheme", "IOBES"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["per_type"]["LOC"]["predicted"] == 0 and d["correct"] == 1  # strict: B-LOC I-LOC never ends
    r = run("score", "--gold", str(g), "--pred", str(p), "--mode", "strict")
    assert r.returncode == 2 and f"{g}:1:" in r.stderr and "--scheme IOBES" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "b.tsv").write_text("a\tU-PER\nb\tO\nc\tB-LOC\nd\tL-LOC\n", encoding="utf-8")
    b = str(tmp_path / "b.tsv")
    assert main(["score", "--gold", b, "--pred", b, "--json", "--mode", "strict", "--scheme", "BILOU"]) == 0
    assert json.loads(capsys.readouterr().out)["support"] == 2
    r = run("score", "--gold", b, "--pred", b)
    assert r.returncode == 2 and f"{b}:1:" in r.stderr and "--scheme BILOU" in r.stderr and "Traceback" not in r.stderr


def test_json_output_is_strict(capsys, tmp_path):
    """NaN and infinities never reach a JSON output: they become null."""
    import math

    import numpy as np

    from xner.cli import print_json

    def strict(s):
        return json.loads(s, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"not JSON: {c}")))

    obj = {"a": float("nan"), "b": [np.float32("inf"), 1.5], "c": np.array([1.0, np.nan]), "d": -math.inf,
           "e": np.float64("nan"), "n": 3}
    print_json(obj)
    assert strict(capsys.readouterr().out) == {"a": None, "b": [None, 1.5], "c": [1.0, None], "d": None, "e": None,
                                               "n": 3}
    from xner.io import dumps, write_json

    write_json(tmp_path / "r.json", obj)
    assert strict((tmp_path / "r.json").read_text(encoding="utf-8"))["c"] == [1.0, None]
    assert strict(dumps([float("nan")])) == [None]
