from __future__ import annotations

import numpy as np
import pytest
from conftest import MBERT_VOCAB

from xner.corpus import Corpus
from xner.encode import WordEncoder, gather_first
from xner.hf import load_tokenizer


@pytest.fixture(scope="module")
def tok(tiny_bert):
    return load_tokenizer(str(tiny_bert))


def _corpus(sents):
    return Corpus.from_lists(sents, [["O"] * len(s) for s in sents])


def test_matches_tokenizer_on_split_words(tok, tiny_xlmr):
    for t in (tok, load_tokenizer(str(tiny_xlmr))):
        sents = [["Москва", "is", "a", "city"], ["नमस्ते", "दुनिया"], ["Marie", "Curie", "(1867–1934)", "."]]
        enc = WordEncoder(t, 64).encode(_corpus(sents))
        for s, words in enumerate(sents):
            ref = t(words, is_split_into_words=True)["input_ids"]
            assert enc.row(s).tolist() == ref
            wid = t(words, is_split_into_words=True).word_ids()
            firsts = [wid.index(i) for i in range(len(words))]
            a, b = enc.seg_tok[s], enc.seg_tok[s + 1]
            assert enc.first_pos[a:b].tolist() == firsts


def test_many_subtokens_empty_words_and_labels(tok):
    long_word = "ʘʬʭʮϿЀЁЂ" * 3  # rare characters: many pieces or [UNK]
    sents = [["a", long_word, "", "b"]]
    c = Corpus.from_lists(sents, [["B-PER", "I-PER", "O", "B-LOC"]])
    enc = WordEncoder(tok, 64).encode(c)
    assert enc.stats.empty_words == 1
    row = enc.row(0)
    assert row[enc.first_pos[2]] == tok.unk_token_id  # the empty word still gets a position
    lab = enc.labels_for(c.tags)
    assert (lab != -100).sum() == 4 and sorted(lab[lab != -100].tolist()) == sorted(c.tags.tolist())
    lab_all = enc.labels_for(c.tags, label_all=True)
    assert (lab_all != -100).sum() == row.size - 2  # every piece but CLS/SEP
    # continuation pieces of a B- word are labelled I-
    p = enc.row_offsets[0] + enc.first_pos[0] + 1
    if enc.piece_word[p] == 0:
        assert lab_all[p] == 2


def test_overlong_sentences_split_without_losing_words(tok):
    big = "qzxjvkwy" * 8  # 64 characters of rare letters: many word pieces, under WordPiece's 100-char limit
    assert len(tok.tokenize(big)) > 10
    words = [f"w{i}" for i in range(40)] + [big]
    c = Corpus.from_lists([words, ["short"]], [["O"] * len(words), ["B-LOC"]])
    enc = WordEncoder(tok, 12).encode(c)
    assert enc.stats.split_sentences == 1 and enc.stats.segments > 2
    assert enc.lengths.max() <= 12
    assert enc.stats.truncated_words >= 1
    # every word appears in exactly one segment, in order
    assert enc.seg_tok[0] == 0 and enc.seg_tok[-1] == c.n_tokens and np.all(np.diff(enc.seg_tok) > 0)
    out = np.zeros((c.n_tokens, 1), dtype=np.float32)
    for idx, ids, _mask in enc.batches(token_budget=64):
        assert ids.shape[1] <= 12 and ids.shape[0] * ids.shape[1] <= 64 or ids.shape[0] == 1
        fake = np.broadcast_to(np.arange(ids.shape[1], dtype=np.float32)[None, :, None], (*ids.shape, 1)).copy()
        gather_first(fake, idx, enc.seg_tok, enc.first_pos, out)
    assert np.array_equal(out[:, 0], enc.first_pos.astype(np.float32))


def test_cache_tokenizes_each_word_once(tok):
    e = WordEncoder(tok, 64)
    c = _corpus([["a", "b", "a"], ["b", "c"]])
    e.encode(c)
    assert e.tokenized == 3
    e.encode(_corpus([["c", "d"]]))
    assert e.tokenized == 4


@pytest.mark.skipif(not MBERT_VOCAB.exists(), reason="mBERT vocabulary not present")
def test_mbert_vocab_keeps_devanagari(tmp_path):
    from xner.training.models import init_model

    m = init_model("bert", tmp_path / "m", vocab=str(MBERT_VOCAB), hidden=16, layers=1, heads=1, max_length=32)
    t = load_tokenizer(str(m))
    assert len(t) == 119547
    pieces = t.tokenize("नमस्ते")
    assert "".join(p.removeprefix("##") for p in pieces) == "नमस्ते"
