"""Encoder suite: cached word gather vs re-tokenizing every perturbed sentence with the fast tokenizer."""

from __future__ import annotations

import numpy as np

from xner.encode import WordEncoder
from xner.robustness.perturbations import Context, make

from .data import bench_corpus
from .harness import SuiteResult, measure
from .inference import build


def run(quick: bool = False, data_dir: str | None = None) -> SuiteResult:
    import tempfile
    from pathlib import Path

    from xner.hf import load_tokenizer

    mdir = build("tiny", Path(tempfile.mkdtemp(prefix="xner-bench-")), data_dir)
    tok = load_tokenizer(str(mdir))
    c = bench_corpus(data_dir, 60_000 if quick else 500_000)
    c.lang = "en"
    # the evaluation situation: perturbed copies of a test set (one per seed) whose clean words are cached
    combo = make("name_swap+char_noise", rate=0.1)
    reps = 4 if quick else 10
    copies = [combo.apply(c, seed, Context(lang="en")).corpus for seed in range(reps + 2)]
    pert = copies[0]
    enc = WordEncoder(tok, 128)
    enc.encode(c)
    nxt = iter(copies[1:])
    res = SuiteResult("encode", settings={"tokens": pert.n_tokens, "sentences": len(pert), "source": c.source,
                                          "tokenizer": "mBERT WordPiece (fast)" if len(tok) > 100_000 else "trained"})
    work = float(pert.n_tokens)

    def ours():
        out = enc.encode(next(nxt))  # a new perturbed copy each time: its new words reach the tokenizer
        for _ in out.batches(8192):
            pass
        return out

    sents = pert.sentences()

    def hf():
        out = tok(sents, is_split_into_words=True, truncation=True, max_length=128)
        firsts = []
        for i in range(len(sents)):
            wid = out.word_ids(i)
            firsts.append([k for k, w in enumerate(wid) if w is not None and (k == 0 or wid[k - 1] != w)])
        return out, firsts

    a = res.add(measure("xner cached encoder + padded batches (warm cache, new words only)", ours, repeats=reps,
                        work=work, unit="tokens"))
    b = res.add(measure("HF fast tokenizer, is_split_into_words + first-sub-token alignment", hf, repeats=3,
                        work=work, unit="tokens"))
    res.ratio("encoder vs re-tokenizing", a, b, required=10.0)
    out = WordEncoder(tok, 128).encode(pert)
    ref, firsts = hf()
    single = np.flatnonzero(np.bincount(out.seg_sent, minlength=len(sents)) == 1)
    seg_of = np.searchsorted(out.seg_sent, single)
    sample = range(0, single.size, max(1, single.size // 500))
    same = all(out.row(int(seg_of[k])).tolist() == ref["input_ids"][int(single[k])] for k in sample)
    res.notes.append(f"identical input ids on sampled sentences: {same}; perturbation name_swap+char_noise at "
                     f"rate 0.1, a new seed per run")
    return res
