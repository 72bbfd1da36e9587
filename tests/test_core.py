from __future__ import annotations

import numpy as np
import pytest
from conftest import WIKIANN, needs_shared

from xner.corpus import Corpus
from xner.datadir import DataDir, open_source
from xner.errors import InputError, XnerError
from xner.labels import LabelSet, iob2_violations, repair_iob2
from xner.langs import NAMED_SETS, PAIRS, POOL, SOURCE_GROUPS, parse_langs, source_group
from xner.overlap import overlap
from xner.splits import STUDY_CAP, load_split, study_split
from xner.stats import corpus_stats


def test_labelset_layout():
    ls = LabelSet.wikiann()
    assert ls.tags == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
    for i, t in enumerate(ls.tags):
        assert ls.encode(t) == i and ls.decode(i) == t
    with pytest.raises(KeyError):
        ls.encode("B-MISC")
    with pytest.raises(ValueError):
        ls.encode("PER")
    g = LabelSet([], growable=True)
    assert g.encode("I-MISC") == 2 and g.types == ["MISC"]


def _tags(*seqs):
    ls = LabelSet.wikiann()
    c = Corpus.from_lists([["w"] * len(s) for s in seqs], list(seqs), ls)
    return c.tags, c.offsets, ls


def test_repair_policies():
    tags, off, ls = _tags(["O", "I-PER", "I-PER", "B-LOC", "I-ORG"], ["I-LOC"])
    assert iob2_violations(tags, off).tolist() == [1, 4, 5]
    fixed, n = repair_iob2(tags, off, "conlleval")
    assert ls.decode_array(fixed) == ["O", "B-PER", "I-PER", "B-LOC", "B-ORG", "B-LOC"] and n == 3
    dropped, n = repair_iob2(tags, off, "drop")
    assert ls.decode_array(dropped) == ["O", "O", "O", "B-LOC", "O", "O"] and n == 4
    with pytest.raises(XnerError):
        repair_iob2(tags, off, "error")
    kept, n = repair_iob2(tags, off, "keep")
    assert kept is tags and n == 3


def test_chunks_conlleval_semantics():
    tags, off, _ = _tags(["B-PER", "I-PER", "I-LOC", "O", "I-ORG"], ["B-LOC", "B-LOC"])
    c = Corpus(np.zeros(tags.size, np.int32), tags, off, __import__("xner").WordVocab(["w"]))
    assert c.chunks().tolist() == [[0, 0, 2, 0], [0, 2, 3, 2], [0, 4, 5, 1], [1, 5, 6, 2], [1, 6, 7, 2]]


def test_study_split_deterministic(data_dir):
    src = DataDir(data_dir)
    pool = [src.load("en", s) for s in ("train", "dev", "test")]
    a, b = study_split(pool, seed=3), study_split(pool, seed=3)
    c = study_split(pool, seed=4)
    assert a["train"].sentences() == b["train"].sentences()
    assert a["train"].sentences() != c["train"].sentences()
    n = sum(len(p) for p in pool)
    assert len(a["train"]) + len(a["test"]) == n and len(a["test"]) == round(0.2 * n)
    capped = study_split(pool, seed=3, cap=50)
    assert len(capped["train"]) == 40 and len(capped["test"]) == 10
    with pytest.raises(XnerError):
        load_split(src, "en", "dev", "study")


def test_langs_registry():
    assert len(POOL) == 21 and len(PAIRS) == 13 and len(NAMED_SETS["panx"]) == 40
    assert {p.lrl for p in PAIRS} == set(SOURCE_GROUPS)
    for lrl, g in SOURCE_GROUPS.items():
        assert lrl not in g["related"] + g["unrelated"]
        assert not set(g["related"]) & set(g["unrelated"])
    assert source_group("ms", "related", 2) == ["id", "en"]
    assert parse_langs("hrl") == ["fr", "ar", "en", "es", "cs", "id", "nl", "it"]
    with pytest.raises(XnerError):
        source_group("xx", "related", 1)


def test_overlap_hand_computed():
    ls = LabelSet.wikiann()
    train = Corpus.from_lists([["Paris", "is", "big"], ["Marie", "Curie", "left"]],
                              [["B-LOC", "O", "O"], ["B-PER", "I-PER", "O"]], ls, "xx")
    test = Corpus.from_lists([["Paris", "is", "small"], ["Marie", "Dupont", "is"], ["Paris"]],
                             [["B-LOC", "O", "O"], ["B-PER", "I-PER", "O"], ["B-ORG"]], ls, "yy")
    ov = overlap(train, test)
    assert ov["test_entity_tokens"] == 4 and ov["entity_token_overlap_count"] == 3
    assert ov["entity_token_overlap"] == 0.75
    assert ov["shared_chunks_unique"] == 1 and ov["test_chunks_unique"] == 2  # "Paris", "Marie Dupont"
    assert ov["shared_chunks_unique_typed"] == 1 and ov["test_chunks_unique_typed"] == 3
    assert ov["seen_chunk_share"] == 2 / 3 and ov["seen_chunk_share_typed"] == 1 / 3
    assert ov["o_word_overlap"] == 0.5 and ov["o_token_overlap"] == 2 / 3
    # the study's: (word, tag) pairs (Paris/B-LOC, Marie/B-PER shared; Dupont and Paris/B-ORG not), the share
    # of distinct test chunks seen in training, O tokens its P2 may replace ("is": a training O-word)
    assert ov["entity_token_tag_overlap_count"] == 2 and ov["entity_token_tag_overlap"] == 0.5
    assert ov["shared_chunk_share_unique"] == 0.5
    assert ov["context_overlap_count"] == 2 and ov["context_overlap"] == 2 / 3


def test_stats_counts(data_dir):
    c = DataDir(data_dir).load("ar", "train")
    s = corpus_stats(c)
    assert s["sentences"] == 120 and s["entities"] == sum(s["entities_per_type"].values())
    assert s["entities"] == c.chunks().shape[0]


def test_missing_language_and_folder(tmp_path, data_dir):
    with pytest.raises(InputError, match="data folder not found"):
        DataDir(tmp_path / "nope")
    with pytest.raises(InputError, match="no folder for language 'xx'"):
        DataDir(data_dir).load("xx", "train")


def test_hub_offline_message(monkeypatch):
    src = open_source("hub")
    with pytest.raises(XnerError, match="--data-dir"):
        src.load("fa", "test")


@needs_shared
def test_real_wikiann_sizes():
    src = DataDir(WIKIANN)
    assert [len(src.load("fa", s)) for s in ("train", "dev", "test")] == [20000, 10000, 10000]
    study = load_split(src, "fa", "train", "study", seed=1)
    assert len(study) == STUDY_CAP - round(STUDY_CAP * 0.2)


# -- Trust issue: hub spec, thread counts -------------------------------------------------------


def test_hub_only_for_explicit_spec(tmp_path, data_dir, monkeypatch):
    """A local folder whose name merely starts with 'hub' is a local folder, not the hub."""
    import shutil

    from xner.datadir import HubSource

    monkeypatch.chdir(tmp_path)
    shutil.copytree(data_dir / "en", tmp_path / "hubdata" / "en")
    src = open_source("hubdata")
    assert isinstance(src, DataDir) and len(src.load("en", "test")) == 40
    with pytest.raises(InputError, match="data folder not found"):
        open_source("hub-missing")  # a missing local folder, not a hub dataset called '-missing'
    monkeypatch.setenv("XNER_DATA_DIR", "hubdata")
    assert isinstance(open_source(None), DataDir)
    monkeypatch.delenv("XNER_DATA_DIR")
    assert isinstance(open_source("hub"), HubSource) and open_source("hub").dataset == "wikiann"
    assert open_source("hub:unimelb-nlp/wikiann").dataset == "unimelb-nlp/wikiann"
    assert isinstance(open_source(None), HubSource)
    with pytest.raises(XnerError, match="hub:NAME"):
        open_source("hub:")


def test_omp_num_threads_nested_syntax_and_affinity(monkeypatch):
    """OMP_NUM_THREADS=4,2 is valid OpenMP (nested levels); core counts honour the CPU affinity."""
    import os

    import torch

    from xner.cli import set_torch_threads
    from xner.provenance import provenance

    monkeypatch.setenv("OMP_NUM_THREADS", "3,2")
    set_torch_threads()
    assert torch.get_num_threads() == 3
    for bad in ("abc", "\u00b2", "0"):  # a superscript two is a digit to str.isdigit, not to int()
        monkeypatch.setenv("OMP_NUM_THREADS", bad)
        with pytest.raises(XnerError, match="OMP_NUM_THREADS"):
            set_torch_threads()
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    set_torch_threads()
    assert torch.get_num_threads() == 2
    assert provenance()["machine"]["cores"] == 2
    torch.set_num_threads(1)
