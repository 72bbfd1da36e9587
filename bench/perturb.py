"""Perturbation suite: the numba engine vs a straightforward pure-Python implementation of the same
edit (lists of strings, re-tagging), and vs nlpaug's character augmenters for ``char_noise``."""

from __future__ import annotations

import random

import numpy as np

from xner.robustness.perturbations import Context, make

from .data import bench_corpus
from .harness import SuiteResult, measure


def _python_entity_replace(sents, tags, pool, rate, seed):
    """Baseline: replace PER chunks by random pool names, re-emitting B-/I- tags."""
    rng = random.Random(seed)
    out_s, out_t = [], []
    for ws, ts in zip(sents, tags, strict=True):
        nw, nt = [], []
        i = 0
        while i < len(ws):
            if ts[i] == "B-PER" or (ts[i] == "I-PER" and (i == 0 or ts[i - 1] == "O")):
                j = i + 1
                while j < len(ws) and ts[j] == "I-PER":
                    j += 1
                if rng.random() < rate:
                    name = rng.choice(pool)
                    nw += name
                    nt += ["B-PER"] + ["I-PER"] * (len(name) - 1)
                else:
                    nw += ws[i:j]
                    nt += ts[i:j]
                i = j
            else:
                nw.append(ws[i])
                nt.append(ts[i])
                i += 1
        out_s.append(nw)
        out_t.append(nt)
    return out_s, out_t


def _python_token_replace(sents, tags, cand, rate, seed):
    """Baseline: replace O tokens by random O-words."""
    rng = random.Random(seed)
    out = []
    for ws, ts in zip(sents, tags, strict=True):
        out.append([rng.choice(cand) if t == "O" and rng.random() < rate else w for w, t in zip(ws, ts, strict=True)])
    return out


def run(quick: bool = False, data_dir: str | None = None) -> SuiteResult:
    c = bench_corpus(data_dir, 200_000 if quick else 1_000_000)
    c.lang = "en"
    res = SuiteResult("perturb", settings={"tokens": c.n_tokens, "sentences": len(c), "source": c.source,
                                           "threads": 1})
    work = float(c.n_tokens)
    reps = 3 if quick else 5
    ctx = Context(lang="en", train=c.subset(np.arange(0, len(c), 2)))
    engine = {}
    for name in ("name_swap", "place_swap", "entity_resample", "entity_swap_shared", "random_token", "context_mask",
                 "char_noise"):
        pert = make(name, rate=0.3)
        st = pert.prepare(c, ctx)
        pert.apply(c.subset(np.arange(50)), 0, ctx, state=st)  # compile
        engine[name] = res.add(measure(f"xner {name} (rate 0.3, prepared)", lambda p=pert, s=st: p.apply(c, 0, ctx, state=s),
                                       repeats=reps, work=work, unit="tokens"))
        res.add(measure(f"xner {name} (rate 0.3, incl. prepare)", lambda p=pert: p.apply(c, 0, ctx), repeats=2,
                        work=work, unit="tokens"))
    sents, tags = c.sentences(), c.tag_lists()
    pool = [n.split() for n in ("Anna Smith", "John Doe", "Maria Garcia Lopez", "Li Wei")] * 500
    base_e = res.add(measure("pure Python entity replace + re-tag (PER)",
                             lambda: _python_entity_replace(sents, tags, pool, 0.3, 0), repeats=2, warmup=0, work=work,
                             unit="tokens"))
    cand = sorted({w for ws, ts in zip(sents, tags, strict=True) for w, t in zip(ws, ts, strict=True) if t == "O"})
    base_t = res.add(measure("pure Python O-token replace", lambda: _python_token_replace(sents, tags, cand, 0.3, 0),
                             repeats=2, warmup=0, work=work, unit="tokens"))
    res.ratio("name_swap vs pure Python", engine["name_swap"], base_e)
    res.ratio("random_token vs pure Python", engine["random_token"], base_t)
    for name in ("name_swap", "place_swap", "entity_resample", "random_token", "context_mask"):
        res.notes.append(f"{name}: {engine[name].rate / 1e6:.2f} M tokens/s "
                         f"({'meets' if engine[name].rate >= 1e6 else 'BELOW'} the 1 M tokens/s target)")
    try:
        import nlpaug.augmenter.char as nac
    except ImportError:
        res.notes.append("nlpaug not installed (pip install '.[bench]'): char_noise baseline skipped")
        return res
    n_sent = 2000 if quick else 10_000
    part = c.subset(np.arange(min(n_sent, len(c))))
    sub = type(c).from_lists(part.sentences(), part.tag_lists(), c.labels, "en")  # its own vocabulary, as read
    texts = [" ".join(s) for s in sub.sentences()]
    sub_work = float(sub.n_tokens)
    cn = make("char_noise", rate=0.3)
    st = cn.prepare(sub, ctx)
    ours = res.add(measure(f"xner char_noise on {len(sub)} sentences", lambda: cn.apply(sub, 0, ctx, state=st),
                           repeats=reps, work=sub_work, unit="tokens"))
    for aug_name, aug in (("nlpaug RandomCharAug(swap)", nac.RandomCharAug(action="swap", aug_word_p=0.3)),
                          ("nlpaug KeyboardAug", nac.KeyboardAug(aug_word_p=0.3))):
        random.seed(0)
        base = res.add(measure(f"{aug_name} on {len(sub)} sentences", lambda a=aug: a.augment(texts), repeats=1,
                               warmup=0, work=sub_work, unit="tokens"))
        res.ratio(f"char_noise vs {aug_name}", ours, base, required=20.0)
    res.notes.append("nlpaug edits untagged text (no tag alignment); xner keeps every tag and sentence length.")
    return res
