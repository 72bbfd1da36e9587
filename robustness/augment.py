"""Robust training: perturbed copies of training sentences mixed into fine-tuning or distillation."""

from __future__ import annotations

from xner.corpus import Corpus, concat
from xner.errors import XnerError

from .perturbations import REGISTRY, Context, make


def parse_augment(spec: str | None) -> list[tuple[str, float]]:
    """``'name_swap:0.3,char_noise:0.2'`` -> [(name, rate), ...]."""
    if not spec:
        return []
    out = []
    for part in spec.split(","):
        name, _, rate = part.partition(":")
        try:
            r = float(rate) if rate else 0.3
        except ValueError:
            raise XnerError(f"--augment: bad rate in {part!r} (NAME:RATE)") from None
        for n in name.split("+"):
            if n not in REGISTRY:
                raise XnerError(f"--augment: unknown perturbation {n!r}")
            if REGISTRY[n].needs:
                raise XnerError(f"--augment: {n} needs {', '.join(REGISTRY[n].needs)}; use one that works on the "
                                "training text alone")
        out.append((name, r))
    return out


def augment_corpus(train: Corpus, specs: list[tuple[str, float]], seed: int, source=None) -> tuple[Corpus, list[dict]]:
    """The training corpus followed by one perturbed copy per spec."""
    if not specs:
        return train, []
    copies, stats = [train], []
    ctx = Context(source=source, lang=train.lang)
    for k, (name, rate) in enumerate(specs):
        r = make(name, rate=rate).apply(train, seed + k, ctx)
        copies.append(r.corpus)
        st = r.stats
        stats.append({"perturbation": name, "rate": rate, "sentences": len(r.corpus),
                      "tokens_edited": st["tokens_edited"], "entities_edited": st["entities_edited"]})
    return concat(copies, lang=train.lang), stats
