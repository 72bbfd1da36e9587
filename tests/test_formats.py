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


# -- Trust issue: integer tag ids, error locations ------------------------------------------------


def _parquet(path, tokens, tags):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"tokens": tokens, "ner_tags": tags}), str(path))
    return path


@pytest.mark.parametrize("bad", [-1, -100, 7, None])
def test_bad_integer_tag_ids_are_errors(tmp_path, bad):
    """A negative (or out-of-range, or null) tag id is an error naming file and record/line,
    never ``I-LOC`` by Python's negative indexing and never a traceback."""
    p = _parquet(tmp_path / "x.parquet", [["a", "b"], ["c", "d"]], [[0, 1], [0, bad]])
    with pytest.raises(InputError) as e:
        read_corpus(p)
    assert str(p) in str(e.value) and "record 1" in str(e.value) and e.value.line is None
    assert (str(bad) if bad is not None else "None") in str(e.value)
    if bad is not None:
        j = tmp_path / "x.jsonl"
        j.write_text('{"tokens": ["a"], "ner_tags": [0]}\n\n' + json.dumps({"tokens": ["c", "d"], "ner_tags": [0, bad]})
                     + "\n", encoding="utf-8")
        with pytest.raises(InputError, match=rf"x\.jsonl:3: tag id {bad} out of range 0\.\.6"):
            read_corpus(j)


def test_bad_integer_tag_ids_hf_dataset(tmp_path):
    import datasets

    feats = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                               "ner_tags": datasets.Sequence(datasets.ClassLabel(names=LabelSet.wikiann().tags))})
    ds = datasets.Dataset.from_dict({"tokens": [["a"], ["b", "c"]], "ner_tags": [[0], [-1, 0]]}, features=feats)
    ds.save_to_disk(str(tmp_path / "ds"))
    with pytest.raises(InputError, match=r"record 1 .*tag id -1 out of range 0\.\.6"):
        read_corpus(tmp_path / "ds")


def test_iob2_error_locations_jsonl_and_records(tmp_path):
    """JSONL: the 1-based line of the record; parquet/HF: the record index, labelled as a record."""
    j = tmp_path / "x.jsonl"
    j.write_text('{"tokens": ["a"], "ner_tags": ["O"]}\n\n'
                 '{"tokens": ["a", "b", "c", "d"], "ner_tags": ["O", "O", "O", "I-PER"]}\n', encoding="utf-8")
    e = _err(tmp_path, j.read_bytes(), "x.jsonl", repair="error")
    assert e.line == 3, str(e)
    assert "token 4" in str(e)
    p = _parquet(tmp_path / "x.parquet", [["a"], ["a", "b", "c", "d"]], [["O"], ["O", "O", "O", "I-PER"]])
    with pytest.raises(InputError) as e:
        read_corpus(p, repair="error")
    assert e.value.line is None and "record 1" in str(e.value) and "token 4" in str(e.value), str(e.value)
    assert f"{p}:" not in str(e.value).replace(f"{p}: ", "")  # no 'path:N:' line label
    p = _parquet(tmp_path / "y.parquet", [["a"], ["a", "b"]], [["O"], ["O", "B-FOO"]])
    with pytest.raises(InputError) as e:
        read_corpus(p)
    assert e.value.line is None and "record 1" in str(e.value) and "unknown tag 'B-FOO'" in str(e.value)


def test_misaligned_records_name_the_record(tmp_path):
    from xner.commands import load_aligned

    g = _parquet(tmp_path / "g.parquet", [["a"], ["a", "b", "c"]], [["O"], ["O", "O", "B-PER"]])
    p = _parquet(tmp_path / "p.parquet", [["a"], ["a", "b", "X"]], [["O"], ["O", "O", "B-PER"]])
    with pytest.raises(InputError, match="does not line up") as e:
        load_aligned(str(g), str(p))
    assert e.value.line is None and "record 1" in str(e.value), str(e.value)
    gj, pj = tmp_path / "g.jsonl", tmp_path / "p.jsonl"
    gj.write_text('{"tokens": ["a"], "ner_tags": ["O"]}\n{"tokens": ["a", "b"], "ner_tags": ["O", "O"]}\n')
    pj.write_text('{"tokens": ["a"], "ner_tags": ["O"]}\n\n{"tokens": ["a", "X"], "ner_tags": ["O", "O"]}\n')
    with pytest.raises(InputError, match="does not line up") as e:
        load_aligned(str(gj), str(pj))
    assert e.value.line == 3
