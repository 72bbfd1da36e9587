from __future__ import annotations

import functools
import unicodedata
from collections import Counter

import numpy as np
import pytest
from conftest import WIKIANN

from xner.datadir import DataDir
from xner.errors import XnerError
from xner.formats import write_corpus
from xner.labels import iob2_violations, repair_iob2
from xner.robustness.perturbations import (
    ALIASES,
    CONTEXT_NEEDS,
    REGISTRY,
    Context,
    EntityTokens,
    NotEdited,
    OTokens,
    apply_batched,
    make,
    names,
)

#: every perturbation and alias, from the registry: the invariant tests below are parametrised over it, so
#: a perturbation registered with one class is checked by all of them (see the last test of this group)
ALL = names()
REGISTERED = list(REGISTRY)


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
    units = {REGISTRY[p].unit for p in r.stats["perturbation"].split("+")}
    if units == {"tokens"}:
        assert np.array_equal(after.lengths, before.lengths)  # token perturbations keep every length
        assert np.array_equal(after.tags, before.tags)
        changed = after.vocab.lookup(after.words) != np.array(before.vocab.lookup(before.words), dtype=object)
        assert not (np.asarray(changed) & ~r.edit).any()  # every change is marked
    elif units == {"entities"}:
        # entity perturbations keep the O-word sequence of every sentence and edit entity tokens only
        ob = [[w for w, t in zip(s, ts, strict=True) if t == "O"] for s, ts in zip(before.sentences(), before.tag_lists(), strict=True)]
        oa = [[w for w, t in zip(s, ts, strict=True) if t == "O"] for s, ts in zip(after.sentences(), after.tag_lists(), strict=True)]
        assert oa == ob
        assert (after.tags[r.edit] != 0).all()
    assert r.stats["tokens_edited"] == int(r.edit.sum())


def _langs(data_dir):
    out = [(str(data_dir), lang, "en") for lang in ("ru", "ar", "hi", "fa", "en")]
    if WIKIANN.is_dir():
        out += [(str(WIKIANN), lang, "en" if lang != "en" else "fr") for lang in DataDir(WIKIANN).languages()]
    return out


@functools.cache
def _load(root: str, lang: str, split: str):
    """Corpora are read once for all parametrised tests (perturbations never modify their input)."""
    c = DataDir(root).load(lang, split)
    return c.subset(np.arange(1500)) if split == "test" and len(c) > 1500 else c


def _ctx(root, lang: str, train_lang: str = "en") -> Context:
    return Context(train=_load(str(root), train_lang, "train"), runtime=FakeRuntime(), source=DataDir(root),
                   lang=lang, vectors=FakeRuntime())


# -- invariants of every registered perturbation (and alias) -------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_invariant_on_every_language(data_dir, name):
    """Same sentences in the same order, valid IOB2, lengths/tags or O-words kept, every change marked."""
    checked = 0
    for root, lang, train_lang in _langs(data_dir):
        c = _load(root, lang, "test")
        r = make(name).apply(c, 1, _ctx(root, lang, train_lang))
        check_invariants(c, r)
        checked += 1
    assert checked >= 5


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


@pytest.mark.parametrize("name", ALL)
def test_invariant_deterministic_across_batches_order_and_workers(tmp_path, data_dir, name):
    c = _load(str(data_dir), "ru", "test")
    ctx = _ctx(data_dir, "ru")
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


@pytest.mark.parametrize("name", ALL)
def test_invariant_rate_zero_is_identity(tmp_path, data_dir, name):
    c = _load(str(data_dir), "ru", "test")
    r = make(name, rate=0.0).apply(c, 5, _ctx(data_dir, "ru"))
    assert _bytes(r.corpus, tmp_path, "zero.jsonl") == _bytes(c, tmp_path, "clean.jsonl")
    assert not r.edit.any()
    assert r.stats["tokens_edited"] == r.stats["entities_edited"] == r.stats["sentences_edited"] == 0


@pytest.mark.parametrize("name", ALL)
def test_invariant_stats_agree_with_the_output(data_dir, name):
    c = _load(str(data_dir), "ar", "test")
    pert = make(name)
    r = pert.apply(c, 2, _ctx(data_dir, "ar"))
    st, after, edit = r.stats, r.corpus, r.edit
    assert st["perturbation"] == pert.name
    assert st["sentences"] == len(after) == len(c) and st["tokens"] == after.n_tokens
    ch = after.chunks()
    off = after.offsets.tolist()
    assert st["entities"] == ch.shape[0]
    assert st["entities_edited"] == sum(bool(edit[a:b].any()) for _, a, b, _ in ch.tolist())
    assert st["sentences_edited"] == sum(bool(edit[a:b].any()) for a, b in zip(off[:-1], off[1:], strict=True))
    assert st["token_edit_rate"] == pytest.approx(st["tokens_edited"] / st["tokens"])
    assert st["entity_edit_rate"] == pytest.approx(st["entities_edited"] / max(st["entities"], 1))
    parts = ALIASES.get(name, name).split("+")
    part_stats = st["parts"] if len(parts) > 1 else [st]
    assert [p["perturbation"] for p in part_stats] == parts
    for part, ps in zip(parts, part_stats, strict=True):
        assert ps["params"] == make(part).params
        edited = ps["tokens_edited"] if REGISTRY[part].unit == "tokens" else ps["entities_edited"]
        assert 0 <= edited <= ps["eligible"]  # every perturbation says how many units it could edit


@pytest.mark.parametrize("name", ALL)
def test_invariant_needs_are_declared_and_checked(data_dir, name):
    pert = make(name)
    parts = getattr(pert, "parts", [pert])
    assert all(set(p.needs) <= set(CONTEXT_NEEDS) for p in parts)
    c = _load(str(data_dir), "en", "test")
    if any(p.requirements() for p in parts):
        with pytest.raises(XnerError, match="needs"):
            pert.apply(c, 0, Context(lang="en"))
    else:  # works on the test set alone
        check_invariants(c, pert.apply(c, 0, Context(lang="en")))


@pytest.mark.parametrize("name", REGISTERED)
def test_invariant_any_constraint_combines(data_dir, name):
    """Constraints (what may be edited) combine with every perturbation (how it edits)."""
    from xner.robustness.perturbations import Scope

    c = _load(str(data_dir), "ru", "test")
    ctx = _ctx(data_dir, "ru")
    tokens = REGISTRY[name].unit == "tokens"
    # NotEdited: whatever an earlier step edited is carried over untouched
    prev = np.random.default_rng(0).random(c.n_tokens) < 0.3
    r = make(name, constraints=[NotEdited()], rate=None).apply(c, 4, ctx, prev_edit=prev)
    assert len(r.corpus) == len(c) and iob2_violations(r.corpus.tags, r.corpus.offsets).size == 0
    assert int(r.carried.sum()) == int(prev.sum())
    if tokens:
        assert not (r.edit & ~r.carried & prev).any()
        assert r.corpus.vocab.lookup(r.corpus.words[prev]) == c.vocab.lookup(c.words[prev])
    # O tokens only / entity tokens only
    for constraint in (OTokens(), EntityTokens()):
        r = make(name, constraints=[constraint]).apply(c, 4, ctx)
        check_invariants(c, r)
        if tokens:
            assert constraint.mask(Scope(c, ctx, np.zeros(c.n_tokens, np.bool_)))[r.edit].all()
        elif isinstance(constraint, OTokens):
            assert not r.edit.any()  # no chunk is made of O tokens


def _parametrised(test) -> set[str]:
    return {v for m in getattr(test, "pytestmark", []) if m.name == "parametrize" and m.args[0] == "name"
            for v in m.args[1]}


def test_every_registered_perturbation_is_in_every_invariant_test():
    """The invariant tests take their perturbations from the registry: one registered after this module
    was imported, or a hand-written list, fails here."""
    invariants = {k: v for k, v in globals().items() if k.startswith("test_invariant_")}
    assert len(invariants) >= 6
    for k, test in invariants.items():
        missing = set(REGISTRY) - _parametrised(test)
        assert not missing, f"{k} does not check {sorted(missing)}"
    assert {n for n in REGISTRY if not REGISTRY[n].needs} <= _parametrised(test_rate_accuracy)


@pytest.mark.parametrize("name", [n for n in REGISTERED if not REGISTRY[n].needs])
def test_rate_accuracy(data_dir, name):
    """Asked vs measured rates, for every perturbation that works on the test set alone (those that need
    the training language edit only what it shares, which may be less than the rate)."""
    src = DataDir(WIKIANN if WIKIANN.is_dir() else data_dir)
    lang = "fa" if WIKIANN.is_dir() else "ru"
    c = src.load(lang, "test")
    for rate in (0.05, 0.1, 0.2):
        r = make(name, rate=rate).apply(c, 3, Context(source=src, lang=lang))
        unit = REGISTRY[name].unit
        if r.stats["capped"]:  # fewer eligible units than the rate asks for (e.g. no cased letters in Persian):
            edited = r.stats["entities_edited" if unit == "entities" else "tokens_edited"]
            assert edited == r.stats["eligible"], (name, rate, r.stats)  # then every one of them is edited
            continue
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
    from xner.robustness.perturbations.char import script_neighbours

    frm, to, off = script_neighbours(np.arange(0x10000, dtype=np.int32))
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


def test_context_mask_with_masked_lm(data_dir, tiny_mlm):
    c = DataDir(data_dir).load("en", "test")
    r = make("context_mask", k=2).apply(c, 0, Context(mlm=str(tiny_mlm)))
    filled = set(r.corpus.vocab.lookup(r.corpus.words[r.edit]))
    assert r.stats["tokens_edited"] > 0 and "[MASK]" not in filled and all(filled)


@pytest.mark.parametrize("name", [n for n in REGISTERED if not REGISTRY[n].needs])
def test_every_perturbation_edits_something(data_dir, name):
    """``test_rate_accuracy`` lets a capped perturbation off with "every eligible unit edited", which a
    perturbation that finds nothing eligible also satisfies: on English (cased, Latin; one sentence with
    numerals and punctuation added) or a non-Latin script (Arabic; Russian in the generated data), every perturbation that works on the test set
    alone must edit something."""
    from xner.corpus import Corpus, concat

    src = DataDir(WIKIANN if WIKIANN.is_dir() else data_dir)
    extra = [["In", "1990", ",", "Anna", "Smith", "(", "U.S.", ")", "paid", "25", "dollars", "."]]
    tags = [["O", "O", "O", "B-PER", "I-PER", "O", "B-LOC", "O", "O", "O", "O", "O"]]
    edited = {}
    for lang in ("en", "ar" if WIKIANN.is_dir() else "ru"):
        c = src.load(lang, "test")
        if lang == "en":
            c = concat([c, Corpus.from_lists(extra, tags, labels=c.labels, lang="en")], lang="en")
        st = make(name, rate=0.2).apply(c, 3, Context(source=src, lang=lang)).stats
        edited[lang] = (st["eligible"], st["tokens_edited"] + st.get("entities_edited", 0))
    assert any(e > 0 and n > 0 for e, n in edited.values()), edited
