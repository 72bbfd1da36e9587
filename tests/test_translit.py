"""Transliteration: the ``transliterate`` perturbation and ``xner data transliterate`` (synthetic
Devanagari, Arabic, Persian and Cyrillic sentences; the WikiANN check skips without ../shared)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from conftest import WIKIANN, needs_shared

from xner.cli import main
from xner.corpus import Corpus
from xner.datadir import DataDir, open_source
from xner.fingerprint import corpus_sha256
from xner.formats import read_corpus
from xner.labels import iob2_violations
from xner.robustness.perturbations import Context, apply_batched, make
from xner.splits import load_split
from xner.translit import Romanizer, needs_romanization

DEVANAGARI = ["राम", "दिल्ली", "मुंबई", "भारत", "सरकार", "नदी", "पर्वत", "शर्मा", "गया", "और", "में", "हिन्दी"]
ARABIC = ["محمد", "القاهرة", "مصر", "جامعة", "في", "من", "بغداد", "علي"]
PERSIAN = ["تهران", "ایران", "می\u200cخواهم", "کتاب\u200cها", "دانشگاه"]
CYRILLIC = ["Москва", "Санкт-Петербург", "Толстой", "университет"]
ASCII = ["the", "in", "2020", "(", ")", ".", "Delhi", "–", "Zürich", "1º", "।"]  # never eligible


def _corpus(n: int = 300, seed: int = 0, pools=(DEVANAGARI, ARABIC)) -> Corpus:
    """Sentences of O-words and B-/I- chunks, about a third of the words Latin, digits or punctuation."""
    rng = random.Random(seed)
    words = [w for p in pools for w in p]
    sents, tags = [], []
    for _ in range(n):
        s, t = [], []
        for _ in range(rng.randint(2, 8)):
            w = rng.choice(ASCII) if rng.random() < 0.35 else rng.choice(words)
            if rng.random() < 0.25:
                typ = rng.choice(["PER", "LOC", "ORG"])
                s += [w, rng.choice(words)]
                t += [f"B-{typ}", f"I-{typ}"]
            else:
                s.append(w)
                t.append("O")
        sents.append(s)
        tags.append(t)
    return Corpus.from_lists(sents, tags, lang="hi")


def _latin(word: str) -> bool:
    return not needs_romanization(word) and word.strip() == word and " " not in word and word != ""


def test_needs_romanization():
    for w in ASCII + ["naïve", "Straße", "ʰ"]:
        assert not needs_romanization(w), w
    for w in DEVANAGARI + ARABIC + PERSIAN + CYRILLIC + ["北京", "Αθήνα", "١٩٩٠", "१९९०"]:
        assert needs_romanization(w), w


def test_romanizer_gives_latin_tokens():
    for lang, words in (("hi", DEVANAGARI), ("ar", ARABIC), ("fa", PERSIAN), ("ru", CYRILLIC), ("zh", ["北京"])):
        rom = Romanizer("uroman", lang)
        out = rom(words)
        assert all(_latin(r) and r != w for w, r in zip(words, out, strict=True)), (lang, out)
        assert rom(ASCII) == ASCII  # words that need none come back as they are
    assert Romanizer("uroman", "ru")(["Москва"]) == ["Moskva"]
    assert Romanizer("uroman", "fa").lcode == "fas" and Romanizer("uroman", "ckb").lcode == "ckb"
    assert Romanizer("uroman", "hi")(["ـ"]) == ["ـ"]  # a tatweel romanizes to nothing: the word stays


def test_tags_identical_and_latin_output():
    c = _corpus()
    r = make("transliterate", rate=None).apply(c, 0, Context(lang="hi"))
    after = r.corpus
    assert after.tag_lists() == c.tag_lists() and np.array_equal(after.offsets, c.offsets)
    assert iob2_violations(after.tags, after.offsets).size == 0
    new, old = after.vocab.lookup(after.words), c.vocab.lookup(c.words)
    assert all(_latin(w) for w in new)  # every token is Latin now
    for n, o, e in zip(new, old, r.edit.tolist(), strict=True):
        assert e == (n != o) == needs_romanization(o)  # eligible = romanizable; ascii words untouched
    st = r.stats
    assert st["eligible"] == st["tokens_edited"] == sum(map(needs_romanization, old))
    assert st["capped"] is False and st["romanizer"]["name"] == "uroman" and st["romanizer"]["lcode"] == "hin"


def test_rate_is_honoured_and_capped_when_short():
    c = _corpus(n=2000, seed=1)
    share = np.mean([needs_romanization(w) for w in c.vocab.lookup(c.words)])
    for rate in (0.1, 0.3):
        st = make("transliterate", rate=rate).apply(c, 3, Context(lang="hi")).stats
        tol = 4 * (rate * (1 - rate) / st["tokens"]) ** 0.5 + 0.05 * rate
        assert abs(st["token_edit_rate"] - rate) <= tol and st["capped"] is False, st
    st = make("transliterate", rate=1.0).apply(c, 3, Context(lang="hi")).stats
    assert st["capped"] is True and st["achieved_rate"] == pytest.approx(share)  # only real transliterations count
    en = Corpus.from_lists([["the", "Delhi", "2020"]], [["O", "B-LOC", "O"]], lang="en")
    st = make("transliterate", rate=0.5).apply(en, 0, None).stats
    assert st["eligible"] == st["tokens_edited"] == 0 and st["capped"] is True


def test_reproducible_by_seed_and_across_batches():
    c = _corpus(n=400, seed=2, pools=(DEVANAGARI, PERSIAN, CYRILLIC))
    a = make("transliterate", rate=0.3).apply(c, 7, Context(lang="hi"))
    b = make("transliterate", rate=0.3).apply(c, 7, Context(lang="hi"))
    assert np.array_equal(a.edit, b.edit) and a.corpus.sentences() == b.corpus.sentences()
    batched = apply_batched(make("transliterate", rate=0.3), c, 7, Context(lang="hi"), batch_size=13, workers=2)
    assert np.array_equal(batched.edit, a.edit) and batched.corpus.sentences() == a.corpus.sentences()
    other = make("transliterate", rate=0.3).apply(c, 8, Context(lang="hi"))
    assert not np.array_equal(other.edit, a.edit)


def test_entities_only_and_combinations():
    c = _corpus(seed=3)
    r = make("transliterate", rate=None, entities_only=True).apply(c, 0, Context(lang="hi"))
    assert r.edit.any() and (c.tags[r.edit] != 0).all()
    assert not (r.edit & (c.tags == 0)).any()
    both = make("char_noise+transliterate", rate=0.3).apply(c, 0, Context(lang="hi"))
    assert both.corpus.tag_lists() == c.tag_lists() and [p["perturbation"] for p in both.stats["parts"]] == [
        "char_noise", "transliterate"]


def test_unknown_romanizer():
    from xner.errors import XnerError

    with pytest.raises(XnerError, match="romanizer"):
        make("transliterate", romanizer="nope").apply(_corpus(n=5), 0, None)


def test_anyascii_when_installed():
    pytest.importorskip("anyascii")
    c = _corpus(n=50)
    r = make("transliterate", rate=None, romanizer="anyascii").apply(c, 0, Context(lang="hi"))
    assert all(_latin(w) for w in r.corpus.vocab.lookup(r.corpus.words))


# -- xner data transliterate ------------------------------------------------------------------------


def _data(tmp_path):
    from xner.formats import write_corpus

    root = tmp_path / "data"
    for k, (lang, pools) in enumerate((("hi", (DEVANAGARI,)), ("ar", (ARABIC,)))):
        for j, split in enumerate(("train", "dev", "test")):
            write_corpus(_corpus(n=40, seed=10 * k + j, pools=pools), root / lang / f"{split}.tsv", "tsv")
    return root


def test_data_command_round_trip(tmp_path, capsys):
    data, out = _data(tmp_path), tmp_path / "romanized"
    assert main(["data", "transliterate", "--data-dir", str(data), "--lang", "hi", "--out", str(out), "--json"]) == 0
    cap = capsys.readouterr()
    summary = json.loads(cap.out)
    assert "test:" in cap.err and "romanized" in cap.err  # human messages on stderr only
    assert sorted(summary["splits"]) == ["dev", "test", "train"] and summary["romanizer"]["name"] == "uroman"
    prov = json.loads((out / "hi" / "transliterate.json").read_text(encoding="utf-8"))
    assert prov["romanizer"]["version"] and prov["tool"] == "xner data transliterate"
    src = DataDir(data)
    for split in ("train", "dev", "test"):
        before, after = src.load("hi", split), read_corpus(out / "hi" / f"{split}.tsv")
        assert after.tag_lists() == before.tag_lists() and np.array_equal(after.offsets, before.offsets)
        words = after.vocab.lookup(after.words)
        assert all(_latin(w) for w in words)
        assert words == Romanizer("uroman", "hi")(before.vocab.lookup(before.words))
        assert prov["splits"][split]["corpus_sha256"] == corpus_sha256(before)
        assert prov["splits"][split]["output_sha256"] == corpus_sha256(after)
    # the folder is a data folder: what xner train reads (train split, evaluation split, the study's split)
    got = open_source(str(out))
    assert got.languages() == ["hi"] and got.splits("hi") == ["train", "dev", "test"]
    assert len(load_split(got, "hi", "train", "standard", 42)) == 40
    assert len(load_split(got, "hi", "test", "study", 42)) > 0
    # its own output may be replaced (one split this time), and other languages may join it
    assert main(["data", "transliterate", "--data-dir", str(data), "--lang", "hi", "--out", str(out),
                 "--splits", "test"]) == 0
    assert sorted(p.name for p in (out / "hi").iterdir()) == ["test.tsv", "transliterate.json"]
    assert main(["data", "transliterate", "--data-dir", str(data), "--lang", "ar", "--out", str(out),
                 "--splits", "train,test"]) == 0
    assert DataDir(out).languages() == ["ar", "hi"] and not [p for p in out.iterdir() if p.name.startswith(".")]


def test_data_command_refuses_foreign_folders(tmp_path, capsys):
    data = _data(tmp_path)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me", encoding="utf-8")
    assert main(["data", "transliterate", "--data-dir", str(data), "--lang", "hi", "--out", str(foreign)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]  # nothing was touched
    plain = tmp_path / "plain"  # a language folder not written by the command is foreign too
    (plain / "hi").mkdir(parents=True)
    (plain / "hi" / "train.tsv").write_text("a\tO\n", encoding="utf-8")
    assert main(["data", "transliterate", "--data-dir", str(data), "--lang", "hi", "--out", str(plain)]) == 2
    assert (plain / "hi" / "train.tsv").read_text(encoding="utf-8") == "a\tO\n"
    for out in (data, data / "romanized"):  # the input itself, or a folder inside it
        assert main(["data", "transliterate", "--data-dir", str(data), "--lang", "hi", "--out", str(out)]) == 2
        assert "overlaps the input" in capsys.readouterr().err
    assert main(["data", "transliterate", "--data-dir", str(data), "--lang", "hi", "--out", str(tmp_path / "x"),
                 "--splits", "extra"]) == 2
    assert not (tmp_path / "x" / "hi").exists()


@needs_shared
def test_wikiann_hindi_becomes_latin():
    c = DataDir(WIKIANN).load("hi", "test")
    r = make("transliterate", rate=1.0).apply(c, 0, Context(lang="hi"))
    words = r.corpus.vocab.lookup(r.corpus.words)
    assert r.corpus.tag_lists() == c.tag_lists()
    assert not any(map(needs_romanization, words))
    assert r.stats["tokens_edited"] > 0.7 * r.stats["tokens"]
