from __future__ import annotations

import os

# one thread everywhere: tests must not fight each other on a 2-core machine
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.pop("XNER_DATA_DIR", None)

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

from synth import make_data_dir  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
WIKIANN = SHARED / "wikiann"
MBERT_VOCAB = SHARED / "tokenizers" / "bert-base-multilingual-cased" / "vocab.txt"

needs_shared = pytest.mark.skipif(not WIKIANN.is_dir(), reason="../shared/data/wikiann not present")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """Generated WikiANN-like data in four scripts."""
    return make_data_dir(tmp_path_factory.mktemp("data"),
                         {"en": (120, 40, 40), "ru": (120, 40, 40), "ar": (120, 40, 40), "hi": (60, 30, 30),
                          "fa": (120, 40, 40)})


@pytest.fixture(autouse=True)
def _one_thread():
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, data_dir) -> Path:
    """A 2-layer, 32-wide random BERT with a WordPiece vocabulary trained on the generated data."""
    from xner.training.models import init_model

    files = [str(data_dir / lang / "train.tsv") for lang in ("en", "ru", "ar", "hi", "fa")]
    return init_model("bert", tmp_path_factory.mktemp("tiny_bert"), train_tokenizer_on=files, hidden=32, layers=2,
                      heads=2, max_length=64, vocab_size=600)


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory, data_dir) -> Path:
    from xner.training.models import init_model

    files = [str(data_dir / lang / "train.tsv") for lang in ("en", "ru", "ar", "hi", "fa")]
    return init_model("xlmr", tmp_path_factory.mktemp("tiny_xlmr"), train_tokenizer_on=files, hidden=32, layers=2,
                      heads=2, max_length=64, vocab_size=600)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, data_dir, tiny_bert, tiny_xlmr) -> dict[str, str]:
    """Tiny BERT and XLM-R fine-tuned on the generated English data."""
    from xner.datadir import DataDir
    from xner.training.finetune import finetune
    from xner.training.presets import resolve

    src = DataDir(data_dir)
    out = {}
    for name, m in (("bert", tiny_bert), ("xlmr", tiny_xlmr)):
        d = tmp_path_factory.mktemp(f"trained_{name}")
        finetune(str(m), [src.load("en", "train")], None, d, resolve("scratch", epochs=10, batch_size=16, lr=3e-3))
        out[name] = str(d)
    return out


@pytest.fixture(scope="session")
def onnx_dir(tmp_path_factory, trained, data_dir) -> Path:
    """The trained tiny BERT exported (torch.onnx, fp32, gated)."""
    from xner.datadir import DataDir
    from xner.export.build import export

    d = tmp_path_factory.mktemp("onnx")
    export(trained["bert"], d, "torch", eval_corpus=DataDir(data_dir).load("en", "test"))
    return d


@pytest.fixture(scope="session")
def int8_dir(tmp_path_factory, trained, data_dir) -> Path:
    """The trained tiny BERT exported as ``--quantize int8`` makes it (static QDQ, calibrated, gated)."""
    from xner.datadir import DataDir
    from xner.export.build import export

    d = tmp_path_factory.mktemp("onnx_int8")
    export(trained["bert"], d, "torch", quantize="int8", eval_corpus=DataDir(data_dir).load("en", "test"),
           overwrite=True)
    return d


@pytest.fixture(scope="session")
def tiny_mlm(tmp_path_factory, tiny_bert) -> Path:
    """A 1-layer random masked LM with tiny_bert's tokenizer (for context_mask --mlm)."""
    from transformers import BertConfig, BertForMaskedLM

    from xner.hf import load_tokenizer

    tok = load_tokenizer(str(tiny_bert))
    d = tmp_path_factory.mktemp("mlm")
    BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=64, max_position_embeddings=64)).save_pretrained(d)
    tok.save_pretrained(d)
    return d
