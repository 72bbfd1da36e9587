"""The parity gate: an exported model must agree with its PyTorch source.

Measured on an evaluation corpus (or, without one, on seeded sentences of vocabulary words): the
maximum absolute difference of word logits, tag agreement, and the F1 change (against gold tags
when the corpus has them, else against the PyTorch predictions).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from xner.corpus import Corpus
from xner.errors import XnerError

#: thresholds: exact float32 graphs must match logits; approximate ones (int8, fp16, O3's GELU
#: approximation) must keep tags and F1
FP32_MAX_ABS = 1e-4  # the default; each model family sets its own (xner.families.Family.fp32_tolerance)
APPROX_AGREEMENT = 0.99
APPROX_F1_CHANGE = 0.01


@dataclass
class Parity:
    kind: str  # "exact" or "approximate"
    max_abs_diff: float
    tag_agreement: float
    f1_reference: float
    f1_onnx: float
    f1_change: float
    against: str  # "gold" or "pytorch"
    tokens: int
    sentences: int
    passed: bool
    thresholds: dict
    provider: str = ""
    reference_entities: int = 0  # entities the PyTorch model predicts on the material
    reason: str = ""  # why the gate failed, beyond the thresholds


    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"{self.reason}max |logit diff| {self.max_abs_diff:.2e}, tag agreement {self.tag_agreement:.4f}, "
                f"F1 {self.f1_reference:.4f} -> {self.f1_onnx:.4f} (change {self.f1_change:+.4f} vs {self.against})")


def sample_corpus(tokenizer, n: int = 200, seed: int = 0) -> Corpus:
    """Seeded sentences of whole-word vocabulary entries, for models exported without eval data."""
    rng = np.random.default_rng(seed)
    vocab = [w for w in tokenizer.get_vocab() if w.isprintable() and not w.startswith(("##", "[", "<"))
             and w.strip() and " " not in w]
    vocab = sorted(w.lstrip("▁") for w in vocab if w.lstrip("▁"))
    if not vocab:
        raise XnerError("cannot build a parity sample from this tokenizer; pass --eval-data")
    sents = [[vocab[i] for i in rng.integers(0, len(vocab), int(rng.integers(3, 30)))] for _ in range(n)]
    c = Corpus.from_lists(sents, [["O"] * len(s) for s in sents], lang="sample")
    c.meta["unlabelled"] = True
    return c


def check(model_dir: str, onnx_dir: str, corpus: Corpus | None = None, kind: str = "exact",
          provider: str = "cpu", threads: int | None = None, file_name: str | None = None,
          cache: dict | None = None) -> Parity:
    """Compare PyTorch and ONNX Runtime on the same encoded words.

    ``file_name`` picks a variant of the export (default: the report's default variant);
    ``cache`` (a dict) keeps the PyTorch reference between the gates of one export's variants.
    """
    from xner.corpus import extract_chunks
    from xner.hf import load_model
    from xner.metrics import score
    from xner.torchinfer import word_logits

    from .runtime import Runtime

    if kind not in ("exact", "approximate"):
        raise XnerError("parity kind must be exact or approximate")
    rt = Runtime(onnx_dir, provider=provider, threads=threads, allow_failed=True, file_name=file_name)
    cache = {} if cache is None else cache
    sampled = corpus is None
    if corpus is None:
        corpus = cache.get("sample") or sample_corpus(rt.fast_tokenizer)
        cache["sample"] = corpus
    enc = rt.encoder.encode(corpus)
    if cache.get("corpus") is not corpus:
        cache.update(corpus=corpus, ref=word_logits(load_model(str(model_dir)), rt.encoder, corpus, encoded=enc))
    ref = cache["ref"]
    got = rt.logits(corpus, enc)  # checks the output's name and shape on every batch
    reasons = []
    if not np.isfinite(got).all():
        reasons.append(f"{int((~np.isfinite(got)).sum())} non-finite ONNX logits")
        got = np.nan_to_num(got, nan=0.0, posinf=0.0, neginf=0.0)
    ref_tags, got_tags = ref.argmax(-1).astype(np.int8), got.argmax(-1).astype(np.int8)
    table = rt.labels.remap_to(corpus.labels)
    ref_tags, got_tags = table[ref_tags], table[got_tags]
    if corpus.meta.get("unlabelled"):
        gold, against = corpus.with_tags(ref_tags), "pytorch"
    else:
        gold, against = corpus, "gold"
    f_ref = score(gold, ref_tags).f1
    f_got = score(gold, got_tags).f1
    n_ref = int(extract_chunks(ref_tags, corpus.offsets).shape[0])
    diff = float(np.abs(ref - got).max()) if ref.size else 0.0
    agree = float((ref_tags == got_tags).mean()) if ref_tags.size else 1.0
    if kind == "exact":
        tol = rt.family.fp32_tolerance
        thresholds = {"max_abs_diff": tol}
        passed = diff <= tol
    else:
        thresholds = {"tag_agreement": APPROX_AGREEMENT, "f1_change": APPROX_F1_CHANGE}
        passed = agree >= APPROX_AGREEMENT and abs(f_got - f_ref) <= APPROX_F1_CHANGE
        if n_ref == 0:  # tag agreement over O tokens and an F1 of 0 vs 0 would prove nothing
            reasons.append("the PyTorch model predicts no entity on the " + (
                "vocabulary sample, so F1 cannot be compared; pass evaluation data (--eval-data DIR --eval-lang L)"
                if sampled else "evaluation data, so F1 cannot be compared; gate on data where it finds entities"))
    reason = "".join(r + "; " for r in reasons)
    return Parity(kind, diff, agree, f_ref, f_got, f_got - f_ref, against, corpus.n_tokens, len(corpus),
                  passed and not reasons, thresholds, rt.provider, n_ref, reason)
