"""The scorer must give exactly seqeval's numbers: default (conlleval) and strict IOB2 modes."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
from conftest import WIKIANN
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.metrics.sequence_labeling import precision_recall_fscore_support as prfs_default
from seqeval.metrics.v1 import precision_recall_fscore_support as prfs_v1
from seqeval.scheme import IOB2, Entities
from synth import sentences

from xner.commands import load_aligned
from xner.corpus import Corpus
from xner.datadir import DataDir
from xner.formats import write_corpus
from xner.labels import LabelSet
from xner.metrics import score

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


def seqeval_scores(gold, pred, mode):
    """seqeval's micro (P, R, F1) and per-type rows [(type, P, R, F1, support)]."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if mode == "strict":
            micro = prfs_v1(gold, pred, average="micro", mode="strict", scheme=IOB2)
            per = prfs_v1(gold, pred, average=None, mode="strict", scheme=IOB2)
            names = sorted(Entities(gold, IOB2).unique_tags | Entities(pred, IOB2).unique_tags)
        else:
            micro = prfs_default(gold, pred, average="micro")
            per = prfs_default(gold, pred, average=None)
            names = sorted({e[0] for e in get_entities(gold)} | {e[0] for e in get_entities(pred)})
    rows = [(n, float(p), float(r), float(f), int(s)) for n, p, r, f, s in zip(names, *per, strict=True)]
    return tuple(float(x) for x in micro[:3]), rows


def ours(s):
    return (s.precision, s.recall, s.f1), [(t, v.precision, v.recall, v.f1, v.support) for t, v in s.per_type.items()]


def corrupt(tags: list[list[str]], rng: random.Random) -> list[list[str]]:
    """Realistic and adversarial prediction errors: type swaps, boundary errors, stray I-, misses."""
    rate = rng.choice([0.0, 0.02, 0.1, 0.3, 0.8])
    out = []
    for sent in tags:
        s = list(sent)
        for i in range(len(s)):
            if rng.random() >= rate:
                continue
            op = rng.randrange(6)
            if op == 0:
                s[i] = rng.choice(TAGS)
            elif op == 1 and s[i] != "O":
                s[i] = s[i][0] + "-" + rng.choice(["PER", "ORG", "LOC"])
            elif op == 2 and s[i].startswith("B-"):
                s[i] = "I-" + s[i][2:]
            elif op == 3 and s[i].startswith("I-"):
                s[i] = "B-" + s[i][2:]
            elif op == 4:
                s[i] = "O"
            elif op == 5 and i + 1 < len(s):
                s[i + 1] = s[i] if s[i] == "O" else "I-" + s[i][2:]
        out.append(s)
    return out


def _test_sets():
    if WIKIANN.is_dir():
        src = DataDir(WIKIANN)
        return [src.load(lang, "test") for lang in ("fa", "hi", "ms", "af", "ast", "ar")]
    out = []
    for lang in ("en", "ru", "ar", "hi"):
        s = sentences(lang, 400, 7)
        out.append(Corpus.from_lists([[w for w, _ in x] for x in s], [[t for _, t in x] for x in s], lang=lang))
    return out


def test_identical_to_seqeval_on_1000_corrupted_files(tmp_path):
    rng = random.Random(2024)
    sets = _test_sets()
    gold_files = []
    for c in sets:
        p = tmp_path / f"{c.lang}.gold.tsv"
        write_corpus(c, p)
        gold_files.append((c, p))
    checked = 0
    for k in range(1000):
        c, gold_path = gold_files[k % len(gold_files)]
        idx = sorted(rng.sample(range(len(c)), min(len(c), rng.choice([1, 5, 50, 200]))))
        sub = c.subset(np.array(idx))
        gold_tags = sub.tag_lists()
        pred_tags = corrupt(gold_tags, rng)
        gp, pp = tmp_path / "g.tsv", tmp_path / "p.tsv"
        write_corpus(sub, gp)
        write_corpus(Corpus.from_lists(sub.sentences(), pred_tags, LabelSet.wikiann()), pp)
        gold, pred = load_aligned(str(gp), str(pp))
        for mode in ("default", "strict"):
            assert ours(score(gold, pred, mode)) == seqeval_scores(gold_tags, pred_tags, mode), (k, mode)
            checked += 1
    assert checked == 2000


def test_edge_cases_match_seqeval():
    cases = [
        ([["O"]], [["O"]]),
        ([["B-PER"]], [["O"]]),
        ([["O"]], [["I-LOC"]]),
        ([["I-PER", "I-PER", "B-PER"]], [["B-PER", "I-PER", "I-PER"]]),
        ([["B-PER", "I-LOC"]], [["B-PER", "B-LOC"]]),
        ([["B-PER"], ["I-PER"]], [["B-PER"], ["B-PER"]]),  # no chunk across sentences
        ([["B-X", "I-X", "O", "I-Y"]], [["B-X", "I-X", "O", "B-Y"]]),  # unknown types are fine
    ]
    for gold, pred in cases:
        ls = LabelSet([], growable=True)
        g = Corpus.from_lists([["w"] * len(s) for s in gold], gold, ls)
        p = Corpus.from_lists([["w"] * len(s) for s in pred], pred, ls)
        for mode in ("default", "strict"):
            assert ours(score(g, p, mode)) == seqeval_scores(gold, pred, mode), (gold, pred, mode)


def test_bootstrap_interval():
    s = sentences("en", 300, 1)
    gold = Corpus.from_lists([[w for w, _ in x] for x in s], [[t for _, t in x] for x in s])
    pred_tags = corrupt(gold.tag_lists(), random.Random(5))
    pred = Corpus.from_lists(gold.sentences(), pred_tags)
    a = score(gold, pred, bootstrap=300, seed=1)
    b = score(gold, pred, bootstrap=300, seed=1)
    assert a.ci == b.ci
    lo, hi = a.ci["f1"]
    assert lo <= a.f1 <= hi and hi - lo > 0
    for t in ("PER", "ORG", "LOC"):
        assert a.ci[f"f1_{t}"][0] <= a.per_type[t].f1 <= a.ci[f"f1_{t}"][1]
    perfect = score(gold, gold, bootstrap=50)
    assert perfect.f1 == 1.0 and perfect.ci["f1"] == [1.0, 1.0]


def test_mismatched_files(tmp_path):
    from xner.errors import InputError

    (tmp_path / "g.tsv").write_text("a\tO\nb\tB-PER\n\nc\tO\n", encoding="utf-8")
    (tmp_path / "p1.tsv").write_text("a\tO\nb\tB-PER\n", encoding="utf-8")
    (tmp_path / "p2.tsv").write_text("a\tO\nb\tB-PER\n\nc\tO\nd\tO\n", encoding="utf-8")
    (tmp_path / "p3.tsv").write_text("a\tO\nB\tB-PER\n\nc\tO\n", encoding="utf-8")
    with pytest.raises(InputError, match="1 sentences, but the gold file"):
        load_aligned(str(tmp_path / "g.tsv"), str(tmp_path / "p1.tsv"))
    with pytest.raises(InputError, match="sentence 2 has 2 tokens") as e:
        load_aligned(str(tmp_path / "g.tsv"), str(tmp_path / "p2.tsv"))
    assert e.value.line == 4
    with pytest.raises(InputError, match="does not line up") as e:
        load_aligned(str(tmp_path / "g.tsv"), str(tmp_path / "p3.tsv"))
    assert e.value.line == 2


def test_score_lists_matches_seqeval():
    from xner.metrics import score_lists

    rng = random.Random(3)
    gold = [[rng.choice(TAGS) for _ in range(rng.randint(1, 9))] for _ in range(300)]
    pred = corrupt(gold, rng)
    for mode in ("default", "strict"):
        assert ours(score_lists(gold, pred, mode)) == seqeval_scores(gold, pred, mode)


# -- IOBES / BILOU: the schemes seqeval scores ------------------------------------------------------


def seqeval_scheme_scores(gold, pred, mode, scheme):
    """seqeval's numbers for tag lists in any scheme: default mode (get_entities) or strict."""
    from seqeval import scheme as sch

    if mode == "default":
        return seqeval_scores(gold, pred, "default")
    cls = getattr(sch, scheme)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        micro = prfs_v1(gold, pred, average="micro", mode="strict", scheme=cls)
        per = prfs_v1(gold, pred, average=None, mode="strict", scheme=cls)
    names = sorted(Entities(gold, cls).unique_tags | Entities(pred, cls).unique_tags)
    rows = [(n, float(p), float(r), float(f), int(s)) for n, p, r, f, s in zip(names, *per, strict=True)]
    return tuple(float(x) for x in micro[:3]), rows


def to_scheme(tags: list[str], scheme: str) -> list[str]:
    """IOB2 -> IOBES / BILOU."""
    end, single = ("E", "S") if scheme == "IOBES" else ("L", "U")
    out = []
    for i, t in enumerate(tags):
        nxt = tags[i + 1] if i + 1 < len(tags) else "O"
        last = nxt != "I-" + t[2:]
        if t == "O":
            out.append(t)
        elif t.startswith("B-"):
            out.append((single if last else "B") + t[1:])
        else:
            out.append((end if last else "I") + t[1:])
    return out


def corrupt_scheme(tags: list[list[str]], rng: random.Random, letters: str) -> list[list[str]]:
    rate = rng.choice([0.0, 0.05, 0.2, 0.5, 1.0])
    types = ["PER", "ORG", "LOC"]
    out = []
    for sent in tags:
        s = list(sent)
        for i in range(len(s)):
            if rng.random() >= rate:
                continue
            op = rng.randrange(4)
            if op == 0:
                s[i] = "O" if rng.random() < 0.3 else f"{rng.choice(letters)}-{rng.choice(types)}"
            elif op == 1 and s[i] != "O":
                s[i] = s[i][0] + "-" + rng.choice(types)
            elif op == 2 and s[i] != "O":
                s[i] = rng.choice(letters) + s[i][1:]
            elif op == 3:
                s[i] = "O"
        out.append(s)
    return out


@pytest.mark.parametrize("mode,scheme", [("default", "IOBES"), ("strict", "IOBES"), ("strict", "BILOU")])
def test_iobes_bilou_identical_to_seqeval(tmp_path, mode, scheme):
    """600 random corruptions of IOBES / BILOU files per mode, float for float, via files and lists."""
    from xner.metrics import score_lists

    rng = random.Random(7 if scheme == "IOBES" else 11)
    letters = "BIES" if scheme == "IOBES" else "BILU"
    base = [s.tag_lists() for s in _test_sets()[:3]]
    checked = 0
    for k in range(600):
        src = base[k % len(base)]
        idx = sorted(rng.sample(range(len(src)), min(len(src), rng.choice([1, 5, 50]))))
        gold = [to_scheme(src[i], scheme) for i in idx]
        if k % 3 == 0:  # adversarial gold too
            gold = corrupt_scheme(gold, rng, letters)
        pred = corrupt_scheme(gold, rng, letters)
        want = seqeval_scheme_scores(gold, pred, mode, scheme)
        assert ours(score_lists(gold, pred, mode, scheme=scheme if mode == "strict" else None)) == want, (k, gold, pred)
        if k % 20 == 0:  # the file path of `xner score`
            gp, pp = tmp_path / "g.tsv", tmp_path / "p.tsv"
            for path, tags in ((gp, gold), (pp, pred)):
                path.write_text("".join("".join(f"w\t{t}\n" for t in s) + "\n" for s in tags), encoding="utf-8")
            g, p = load_aligned(str(gp), str(pp), mode=mode, scheme=scheme if mode == "strict" else None)
            assert ours(score(g, p, mode)) == want, k
        checked += 1
    assert checked == 600


def test_scheme_edge_cases_match_seqeval():
    cases = [
        ([["S-PER"]], [["B-PER"]]),
        ([["B-PER", "E-PER"]], [["B-PER", "I-PER"]]),
        ([["E-PER", "E-PER", "S-PER"]], [["I-PER", "E-PER", "S-LOC"]]),
        ([["B-PER", "E-LOC", "I-LOC", "E-LOC"]], [["S-PER", "I-LOC", "I-LOC", "E-LOC"]]),
        ([["B-PER"], ["E-PER"]], [["B-PER"], ["E-PER"]]),  # no chunk across sentences
        ([["B-X", "I-X", "E-X", "O", "S-Y"]], [["B-X", "E-X", "E-X", "O", "I-Y"]]),
    ]
    from xner.metrics import score_lists

    for gold, pred in cases:
        for mode in ("default", "strict"):
            want = seqeval_scheme_scores(gold, pred, mode, "IOBES")
            assert ours(score_lists(gold, pred, mode, scheme="IOBES" if mode == "strict" else None)) == want, \
                (gold, pred, mode)
        bg = [[t.replace("E-", "L-").replace("S-", "U-") for t in s] for s in gold]
        bp = [[t.replace("E-", "L-").replace("S-", "U-") for t in s] for s in pred]
        assert ours(score_lists(bg, bp, "strict", scheme="BILOU")) == seqeval_scheme_scores(bg, bp, "strict", "BILOU")


def test_scheme_errors_are_clear():
    from xner.errors import XnerError
    from xner.metrics import score_lists

    with pytest.raises(XnerError, match="--scheme IOBES"):
        score_lists([["E-PER"]], [["O"]], "strict")
    with pytest.raises(XnerError, match="--scheme BILOU"):
        score_lists([["U-PER"]], [["O"]], "default")
    with pytest.raises(XnerError, match="not a BILOU tag"):
        score_lists([["S-PER"]], [["O"]], "strict", scheme="BILOU")
