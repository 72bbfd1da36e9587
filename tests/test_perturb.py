from __future__ import annotations

import unicodedata
from collections import Counter

import numpy as np
import pytest
from conftest import WIKIANN

from xner.datadir import DataDir
from xner.errors import XnerError
from xner.formats import write_corpus
from xner.labels import iob2_violations, repair_iob2
from xner.robustness.perturbations import REGISTRY, Context, apply_batched, make, names

ENTITY = {"entity_swap_shared", "name_swap", "place_swap", "entity_resample"}


class FakeRuntime:
    """Word vectors from character statistics: enough to exercise context_swap without a model."""

    tokenizer = type("T", (), {"mask_token": "[MASK]"})()

    def word_vectors(self, words):
        v = np.zeros((len(words), 64), np.float32)
        for i, w in enumerate(words):
            for ch in w:
                v[i, ord(ch) % 64] += 1
        return v + 1e-3


def check_invariants(before, r):
    after = r.corpus
    assert len(after) == len(before)  # same sentences, same order
    assert after.tags.size == after.words.size == r.edit.size == after.offsets[-1]
    assert iob2_violations(before.tags, before.offsets).size == 0, "repair the input first (repair_iob2)"
    assert iob2_violations(after.tags, after.offsets).size == 0  # every output is valid IOB2, no escape
    assert (after.lengths > 0).all()
    name = r.stats["perturbation"]
    if not set(name.split("+")) & ENTITY:
        assert np.array_equal(after.lengths, before.lengths)  # token perturbations keep every length
        assert np.array_equal(after.tags, before.tags)
        changed = after.vocab.lookup(after.words) != np.array(before.vocab.lookup(before.words), dtype=object)
        assert not (np.asarray(changed) & ~r.edit).any()  # every change is marked
    else:
        # entity perturbations keep the O-word sequence of every sentence
        ob = [[w for w, t in zip(s, ts, strict=True) if t == "O"] for s, ts in zip(before.sentences(), before.tag_lists(), strict=True)]
        oa = [[w for w, t in zip(s, ts, strict=True) if t == "O"] for s, ts in zip(after.sentences(), after.tag_lists(), strict=True)]
        if "context" not in name and "random" not in name and "char" not in name:
            assert oa == ob
        assert (after.tags[r.edit] != 0).all() or "context" in name
    assert r.stats["tokens_edited"] == int(r.edit.sum())


def _langs(data_dir):
    out = [(DataDir(data_dir), lang, "en") for lang in ("ru", "ar", "hi", "fa", "en")]
    if WIKIANN.is_dir():
        src = DataDir(WIKIANN)
        out += [(src, lang, "en" if lang != "en" else "fr") for lang in src.languages()]
    return out


def test_every_perturbation_on_every_language(data_dir):
    rt = FakeRuntime()
    checked = 0
    for src, lang, train_lang in _langs(data_dir):
        c = src.load(lang, "test")
        if len(c) > 1500:
            c = c.subset(np.arange(1500))
        ctx = Context(train=src.load(train_lang, "train"), runtime=rt, source=src, lang=lang)
        for name in names():
            r = make(name).apply(c, 1, ctx)
            check_invariants(c, r)
            checked += 1
    assert checked >= 5 * len(names())


def test_named_pools(data_dir, tmp_path):
    src = DataDir(data_dir)
    c = src.load("en", "test")
    f = tmp_path / "names.txt"
    f.write_text("Zqx Wyv\nQwerty\n", encoding="utf-8")
    for pool in ("faker:ru_RU", "wikiann:ar", f"file:{f}"):
        r = make("name_swap", pool=pool, rate=1.0).apply(c, 0, Context(source=src, lang="en"))
        assert r.stats["entities_edited"] > 0 and r.stats["pool"] == pool
    new = set(r.corpus.vocab.lookup(r.corpus.words[r.edit]))
    assert new <= {"Zqx", "Wyv", "Qwerty"}
    with pytest.raises(XnerError, match="unknown pool"):
        make("name_swap", pool="nope").apply(c, 0, Context(lang="en"))


def _bytes(c, tmp_path, name):
    p = tmp_path / name
    write_corpus(c, p, "jsonl")
    return p.read_bytes()


@pytest.mark.parametrize("name", ["entity_swap_shared", "context_swap", "name_swap", "place_swap", "entity_resample",
                                  "context_mask", "char_noise", "random_token", "entity_and_context",
                                  "resample_and_mask"])
def test_deterministic_across_batches_order_and_workers(tmp_path, data_dir, name):
    src = DataDir(data_dir)
    c = src.load("ru", "test")
    ctx = Context(train=src.load("en", "train"), runtime=FakeRuntime(), source=src, lang="ru")
    pert = make(name)
    ref = pert.apply(c, 7, ctx)
    want = _bytes(ref.corpus, tmp_path, "ref.jsonl")
    assert _bytes(make(name).apply(c, 7, ctx).corpus, tmp_path, "again.jsonl") == want
    for bs, workers, rev in ((1, 1, False), (7, 2, True), (13, 3, False), (1000, 1, True)):
        order = np.arange(len(c))[::-1] if rev else None
        r = apply_batched(make(name), c, 7, ctx, batch_size=bs, workers=workers, order=order)
        assert _bytes(r.corpus, tmp_path, "b.jsonl") == want, (bs, workers, rev)
        assert np.array_equal(r.edit, ref.edit)
    other = make(name).apply(c, 8, ctx)
    if ref.stats["tokens_edited"]:
        assert _bytes(other.corpus, tmp_path, "o.jsonl") != want  # another seed, another set


def test_rate_accuracy(data_dir):
    src = DataDir(WIKIANN if WIKIANN.is_dir() else data_dir)
    lang = "fa" if WIKIANN.is_dir() else "ru"
    c = src.load(lang, "test")
    for name in ("name_swap", "place_swap", "entity_resample", "char_noise", "random_token", "context_mask"):
        for rate in (0.05, 0.1, 0.2):
            r = make(name, rate=rate).apply(c, 3, Context(source=src, lang=lang))
            unit = REGISTRY[name].unit
            measured = r.stats["entity_edit_rate"] if unit == "entities" else r.stats["token_edit_rate"]
            n = r.stats["entities"] if unit == "entities" else r.stats["tokens"]
            # each unit is a Bernoulli draw: allow 4 binomial standard deviations (plus 5% of the rate)
            tol = 4 * (rate * (1 - rate) / n) ** 0.5 + 0.05 * rate
            assert abs(measured - rate) <= tol, (name, rate, measured, tol)


def test_study_p1_touches_only_shared_chunks(data_dir):
    from xner.overlap import chunk_keys, joint_ids

    src = DataDir(WIKIANN if WIKIANN.is_dir() else data_dir)
    test_lang, train_lang = ("ast", "es") if WIKIANN.is_dir() else ("ru", "en")
    c, train = src.load(test_lang, "test"), src.load(train_lang, "train")
    r = make("entity_swap_shared").apply(c, 0, Context(train=train))
    table = joint_ids(train.vocab, c.vocab)
    tr = set(chunk_keys(table[train.words], train.chunks(), False).tolist())
    keys = chunk_keys(c.words.astype(np.int64), c.chunks(), False)
    shared = np.array([k in tr for k in keys.tolist()])
    assert r.stats["shared_chunks"] == int(shared.sum())
    # map edits back: an unshared chunk is never edited, every shared one is (rate None)
    new_chunks = r.corpus.chunks()
    edited_sents = {int(s) for s, a, b, _ in new_chunks.tolist() if r.edit[a:b].any()}
    assert edited_sents <= {int(s) for s in c.chunks()[shared, 0].tolist()}
    assert r.stats["entities_edited"] == int(shared.sum())  # rate None: every shared chunk is replaced
    # no replacement is itself a training chunk
    trw = set(train.vocab.strings)
    for s, a, b, _ in new_chunks.tolist():
        if r.edit[a:b].all():
            surface = tuple(r.corpus.vocab.lookup(r.corpus.words[a:b]))
            assert not (all(w in trw for w in surface) and
                        chunk_keys(joint_ids(r.corpus.vocab, train.vocab)[r.corpus.words].astype(np.int64),
                                   np.array([[s, a, b, 0]]), False)[0] in
                        set(chunk_keys(train.words.astype(np.int64), train.chunks(), False).tolist()))


def test_combination_accumulates_edits(data_dir):
    src = DataDir(data_dir)
    c = src.load("fa", "test")
    a = make("name_swap", rate=0.3).apply(c, 1, Context(lang="fa"))
    ab = make("name_swap+char_noise", rate=0.3).apply(c, 1, Context(lang="fa"))
    assert ab.stats["tokens_edited"] >= a.stats["tokens_edited"]
    assert len(ab.stats["parts"]) == 2


def test_char_noise_stays_in_script(data_dir):
    src = DataDir(data_dir)
    for lang, lo, hi in (("ru", 0x0400, 0x04FF), ("hi", 0x0900, 0x097F)):
        c = src.load(lang, "test")
        r = make("char_noise", rate=0.5, ops="insert").apply(c, 0, None)
        new = r.corpus.vocab.lookup(r.corpus.words[r.edit])
        old = c.vocab.lookup(c.words[r.edit])
        in_script = 0
        for n, o in zip(new, old, strict=True):
            assert len(n) == len(o) + 1
            extra = list((Counter(n) - Counter(o)).elements())  # exactly the inserted character
            # the word's script: every letter in the language's block, or else (filler words) Latin
            a, b = (lo, hi) if all(lo <= ord(ch) <= hi for ch in o if ch.isalpha()) else (0x41, 0x24F)
            assert all(a <= ord(ch) <= b for ch in o if ch.isalpha()), o
            assert len(extra) == 1 and a <= ord(extra[0]) <= b and unicodedata.category(extra[0])[0] in "LM", \
                (o, n, [hex(ord(x)) for x in extra])
            in_script += a == lo
        assert in_script > 20


#: words with ZWNJ (U+200C) and single-script words; the script is the one every new character must have
SCRIPT_WORDS = {"Arabic": ["می\u200cخواهم", "کتاب\u200cها", "نمی\u200cدانم", "خانه\u200cای", "تهران", "\u200cپ"],
                "Latin": ["hello", "Straße", "naïve", "zebra", "Zürich", "a"],
                "Cyrillic": ["Москва", "ёлка", "Санкт-Петербург", "я"],
                "Devanagari": ["हिन्दी", "नमस्ते", "क्षत्रिय", "दिल्ली"]}


@pytest.mark.parametrize("ops", ["insert", "keyboard", "swap,drop,insert,keyboard"])
def test_char_noise_adds_only_letters_of_the_words_script(ops):
    regex = pytest.importorskip("regex")
    from xner.corpus import Corpus

    words = [(w, script) for script, ws in SCRIPT_WORDS.items() for w in ws]
    sents = [[w for w, _ in words]] * 60  # every sentence its own stream: 60 draws per word and seed
    c = Corpus.from_lists(sents, [["O"] * len(words)] * len(sents))
    seen = 0
    for seed in range(8):
        r = make("char_noise", rate=1.0, ops=ops).apply(c, seed, None)
        for k, new in enumerate(r.corpus.vocab.lookup(r.corpus.words)):
            old, script = words[k % len(words)]
            for ch in (Counter(new) - Counter(old)).elements():  # inserted or substituted characters
                seen += 1
                assert unicodedata.category(ch)[0] in "LM" and regex.fullmatch(rf"\p{{scx={script}}}", ch), \
                    (old, new, f"U+{ord(ch):04X}", unicodedata.category(ch), script)
    assert seen > 1000


def test_script_neighbours_are_letters_of_the_same_script():
    """Every candidate an insert or substitution may type, for every letter of the BMP, is a letter or
    mark sharing a script (Unicode Script_Extensions) with its anchor."""
    fu = pytest.importorskip("fontTools.unicodedata")
    from xner.robustness import kernels as K

    frm, to, off = K.script_neighbours(np.arange(0x10000, dtype=np.int32))
    assert frm.size > 40_000 and not np.isin([0x200C, 0x200B, 0x20, 0x0640, 0x0964], frm).any()
    scx = {c: fu.script_extension(chr(c)) for c in set(frm.tolist()) | set(to.tolist())}
    bad = [(f"U+{a:04X}", f"U+{b:04X}") for a, b in zip(np.repeat(frm, np.diff(off)).tolist(), to.tolist(), strict=True)
           if not scx[a] & scx[b] or unicodedata.category(chr(b))[0] not in "LM"]
    assert not bad, bad[:20]


def test_check_invariants_has_no_iob2_escape():
    """An output with a stray I- tag fails the invariant check even when the input had one too."""
    from xner.corpus import Corpus
    from xner.robustness.perturbations import Perturbed

    bad = Corpus.from_lists([["a", "b", "c"]], [["O", "I-PER", "I-PER"]])
    r = Perturbed(bad, np.zeros(3, np.bool_), {"perturbation": "char_noise", "tokens_edited": 0})
    with pytest.raises(AssertionError):
        check_invariants(bad, r)
    fixed = bad.with_tags(repair_iob2(bad.tags, bad.offsets)[0])
    check_invariants(fixed, Perturbed(fixed, np.zeros(3, np.bool_), {"perturbation": "char_noise", "tokens_edited": 0}))


def _chunk_surfaces(c):
    return [tuple(c.vocab.lookup(c.words[a:b])) for _, a, b, _ in c.chunks().tolist()]


@pytest.mark.parametrize("rate", [None, 1.0])  # None: the default rate
def test_entity_resample_donors_depend_on_seed(data_dir, tmp_path, rate):
    c = DataDir(data_dir).load("ru", "test")
    kw = {} if rate is None else {"rate": rate}
    runs = {seed: make("entity_resample", **kw).apply(c, seed, None) for seed in (0, 1)}
    for seed, r in runs.items():
        check_invariants(c, r)
        again = make("entity_resample", **kw).apply(c, seed, None)  # same seed, same output
        assert _bytes(again.corpus, tmp_path, "a.jsonl") == _bytes(r.corpus, tmp_path, "r.jsonl")
        b = apply_batched(make("entity_resample", **kw), c, seed, None, batch_size=7, workers=2)
        assert _bytes(b.corpus, tmp_path, "b.jsonl") == _bytes(r.corpus, tmp_path, "r.jsonl")
        assert np.array_equal(b.edit, r.edit)
    assert _bytes(runs[0].corpus, tmp_path, "0.jsonl") != _bytes(runs[1].corpus, tmp_path, "1.jsonl")
    # chunks map one to one (same order): where both seeds replaced a chunk, the donors differ somewhere
    ch = c.chunks()
    edited = [np.array([r.edit[a:b].any() for _, a, b, _ in r.corpus.chunks().tolist()]) for r in runs.values()]
    both = np.flatnonzero(edited[0] & edited[1])
    s0, s1 = (_chunk_surfaces(r.corpus) for r in runs.values())
    assert len(s0) == len(s1) == ch.shape[0] and both.size >= 5
    differ = sum(s0[i] != s1[i] for i in both.tolist())
    assert differ >= both.size // 2, f"{differ} of {both.size} chunks replaced under both seeds got another donor"


def test_errors():
    with pytest.raises(XnerError, match="unknown perturbation"):
        make("nope")
    with pytest.raises(XnerError, match="rate must be"):
        make("char_noise", rate=2)
    with pytest.raises(XnerError, match="needs"):
        make("entity_swap_shared").apply(__import__("xner").Corpus.from_lists([["a"]], [["O"]]), 0, Context())


def test_context_mask_with_masked_lm(tmp_path, data_dir, tiny_bert):
    from transformers import BertConfig, BertForMaskedLM

    from xner.training.models import load_tokenizer

    tok = load_tokenizer(str(tiny_bert))
    m = BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                   intermediate_size=64, max_position_embeddings=64))
    m.save_pretrained(tmp_path / "mlm")
    tok.save_pretrained(tmp_path / "mlm")
    c = DataDir(data_dir).load("en", "test")
    r = make("context_mask", k=2).apply(c, 0, Context(mlm=str(tmp_path / "mlm")))
    filled = set(r.corpus.vocab.lookup(r.corpus.words[r.edit]))
    assert r.stats["tokens_edited"] > 0 and "[MASK]" not in filled and all(filled)
