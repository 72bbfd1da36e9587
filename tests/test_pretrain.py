"""``xner pretrain``: language-adaptive masked-LM pretraining (LAPT) and vocabulary augmentation (TVA)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from synth import make_data_dir, sentences, write_tsv

from xner.cli import main
from xner.datadir import DataDir
from xner.errors import XnerError
from xner.fingerprint import corpus_sha256

INIT = "bert:hidden=32,layers=1,heads=2,vocab-size=400,positions=64"


@pytest.fixture(scope="module")
def pt_data(tmp_path_factory) -> Path:
    """Two languages; fa also has an extra split (unlabelled text for pretraining)."""
    d = make_data_dir(tmp_path_factory.mktemp("pt_data"), {"en": (40, 10, 10), "fa": (40, 10, 10)}, seed=3)
    write_tsv(d / "fa" / "extra.tsv", sentences("fa", 20, seed=77))
    return d


def _args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["pretrain", "--init", INIT, "--data-dir", str(data), "--langs", "en,fa", "--out", str(out),
            "--max-steps", "4", "--save-steps", "2", "--batch-size", "8", "--lr", "1e-3", "--seed", "0",
            "--whole-word-mask", *extra]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, pt_data) -> Path:
    out = tmp_path_factory.mktemp("pretrained") / "mlm"
    assert main(_args(pt_data, out, "--keep-checkpoints")) == 0
    return out


def _card(folder: Path) -> dict:
    return json.loads((folder / "pretrain_card.json").read_text(encoding="utf-8"))


def test_init_writes_a_masked_lm_folder_with_card(pretrained, pt_data):
    names = {p.name for p in pretrained.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "pretrain_card.json"} <= names
    assert not any(n.endswith(".bin") for n in names)
    cfg = json.loads((pretrained / "config.json").read_text())
    assert cfg["architectures"] == ["BertForMaskedLM"] and cfg["hidden_size"] == 32
    card = _card(pretrained)
    assert card["kind"] == "pretrain" and card["init"]["arch"] == "bert" and card["init"]["vocab"] == "train"
    assert card["steps"] == 4 and math.isfinite(card["final_loss"]) and card["seed"] == 0
    data = card["data"]
    assert data["langs"] == ["en", "fa"]
    assert [(c["lang"], c["split"]) for c in data["corpora"]] == [("en", "train"), ("fa", "train"), ("fa", "extra")]
    assert data["sentences"] == 100 and [Path(f).name for f in data["files"]] == [
        "train.tsv", "train.tsv", "extra.tsv"]
    src = DataDir(pt_data)
    assert data["corpora"][2]["corpus_sha256"] == corpus_sha256(src.load("fa", "extra"))
    assert card["whole_word_mask"] and card["loss"] == "masked positions only"
    assert "transformers" in card["provenance"]["versions"]


def test_rerun_resumes_refuses_and_overwrites(pretrained, pt_data, tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(pretrained, out)
    shutil.rmtree(out / "checkpoints" / "checkpoint-4")  # interrupted after step 2: no last checkpoint, no card
    (out / "pretrain_card.json").unlink()
    assert main(_args(pt_data, out, "--json")) == 0  # resumes from step 2 ...
    card = json.loads(capsys.readouterr().out)
    assert card == _card(out) and card["resumed_from"].endswith("checkpoint-2") and card["steps"] == 4
    a = (out / "model.safetensors").read_bytes()
    assert a == (pretrained / "model.safetensors").read_bytes()  # ... to the uninterrupted model
    assert not (out / "checkpoints").exists()  # finished: optimizer checkpoints removed (no --keep-checkpoints)
    card_bytes = (out / "pretrain_card.json").read_bytes()
    assert main(_args(pt_data, out)) == 0  # the run is complete: nothing more to train
    assert _card(out)["steps"] == 4 and (out / "model.safetensors").read_bytes() == a
    assert (out / "pretrain_card.json").read_bytes() == card_bytes  # its record is not rewritten
    capsys.readouterr()
    assert main(_args(pt_data, out, "--mlm-probability", "0.2")) == 2
    assert "differs in: mlm_probability" in capsys.readouterr().err
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(_args(pt_data, foreign)) == 2
    assert "holds no xner" in capsys.readouterr().err and not (foreign / "config.json").exists()
    assert main(_args(pt_data, out, "--mlm-probability", "0.2", "--overwrite")) == 0
    assert _card(out)["resumed_from"] is None and _card(out)["mlm_probability"] == 0.2


def test_loss_decreases_on_repetitive_text(tiny_bert, tmp_path):
    from xner.training.pretrain import pretrain
    from xner.training.pretrain_data import read_text

    text = tmp_path / "text.txt"
    text.write_text("".join(f"{s}\n" for s in ["the cat sat on the mat", "a dog ran in the park"] * 60))
    card = pretrain(tmp_path / "lapt", [read_text(text)], model=str(tiny_bert), seed=1,
                    hp={"max_steps": 40, "batch_size": 16, "lr": 3e-3, "max_length": 16})
    assert card["mlm_head"] == "new" and card["model"] == str(tiny_bert)  # a token-classification folder
    losses = [loss for _, loss in card["loss_history"]]
    assert len(losses) >= 6 and np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    assert card["data"]["files"] == [str(text)] and card["data"]["sentences"] == 120


def _spanish(tmp_path: Path) -> Path:
    f = tmp_path / "es.txt"
    f.write_text("".join(" ".join(w for w, _ in s) + "\n" for s in sentences("es", 150, seed=5)), encoding="utf-8")
    return f


def test_vocab_augment_rows_are_sub_piece_means(tiny_bert, tmp_path):
    from safetensors.torch import load_file

    from xner.hf import load_tokenizer

    out = tmp_path / "tva"
    assert main(["pretrain", "--model", str(tiny_bert), "--text", str(_spanish(tmp_path)), "--out", str(out),
                 "--vocab-augment", "30", "--max-steps", "0"]) == 0
    tva = _card(out)["vocab_augment"]
    assert tva["requested"] == 30 and tva["added"] == 30 == len(tva["pieces"])
    counts = [p["count"] for p in tva["pieces"]]
    assert counts == sorted(counts, reverse=True)
    base_tok, new_tok = load_tokenizer(str(tiny_bert)), load_tokenizer(str(out))
    assert len(new_tok) == len(base_tok) + 30 == _card(out)["vocab_size"]
    old = load_file(str(tiny_bert / "model.safetensors"))["bert.embeddings.word_embeddings.weight"]
    new = load_file(str(out / "model.safetensors"))["bert.embeddings.word_embeddings.weight"]
    assert new.shape[0] == len(new_tok) and np.array_equal(new[: len(base_tok)].numpy(), old.numpy())
    for p in tva["pieces"]:
        assert p["piece"] not in base_tok.get_vocab() and new_tok.convert_tokens_to_ids(p["piece"]) == p["id"]
        if not p["piece"].startswith("##"):  # the base tokenizer's own split of the word
            assert base_tok.tokenize(p["piece"]) == p["from"] and new_tok.tokenize(p["piece"]) == [p["piece"]]
        mean = old[base_tok.convert_tokens_to_ids(p["from"])].mean(0)
        assert np.allclose(new[p["id"]].numpy(), mean.numpy(), atol=1e-6)


def test_vocab_augmented_model_pretrains_then_fine_tunes(tiny_bert, data_dir, tmp_path):
    out = tmp_path / "tva"
    assert main(["pretrain", "--model", str(tiny_bert), "--text", str(_spanish(tmp_path)), "--out", str(out),
                 "--vocab-augment", "20", "--max-steps", "3", "--batch-size", "16", "--max-length", "32"]) == 0
    assert _card(out)["vocab_augment"]["added"] == 20 and _card(out)["steps"] == 3
    run = tmp_path / "ner"
    assert main(["train", "--model", str(out), "--data-dir", str(data_dir), "--train-langs", "en", "--eval-lang",
                 "en", "--out", str(run), "--preset", "scratch", "--epochs", "8", "--batch-size", "16",
                 "--lr", "3e-3", "--seed", "0"]) == 0
    card = json.loads((run / "run.json").read_text())
    assert card["eval"]["f1"] > 0


def test_vocab_augment_refuses_unigram(tiny_xlmr, tmp_path, capsys):
    assert main(["pretrain", "--model", str(tiny_xlmr), "--text", str(_spanish(tmp_path)), "--out",
                 str(tmp_path / "x"), "--vocab-augment", "5", "--max-steps", "0"]) == 2
    assert "WordPiece" in capsys.readouterr().err


def test_lapt_from_a_masked_lm_folder_keeps_every_weight(pretrained, pt_data, tmp_path):
    from safetensors.torch import load_file

    from xner.fingerprint import model_sha256

    out = tmp_path / "lapt"
    assert main(["pretrain", "--model", str(pretrained), "--data-dir", str(pt_data), "--langs", "fa", "--out",
                 str(out), "--max-steps", "0"]) == 0
    card = _card(out)
    assert card["mlm_head"] == "loaded" and card["steps"] == 0 and card["data"]["langs"] == ["fa"]
    a, b = load_file(str(pretrained / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
    assert model_sha256(out) == model_sha256(pretrained)  # the cards (times) are not the model


def test_pretrained_folder_loads_everywhere(pretrained, pt_data, capfd):
    from xner.hf import load_model
    from xner.labels import LabelSet
    from xner.robustness.perturbations import Context, make
    from xner.robustness.vectors import encoder_vectors

    capfd.readouterr()
    model = load_model(str(pretrained), LabelSet.wikiann())  # train / distill --student
    assert model.config.num_labels == 7
    vec = encoder_vectors(str(pretrained)).word_vectors(["alpha", "beta"])  # --vectors
    assert vec.shape == (2, 32) and np.isfinite(vec).all()
    c = DataDir(pt_data).load("en", "test")
    r = make("context_mask", k=2).apply(c, 0, Context(mlm=str(pretrained)))  # --mlm
    filled = set(r.corpus.vocab.lookup(r.corpus.words[r.edit]))
    assert r.stats["tokens_edited"] > 0 and "[MASK]" not in filled and all(filled)
    err = capfd.readouterr().err
    assert "LOAD REPORT" not in err and "UNEXPECTED" not in err and "were not used" not in err
    assert "not sharded" not in err


@pytest.mark.parametrize("arch", ["bert", "xlmr", "electra"])
def test_masked_only_loss_equals_full_loss(arch):
    import torch
    import transformers

    from xner.families import by_arch
    from xner.training.pretrain import masked_lm_loss

    fam = by_arch(arch)
    extra = {"embedding_size": 16} if arch == "electra" else {}
    cfg = getattr(transformers, fam.config_class)(vocab_size=97, hidden_size=16, num_hidden_layers=1,
                                                  num_attention_heads=2, intermediate_size=32,
                                                  max_position_embeddings=40, **extra)
    torch.manual_seed(0)
    model = getattr(transformers, fam.model_class.replace("TokenClassification", "MaskedLM"))(cfg).eval()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 97, (3, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[2, 8:] = 0
    labels = torch.where(torch.rand(ids.shape, generator=g) < 0.3, ids, torch.full_like(ids, -100))
    labels[0, 1] = ids[0, 1]
    inputs = {"input_ids": ids, "attention_mask": mask}
    with torch.no_grad():
        full = model(**inputs, labels=labels).loss
        ours = masked_lm_loss(model, inputs, labels)
        assert torch.allclose(full, ours, atol=1e-6), (full, ours)
        assert float(masked_lm_loss(model, inputs, torch.full_like(ids, -100))) == 0.0


def test_whole_word_masks_cover_words(tiny_bert):
    from xner.hf import load_tokenizer
    from xner.training.pretrain import mlm_collator
    from xner.training.pretrain_data import encode_sentences

    tok = load_tokenizer(str(tiny_bert))
    sents = [[w for w, _ in s] for s in sentences("ru", 24, seed=9)]
    examples, truncated = encode_sentences(tok, sents, 64, whole_word=True)
    batch = mlm_collator(tok, 0.4, whole_word_mask=True, seed=3)(examples)
    assert truncated == sum(len(tok(s, is_split_into_words=True)["input_ids"]) > 64 for s in sents) > 0
    assert set(batch) >= {"input_ids", "labels", "attention_mask"}
    assert "offset_mapping" not in batch and "idx" not in batch
    masked = batch["labels"] != -100
    multi = 0
    for r in range(len(examples)):
        enc = tok(sents[r], is_split_into_words=True, truncation=True, max_length=64)
        words = enc.word_ids()
        for w in set(words) - {None}:
            pos = [i for i, x in enumerate(words) if x == w]
            assert len({bool(masked[r, i]) for i in pos}) == 1  # a word is masked whole or not at all
            multi += len(pos) > 1 and bool(masked[r, pos[0]])
        assert all(batch["input_ids"][r, i] == tok.mask_token_id for i in range(len(words)) if masked[r, i])
    assert multi > 0  # some masked words had several pieces
    again = mlm_collator(tok, 0.4, whole_word_mask=True, seed=3)(examples)
    assert bool((again["labels"] == batch["labels"]).all())  # seeded


def test_init_spec_and_text_errors(tmp_path):
    from xner.training.pretrain_data import parse_init_spec, read_text

    s = parse_init_spec("bert:hidden=64,layers=3,heads=4,vocab=mbert")
    assert (s["hidden"], s["layers"], s["heads"], s["vocab"], s["positions"]) == (64, 3, 4, "mbert", 512)
    assert parse_init_spec("xlmr:train-tokenizer")["vocab"] == "train" and parse_init_spec("bert")["layers"] == 2
    for bad, msg in [("gpt2", "unknown architecture"), ("bert:depth=3", "cannot read"), ("bert:hidden=x", "whole"),
                     ("bert:hidden=30,heads=4", "divisible"), ("xlmr:vocab=v.txt", "Unigram")]:
        with pytest.raises(XnerError, match=msg):
            parse_init_spec(bad)
    with pytest.raises(XnerError, match="no such file"):
        read_text(tmp_path / "missing.txt")
    (tmp_path / "bad.txt").write_bytes(b"ok line\n\xff\xfe broken\n")
    with pytest.raises(XnerError, match=r"bad.txt:2: not UTF-8"):
        read_text(tmp_path / "bad.txt")
    (tmp_path / "blank.txt").write_text("\n  \n")
    with pytest.raises(XnerError, match="no text"):
        read_text(tmp_path / "blank.txt")
    c = read_text(_spanish(tmp_path))
    assert len(c) == 150 and c.meta["file"].endswith("es.txt")
