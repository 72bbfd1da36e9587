from __future__ import annotations

import json

import numpy as np
import pytest
from synth import sentences, write_tsv

from xner.corpus import Corpus, concat
from xner.errors import InputError
from xner.formats import detect_format, read_corpus, write_corpus
from xner.labels import LabelSet


def _corpus(lang="ru", n=30, seed=1) -> Corpus:
    s = sentences(lang, n, seed)
    return Corpus.from_lists([[w for w, _ in x] for x in s], [[t for _, t in x] for x in s], lang=lang)


def _same(a: Corpus, b: Corpus) -> None:
    assert a.sentences() == b.sentences()
    assert a.tag_lists() == b.tag_lists()


@pytest.mark.parametrize("fmt,ext", [("tsv", ".tsv"), ("rahimi", ".tsv"), ("conll", ".conll"),
                                     ("jsonl", ".jsonl"), ("parquet", ".parquet")])
def test_round_trip(tmp_path, fmt, ext):
    c = _corpus("ru") if fmt != "conll" else _corpus("en")
    p = tmp_path / f"x{ext}"
    write_corpus(c, p, fmt)
    assert detect_format(p) == fmt
    back = read_corpus(p)
    _same(c, back)
    if fmt == "rahimi":
        assert back.lang == "ru"
        assert p.read_text(encoding="utf-8").startswith("ru:")


def test_hf_datasets_round_trip(tmp_path):
    import datasets

    c = _corpus("ar")
    feats = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                               "ner_tags": datasets.Sequence(datasets.ClassLabel(names=LabelSet.wikiann().tags))})
    ids = [[LabelSet.wikiann().encode(t) for t in ts] for ts in c.tag_lists()]
    ds = datasets.Dataset.from_dict({"tokens": c.sentences(), "ner_tags": ids}, features=feats)
    datasets.DatasetDict({"test": ds}).save_to_disk(str(tmp_path / "ds"))
    back = read_corpus(tmp_path / "ds", split="test")
    _same(c, back)
    ds.to_parquet(str(tmp_path / "x.parquet"))
    _same(c, read_corpus(tmp_path / "x.parquet"))


def test_conll_extra_columns_survive(tmp_path):
    src = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n"
    p = tmp_path / "a.conll"
    p.write_text(src, encoding="utf-8")
    c = read_corpus(p)
    assert len(c) == 2 and c.columns is not None and c.columns[0] == "NNP\tB-NP"
    write_corpus(c, tmp_path / "b.conll")
    assert (tmp_path / "b.conll").read_text(encoding="utf-8") == src.split("\n\n", 1)[1] + "\n"


def test_bom_crlf_whitespace_separators(tmp_path):
    p = tmp_path / "a.tsv"
    p.write_bytes("\ufeffParis\tB-LOC\r\nest\tO\r\n \t \r\nMarie\tB-PER\r\nCurie\tI-PER\r\n\r\n\r\n".encode())
    c = read_corpus(p)
    assert c.sentences() == [["Paris", "est"], ["Marie", "Curie"]]
    assert c.tag_lists() == [["B-LOC", "O"], ["B-PER", "I-PER"]]


def _err(tmp_path, content: bytes, name="bad.tsv", **kw) -> InputError:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputError) as e:
        read_corpus(p, **kw)
    assert str(p) in str(e.value)
    return e.value


def test_bad_inputs_name_file_and_line(tmp_path):
    assert _err(tmp_path, b"a\tO\nb\n").line == 2  # no tag
    e = _err(tmp_path, b"a\tO\n\nb\tB-MISC\n")
    assert e.line == 3 and "unknown tag 'B-MISC'" in str(e)
    assert _err(tmp_path, b"a\tO\nb\tX-PER\n").line == 2  # not IOB2
    assert _err(tmp_path, b"a\tO\nb\x00\tO\n").line == 2  # NUL
    e = _err(tmp_path, b"a\tO\n\nb\xff\xfe\tO\n")
    assert e.line == 3 and "UTF-8" in str(e)
    assert "empty" in str(_err(tmp_path, b""))
    assert "empty" in str(_err(tmp_path, b"\n \n\n"))
    assert _err(tmp_path, b'{"tokens": ["a"], "ner_tags": ["O"]}\n{"tokens": ["a"]}\n', "x.jsonl").line == 2
    assert _err(tmp_path, b'{"tokens": ["a", "b"], "ner_tags": ["O"]}\n', "x.jsonl").line == 1
    assert _err(tmp_path, b"a\tO\nb\tI-PER\n", repair="error").line == 2
    with pytest.raises(InputError, match="no such file"):
        read_corpus(tmp_path / "missing.tsv")


def test_custom_types(tmp_path):
    p = tmp_path / "a.tsv"
    p.write_text("a\tB-MISC\nb\tI-MISC\n\n", encoding="utf-8")
    c = read_corpus(p, labels=LabelSet(["PER", "MISC"]))
    assert c.tag_lists() == [["B-MISC", "I-MISC"]]


def test_subset_and_concat(tmp_path):
    a, b = _corpus("en", 10, 1), _corpus("ru", 12, 2)
    ab = concat([a, b])
    assert len(ab) == 22 and ab.sentences() == a.sentences() + b.sentences()
    sub = ab.subset(np.array([21, 0]))
    assert sub.sentences() == [b.sentences()[-1], a.sentences()[0]]


def test_jsonl_int_tags_and_lang(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"tokens": ["Jakarta", "kota"], "ner_tags": [5, 0], "lang": "id"}) + "\n", encoding="utf-8")
    c = read_corpus(p)
    assert c.lang == "id" and c.tag_lists() == [["B-LOC", "O"]]


def test_large_file_reads_every_sentence(tmp_path):
    s = sentences("hi", 500, 3)
    write_tsv(tmp_path / "a.tsv", s)
    c = read_corpus(tmp_path / "a.tsv")
    assert len(c) == 500 and c.n_tokens == sum(len(x) for x in s)
