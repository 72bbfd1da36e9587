from __future__ import annotations

import json

import numpy as np

from xner.cli import main
from xner.datadir import DataDir
from xner.formats import read_corpus
from xner.labels import iob2_violations


def test_perturb_cli_writes_corpus_and_stats(tmp_path, data_dir, capsys):
    out = tmp_path / "adv.tsv"
    assert main(["perturb", "--data-dir", str(data_dir), "--lang", "ru", "--perturbation", "name_swap",
                 "--out", str(out)]) == 0  # no further flags needed
    c = read_corpus(out)
    src = DataDir(data_dir).load("ru", "test")
    assert len(c) == len(src) and iob2_violations(c.tags, c.offsets).size == 0
    st = json.loads(out.with_name("adv.tsv.stats.json").read_text())
    assert st["perturbation"] == "name_swap" and st["stats"]["entities_edited"] > 0 and st["seed"] == 0
    assert "versions" in st["provenance"]
    out2 = tmp_path / "adv2.jsonl"
    assert main(["perturb", "--data-dir", str(data_dir), "--lang", "ru", "--perturbation", "char_noise+random_token",
                 "--rate", "0.2", "--seed", "3", "--out", str(out2)]) == 0
    assert len(out2.read_text(encoding="utf-8").splitlines()) == len(src)
    assert main(["perturb", "--data-dir", str(data_dir), "--lang", "ru", "--perturbation", "entity_swap_shared",
                 "--out", str(tmp_path / "x.tsv")]) == 2  # needs --train-lang
    assert "needs" in capsys.readouterr().err


def test_evaluate_cli_every_perturbation(tmp_path, data_dir, onnx_dir, capsys):
    out = tmp_path / "rows.jsonl"
    rc = main(["evaluate", "--model", str(onnx_dir), "--data-dir", str(data_dir), "--lang", "en", "--train-lang", "ru",
               "--seeds", "0,1", "--bootstrap", "50", "--threads", "1", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "clean" in text and "entity_swap_shared" in text and "time: start-up" in text
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows[0]["kind"] == "evaluate-run" and "versions" in rows[0]["provenance"]
    cells = [r for r in rows[1:] if r["perturbation"] != "clean"]
    from xner.robustness.perturbations import names

    assert {r["perturbation"] for r in cells} == {"entity_swap_shared+context_swap", "entity_resample+context_mask",
                                                    *[n for n in names() if "_and_" not in n]}
    assert len(cells) == 2 * len(names())
    for r in cells:
        assert abs(r["delta_f1"] - (r["f1"] - r["clean_f1"])) < 1e-12
        assert r["ci"]["delta_f1"][0] <= r["ci"]["delta_f1"][1]
        assert set(r["seconds"]) == {"perturb", "vectors", "encode", "infer", "score"}
    # rates: one row per rate
    rc = main(["evaluate", "--model", str(onnx_dir), "--data-dir", str(data_dir), "--lang", "en",
               "--perturbations", "char_noise,name_swap", "--rates", "0.1,0.3", "--bootstrap", "0", "--threads", "1",
               "--out", str(out)])
    rows = [json.loads(x) for x in out.read_text().splitlines()][2:]
    assert rc == 0 and [(r["perturbation"], r["rate"]) for r in rows] == [
        ("char_noise", 0.1), ("char_noise", 0.3), ("name_swap", 0.1), ("name_swap", 0.3)]
    assert rows[1]["edit"]["token_edit_rate"] > rows[0]["edit"]["token_edit_rate"]


def test_evaluate_without_train_lang_skips_with_reason(data_dir, onnx_dir, capsys):
    assert main(["evaluate", "--model", str(onnx_dir), "--data-dir", str(data_dir), "--lang", "en",
                 "--perturbations", "entity_swap_shared,char_noise", "--bootstrap", "0", "--threads", "1"]) == 0
    assert "skipped: needs train" in capsys.readouterr().out


def test_train_with_augment(tmp_path, data_dir, tiny_bert):
    rc = main(["train", "--model", str(tiny_bert), "--data-dir", str(data_dir), "--train-langs", "en",
               "--eval-lang", "en", "--preset", "scratch", "--max-steps", "2",
               "--augment", "name_swap:0.3,char_noise:0.2", "--out", str(tmp_path / "m")])
    assert rc == 0
    card = json.loads((tmp_path / "m" / "run.json").read_text())
    assert [a["perturbation"] for a in card["augment_stats"]] == ["name_swap", "char_noise"]
    assert card["encoding"]["sentences"] == 3 * 120
    assert main(["train", "--model", str(tiny_bert), "--data-dir", str(data_dir), "--train-langs", "en",
                 "--eval-lang", "en", "--augment", "context_swap:0.3", "--out", str(tmp_path / "x")]) == 2
    assert np.isfinite(card["train_loss"])


def test_evaluate_recipe_manafi2024(tmp_path, data_dir, onnx_dir, capsys):
    """The study's five perturbations, as the study defined them; context_swap's vectors come from the
    evaluated model's base model (here the init-model folder it was trained from)."""
    out = tmp_path / "rows.jsonl"
    assert main(["evaluate", "--model", str(onnx_dir), "--data-dir", str(data_dir), "--lang", "ru", "--train-lang", "en",
                 "--recipe", "manafi2024", "--bootstrap", "0", "--threads", "1", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "context_swap vectors: base model" in captured.err
    rows = [json.loads(x) for x in out.read_text().splitlines()][2:]
    assert [r["perturbation"] for r in rows] == ["entity_swap_shared", "context_swap", "entity_swap_shared+context_swap",
                                                 "name_swap", "place_swap"]
    assert all("skipped" not in r and r["recipe"] == "manafi2024" and r["rate"] is None for r in rows)
    assert rows[3]["params"]["span"] == "given" and rows[3]["edit"]["pool"] == "faker:ru_RU"
    assert rows[1]["params"]["filter"] == "study" and "capped" in rows[0]["edit"]


def test_perturb_study_split_pool_and_capped_warning(tmp_path, data_dir, capsys):
    from xner.splits import load_split

    out = tmp_path / "s.tsv"
    assert main(["perturb", "--data-dir", str(data_dir), "--lang", "fa", "--split-scheme", "study", "--seed", "0",
                 "--perturbation", "name_swap", "--out", str(out)]) == 0
    want = load_split(DataDir(data_dir), "fa", "test", "study", 42)
    assert len(read_corpus(out)) == len(want) == round(200 * 0.2)
    text = capsys.readouterr().out
    assert "pool: faker:fa_IR" in text and "the target's own locale" in text
    st = json.loads((tmp_path / "s.tsv.stats.json").read_text())
    assert st["source"]["split_scheme"] == "study" and st["stats"]["pool_origin"]
    assert main(["perturb", "--data-dir", str(data_dir), "--lang", "fa", "--train-lang", "en", "--perturbation",
                 "entity_swap_shared", "--rate", "0.5", "--out", str(tmp_path / "c.tsv")]) == 0
    assert "capped" in capsys.readouterr().err
