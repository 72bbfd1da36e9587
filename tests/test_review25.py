"""Findings of the adversarial review of Trust III, each reproduced by a test that failed before its fix
(the condition key, baseline, calibration and data-folder findings have their tests beside the code
they concern: test_condition_key.py, test_sweep.py, test_static_int8.py, test_heldout_by_content.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from xner.cli import main
from xner.errors import XnerError


def test_a_sweep_never_writes_into_its_data_folder(tmp_path, data_dir):
    """A store inside the data folder: the sweep made STORE-artifacts there (a new 'language') before
    failing."""
    import shutil

    d = tmp_path / "D"
    shutil.copytree(data_dir, d)
    cfg = tmp_path / "c.toml"
    cfg.write_text('name = "c"\ntargets = ["fa"]\nperturbations = ["char_noise"]\n[models.t]\n'
                   'init = { arch = "bert", hidden = 32, layers = 1, heads = 2, vocab_size = 300 }\n'
                   '[train]\npreset = "scratch"\nmax_steps = 1\n[[settings]]\nkind = "native"\n', encoding="utf-8")
    before = sorted(p.name for p in d.iterdir())
    assert main(["sweep", str(cfg), "--store", str(d / "x.sqlite"), "--data-dir", str(d)]) == 2
    assert main(["sweep", str(cfg), "--store", str(tmp_path / "s" / "x.sqlite"), "--data-dir", str(d),
                 "--artifacts", str(d / "arts")]) == 2
    assert sorted(p.name for p in d.iterdir()) == before


def test_raw_text_refuses_thai_letters_not_the_baht_sign_and_names_the_line(onnx_dir, tmp_path, capsys):
    assert main(["predict", "--model", str(onnx_dir), "--text", "The ticket cost ฿500 in Bangkok"]) == 0
    f = tmp_path / "in.txt"
    f.write_text("Anna lives in Paris\n\nสวัสดีครับ\n", encoding="utf-8")
    assert main(["predict", "--model", str(onnx_dir), "--input", str(f)]) == 2
    assert "input line 3" in capsys.readouterr().err


def test_predict_answers_a_line_on_stdin_before_the_next_arrives(onnx_dir):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([sys.executable, "-m", "xner", "predict", "--model", str(onnx_dir), "--input", "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        p.stdin.write("Anna Smith lives in Paris\n")
        p.stdin.flush()
        import select

        t0 = time.time()
        ready = select.select([p.stdout], [], [], 60)[0]  # the answer comes while the input is still open
        assert ready, "no answer to the first line within 60 s while stdin stayed open"
        first = json.loads(p.stdout.readline())
        assert first["text"] == "Anna Smith lives in Paris" and time.time() - t0 < 60
        p.stdin.write("Berlin\n")
        p.stdin.close()
        assert json.loads(p.stdout.readline())["text"] == "Berlin"
    finally:
        p.kill()
        p.wait()


@pytest.mark.parametrize("key", ["clé", "tab\there", "s3cret ", " s3cret"])
def test_a_key_no_client_can_send_is_refused(key):
    from xner.export.server import check_api_key

    with pytest.raises(XnerError, match="printable ASCII"):
        check_api_key(key)


@pytest.mark.parametrize("flag,value", [("--perturbations", "char_noise,char_noise"), ("--rates", "0.1,0.1"),
                                        ("--perturbations", "entity_and_context,entity_swap_shared+context_swap")])
def test_evaluate_refuses_a_list_entry_twice(onnx_dir, data_dir, flag, value, capsys):
    argv = ["evaluate", "--model", str(onnx_dir), "--data-dir", str(data_dir), "--lang", "en",
            "--perturbations", "char_noise", "--seeds", "0", "--bootstrap", "0", flag, value]
    assert main(argv) == 2
    assert "twice" in capsys.readouterr().err


# -- second round ---------------------------------------------------------------------------------

def test_export_never_replaces_the_data_folder_named_by_the_environment(tmp_path, trained, data_dir, monkeypatch):
    """--data-dir was protected, the folder $XNER_DATA_DIR names was not: export --overwrite replaced it."""
    import shutil

    b = tmp_path / "B"
    shutil.copytree(data_dir, b)
    monkeypatch.setenv("XNER_DATA_DIR", str(b))
    assert main(["export", "--model", trained["bert"], "--lang", "en", "--out", str(b), "--exporter", "torch",
                 "--overwrite"]) == 2
    assert (b / "en" / "train.tsv").exists()


def test_cells_are_scored_against_the_material_the_models_saw(data_dir):
    """The evaluation side built its Material without the sweep's targets, so overlap, P1/P2 contexts and
    budget parts were computed on other text than the models were trained on."""
    from xner.datadir import DataDir
    from xner.experiments.cells import CellJob
    from xner.experiments.material import Material
    from xner.fingerprint import corpus_sha256

    cfg = {"targets": ["fa", "ru"], "split_scheme": "standard"}
    mat = Material.of(DataDir(str(data_dir)), cfg)
    job = CellJob(mat.source_name, "conlleval", mat.scheme, mat.split_seed, mat.train_cap, mat.test_cap, 10,
                  True, None, mat.tested)
    ev = job.material()
    assert ev.tested == ("fa", "ru") and ev.describe() == mat.describe() and mat.describe()["heldout_of"] == ["fa", "ru"]
    for lang in ("en", "ar"):
        assert corpus_sha256(ev.train(lang)) == corpus_sha256(mat.train(lang))
        assert corpus_sha256(ev.part(lang, 20, 1)) == corpus_sha256(mat.part(lang, 20, 1))


def test_a_store_beside_the_data_folder_is_fine_inside_it_is_not(tmp_path, data_dir, monkeypatch):
    import shutil

    from xner.experiments import run_sweep

    proj = tmp_path / "proj"
    shutil.copytree(data_dir, proj / "data")
    monkeypatch.chdir(proj)
    cfg = {"name": "c", "targets": ["fa"], "perturbations": ["char_noise"], "seeds": [0], "test_max_sentences": 10,
           "models": {"t": {"init": {"arch": "bert", "hidden": 32, "layers": 1, "heads": 2, "vocab_size": 300}}},
           "train": {"preset": "scratch", "max_steps": 1}, "settings": [{"kind": "native"}], "bootstrap": 10}
    assert run_sweep(cfg, "results.sqlite", data_dir="data", progress=False)["written"] == 2
    with pytest.raises(XnerError, match="inside the data folder"):
        run_sweep(cfg, "data/results.sqlite", data_dir="data", progress=False)
