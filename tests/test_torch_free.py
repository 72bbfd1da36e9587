"""Serving an ONNX folder needs neither torch nor transformers: predict, serve, perturb and evaluate
run in a process where importing either fails."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers"):
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, _Block())
"""


def _run(code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=timeout)


def test_blocker_blocks():
    r = _run("import torch")
    assert r.returncode != 0 and "blocked" in r.stderr


@pytest.mark.parametrize("argv", [
    ["predict", "--text", "Anna Smith lives in Boston ."],
    ["predict", "--input", "{data}/en/test.tsv", "--format", "conll"],
    ["perturb", "--data-dir", "{data}", "--lang", "en", "--perturbation", "char_noise", "--out", "{tmp}/p.tsv"],
    ["perturb", "--data-dir", "{data}", "--lang", "fa", "--train-lang", "en", "--perturbation", "context_swap",
     "--out", "{tmp}/c.tsv"],
    ["evaluate", "--data-dir", "{data}", "--lang", "en", "--perturbations", "char_noise,name_swap",
     "--bootstrap", "50"],
])
def test_commands_without_torch(onnx_dir, data_dir, tmp_path, argv):
    args = [a.format(data=data_dir, tmp=tmp_path) for a in argv]
    if args[0] in ("predict", "evaluate") or "context_swap" in args:
        args += ["--model", str(onnx_dir)]
    r = _run(f"""
from xner.cli import main
rc = main({args!r})
print("MODULES", "torch" in sys.modules, "transformers" in sys.modules)
sys.exit(rc)
""")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().splitlines()[-1] == "MODULES False False"


def test_server_without_torch(onnx_dir):
    r = _run(f"""
from fastapi.testclient import TestClient
from xner.export.server import create_app
with TestClient(create_app({str(onnx_dir)!r}, provider="cpu", threads=1)) as c:
    r = c.post("/predict", json={{"texts": ["Anna Smith .", "Boston is big ."]}})
    assert r.status_code == 200, r.text
    print(json.dumps(r.json()))
print("MODULES", "torch" in sys.modules, "transformers" in sys.modules)
""".replace("from fastapi", "import json\nfrom fastapi", 1))
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.strip().splitlines()
    assert lines[-1] == "MODULES False False" and len(json.loads(lines[-2])["entities"]) == 2


@pytest.mark.parametrize("which", ["tiny_bert", "tiny_xlmr"])
def test_tokenizer_files_match_transformers(request, data_dir, which):
    """The torch-free tokenizer gives exactly the transformers tokenizer's special ids and input ids."""
    from xner.datadir import DataDir
    from xner.encode import WordEncoder
    from xner.families import family_of
    from xner.hf import load_tokenizer
    from xner.tokenizer import SPECIALS, TokenizerFiles

    folder = request.getfixturevalue(which)
    light, hf = TokenizerFiles(folder), load_tokenizer(str(folder))
    for s in SPECIALS:
        assert getattr(light, f"{s}_token_id") == getattr(hf, f"{s}_token_id"), s
    assert light.model_max_length == hf.model_max_length and light.get_vocab() == hf.get_vocab()
    fam = family_of(json.loads((folder / "config.json").read_text()))
    for lang in ("en", "ru", "ar", "hi", "fa"):
        c = DataDir(data_dir).load(lang, "test")
        a, b = WordEncoder(light, 64, family=fam).encode(c), WordEncoder(hf, 64, family=fam).encode(c)
        assert (a.ids == b.ids).all() and (a.row_offsets == b.row_offsets).all(), lang
