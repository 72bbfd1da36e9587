"""Study fidelity: the reference study's measures and perturbations as the study (and Srinivasan &
Vajjala, Wu et al.) defined them, each deviation a named option."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import WIKIANN, needs_shared

from xner.corpus import Corpus
from xner.datadir import DataDir
from xner.errors import XnerError
from xner.labels import LabelSet, iob2_violations
from xner.overlap import overlap
from xner.robustness.perturbations import Context, make
from xner.robustness.pools import resolve_pool
from xner.robustness.recipes import RECIPES, recipe, recipe_specs


class Vectors:
    """Word vectors from character counts (a fixed 'encoder')."""

    def __init__(self, salt: int = 0):
        self.salt = salt

    def word_vectors(self, words):
        v = np.zeros((len(words), 64), np.float32)
        for i, w in enumerate(words):
            for ch in w:
                v[i, (ord(ch) + self.salt) % 64] += 1
        return v + 1e-3


def _c(sents, tags, lang):
    return Corpus.from_lists(sents, tags, LabelSet.wikiann(), lang)


# -- overlap -------------------------------------------------------------------------------------------


def test_study_overlap_hand_computed():
    train = _c([["Paris", "is", "the", "river", "x", "e-mail"], ["Marie", "Curie", "of", "River"]],
               [["B-LOC", "O", "O", "O", "O", "O"], ["B-PER", "I-PER", "O", "O"]], "en")
    test = _c([["Paris", "the", "River", "x", "e-mail", "bank"], ["Marie", "Paris", "river"]],
              [["B-LOC", "O", "O", "O", "O", "O"], ["B-PER", "B-LOC", "O"]], "en")
    ov = overlap(train, test)
    # entity tokens Paris/B-LOC, Marie/B-PER, Paris/B-LOC: all three (word, tag) pairs occur in training
    assert ov["entity_token_tag_overlap"] == 1.0 and ov["shared_token_tag_pairs_unique"] == 2
    # word-only overlap is the same here; a tag change separates them
    test2 = _c([["Paris"]], [["B-ORG"]], "en")
    assert overlap(train, test2)["entity_token_overlap"] == 1.0
    assert overlap(train, test2)["entity_token_tag_overlap"] == 0.0
    # distinct test chunks Paris and Marie: only Paris is a training chunk (that one is Marie Curie)
    assert ov["shared_chunk_share_unique"] == 0.5 and ov["seen_chunk_share"] == 2 / 3
    # O tokens: the (stop word), River (lower-cased: a training O-word), x (one character), e-mail (punct.),
    # bank (not in training), river -> 2 of 6 may be replaced by P2
    assert ov["context_overlap_count"] == 2 and ov["context_overlap"] == pytest.approx(2 / 6)


@needs_shared
@pytest.mark.parametrize("pair,tag_overlap,chunk_share", [(("es", "ast"), 0.560, 0.275), (("ar", "fa"), 0.193, 0.002)])
def test_study_overlap_on_wikiann(pair, tag_overlap, chunk_share):
    src = DataDir(WIKIANN)
    ov = overlap(src.load(pair[0], "train"), src.load(pair[1], "test"))
    assert round(ov["entity_token_tag_overlap"], 3) == tag_overlap
    assert round(ov["shared_chunk_share_unique"], 3) == chunk_share


# -- P2 ------------------------------------------------------------------------------------------------


def test_context_swap_study_filter_lowercase_and_case():
    train = _c([["the", "river", "x", "e-mail", "Paris"]], [["O", "O", "O", "O", "B-LOC"]], "en")
    test = _c([["The", "River", "x", "e-mail", "banks", "rivers", "Paris"]],
              [["O", "O", "O", "O", "O", "O", "B-LOC"]], "en")
    ctx = Context(train=train, vectors=Vectors(), lang="en")
    r = make("context_swap").apply(test, 0, ctx)
    new = r.corpus.vocab.lookup(r.corpus.words)
    assert r.edit.tolist() == [False, True, False, False, False, False, False]  # only River is eligible
    assert new[1] == "Rivers"  # nearest candidate 'rivers', capitalised like the word it replaces
    assert r.stats["vectors"].startswith("<") or r.stats["vectors"]
    # xner's former frequency filter is a named option (no stop words: 'The' is shared case-sensitively? no)
    f = make("context_swap", filter="frequency", stopwords=0).apply(test, 0, ctx)
    assert f.stats["params"]["filter"] == "frequency"
    with pytest.raises(XnerError, match="filter"):
        make("context_swap", filter="nope").apply(test, 0, ctx)


def test_context_swap_vectors_are_fixed_per_experiment(data_dir):
    src = DataDir(data_dir)
    c, train = src.load("ru", "test"), src.load("en", "train")
    assert "vectors" in make("context_swap").requirements()
    assert "runtime" in make("context_swap", vectors="model").requirements()
    with pytest.raises(XnerError, match="needs a fixed word-vector encoder"):
        make("context_swap").apply(c, 0, Context(train=train, runtime=Vectors()))
    # two evaluated models, one fixed encoder: the same perturbed test set
    a = make("context_swap").apply(c, 0, Context(train=train, runtime=Vectors(1), vectors=Vectors(), lang="ru"))
    b = make("context_swap").apply(c, 0, Context(train=train, runtime=Vectors(2), vectors=Vectors(), lang="ru"))
    assert a.corpus.vocab.lookup(a.corpus.words) == b.corpus.vocab.lookup(b.corpus.words)


# -- Srinivasan & Vajjala --------------------------------------------------------------------------------


def _contains(seq, sub):
    return any(seq[i : i + len(sub)] == sub for i in range(len(seq) - len(sub) + 1))


def test_entity_resample_every_mention_not_in_sentence_without_replacement(data_dir):
    c = DataDir(data_dir).load("ru", "test")
    r = make("entity_resample").apply(c, 0, None)
    st = r.stats
    assert st["params"] == {"rate": None, "method": "sv"}
    assert st["entities_edited"] == st["entities"] == c.chunks().shape[0]  # every mention
    before, after = c.sentences(), r.corpus.sentences()
    donors = []
    for s, (b, a) in enumerate(zip(before, after, strict=True)):
        for _, x, y, _t in r.corpus.chunks()[r.corpus.chunks()[:, 0] == s].tolist():
            off = r.corpus.offsets[s]
            new = a[x - off : y - off]
            assert not _contains(b, new), (b, new)  # not already in its sentence
            donors.append(tuple(new))
    # without replacement: a surface is given no more often than it occurs as a mention
    from collections import Counter

    have = Counter(tuple(c.vocab.lookup(c.words[x:y])) for _, x, y, _t in c.chunks().tolist())
    used = Counter(donors)
    assert sum(max(0, n - have[k]) for k, n in used.items()) <= st["donors_reused"]
    shift = make("entity_resample", method="shift", rate=0.3).apply(c, 0, None)
    assert 0 < shift.stats["entities_edited"] < st["entities_edited"]


def test_context_mask_sequential_every_occurrence():
    sents = [["a", "b", "a", "c", "a", "d"], ["x", "y", "x", "z"]] * 20
    c = _c(sents, [["O"] * len(s) for s in sents], "en")
    r = make("context_mask", k=2).apply(c, 3, None)
    words = r.corpus.vocab.lookup(r.corpus.words)
    for s in range(len(c)):
        a, b = c.offsets[s], c.offsets[s + 1]
        orig = c.vocab.lookup(c.words[a:b])
        picked = {w for w, e in zip(orig, r.edit[a:b], strict=True) if e}
        assert len(picked) == 2  # k words per sentence, in sequence
        for w, e, n in zip(orig, r.edit[a:b], words[a:b], strict=True):
            assert e == (w in picked)  # every occurrence of a picked word, nothing else
            assert (n == "[MASK]") == e
    par = make("context_mask", k=2, fill="parallel").apply(c, 3, None)
    assert int(par.edit.sum()) == 2 * len(c)


def test_context_mask_with_mlm_leaves_no_mask_token(data_dir, tiny_mlm):
    from xner.hf import load_tokenizer

    tok = load_tokenizer(str(tiny_mlm))
    c = DataDir(data_dir).load("en", "test")
    for fill in ("sequential", "parallel"):
        r = make("context_mask", fill=fill).apply(c, 0, Context(mlm=str(tiny_mlm)))
        text = r.corpus.vocab.lookup(r.corpus.words)
        assert r.stats["tokens_edited"] > 0 and tok.mask_token not in text and all(text), fill
        assert iob2_violations(r.corpus.tags, r.corpus.offsets).size == 0


# -- names and places of the target's culture -------------------------------------------------------------


def test_pools_are_the_targets_own(data_dir):
    src = DataDir(data_dir)
    assert resolve_pool("auto", "PER", "ru", src).spec == "faker:ru_RU"
    assert resolve_pool("auto", "LOC", "ru", src).spec == "cldr:ru"
    assert resolve_pool("auto", "PER", "xx", src).spec == "wikiann:xx" if src.has("xx", "train") else True
    with pytest.raises(XnerError, match="places"):
        resolve_pool("cldr:ru", "PER", "ru", src)
    if WIKIANN.is_dir():
        w = DataDir(WIKIANN)
        test = w.load("ast", "test")
        p = resolve_pool("auto", "PER", "ast", w, test=test, given=True)
        assert p.spec == "wikiann:ast" and "absent from the test set" in p.origin
        test_words = set(test.vocab.lookup(test.words[test.tags != 0]))
        assert not any(x[0] in test_words for x in p.items)
        assert resolve_pool("auto", "LOC", "ast", w).spec == "cldr:ast"
        assert resolve_pool("auto", "LOC", "sco", w).spec == "wikiann:sco"  # CLDR has no Scots
        for lrl in ("br", "oc", "ms", "af", "scn", "an", "ast"):  # never the source language's locale
            assert resolve_pool("auto", "PER", lrl, w).spec == f"wikiann:{lrl}"
        assert resolve_pool("nearest", "PER", "ast", w).spec == "faker:es_ES"  # xner's former, by name


def test_name_swap_replaces_given_names(data_dir):
    c = DataDir(data_dir).load("en", "test")
    ctx = Context(lang="en")
    r = make("name_swap").apply(c, 0, ctx)
    assert r.stats["pool"].startswith("faker:en") and r.stats["pool_items"] > 100 and "given names" in r.stats["pool_origin"]
    per = c.labels.types.index("PER")
    # every PER chunk had its first token replaced (one given name, possibly of several words), the rest kept
    ch = c.chunks()
    after = r.corpus.sentences()
    for s, a, b, _t in ch[ch[:, 3] == per].tolist():
        if b - a > 1:
            rest = c.vocab.lookup(c.words[a + 1 : b])
            assert _contains(after[s], rest)
    whole = make("name_swap", span="chunk").apply(c, 0, ctx)
    assert whole.stats["tokens_edited"] > r.stats["tokens_edited"]


# -- rates that tell the truth, recipes -----------------------------------------------------------------------


def test_capped_rate_is_reported(data_dir):
    src = DataDir(data_dir)
    c, train = src.load("fa", "test"), src.load("en", "train")  # scripts apart: almost nothing shared
    r = make("entity_swap_shared", rate=0.5).apply(c, 0, Context(train=train))
    assert r.stats["capped"] and r.stats["requested_rate"] == 0.5 and r.stats["achieved_rate"] < 0.5
    ok = make("char_noise", rate=0.1).apply(c, 0, None)
    assert not ok.stats["capped"] and ok.stats["requested_rate"] == 0.1
    from xner.robustness.evaluate import capped_warnings

    assert "capped" in capped_warnings(r.stats)[0] and not capped_warnings(ok.stats)


def test_recipes_are_cited_and_make(data_dir):
    assert set(RECIPES) == {"manafi2024", "srinivasan2023"}
    study = recipe_specs("manafi2024")
    assert [s for s, _ in study] == ["entity_swap_shared", "context_swap", "entity_swap_shared+context_swap",
                                     "name_swap", "place_swap"]
    for name in RECIPES:
        rec = recipe(name)
        assert rec.citation and rec.code and rec.deviations and name in rec.describe()
        for spec, params in rec.entries:
            p = make(spec, **params)
            assert all(getattr(q, "params", {}).get("rate", None) is None for q in getattr(p, "parts", [p]))
    with pytest.raises(XnerError, match="unknown recipe"):
        recipe("nope")
