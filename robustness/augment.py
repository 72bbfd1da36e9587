"""Robust training: perturbed copies of training sentences mixed into fine-tuning or distillation."""

from __future__ import annotations

from collections.abc import Sequence

from xner.corpus import Corpus, concat
from xner.errors import XnerError

from .perturbations import REGISTRY, Constraint, Context, Rate, make, parse_rate_specs, rate_params

__all__ = ["augment_corpus", "augmenter", "parse_augment"]


def parse_augment(spec: str | None) -> list[tuple[str, Rate]]:
    """``'name_swap:0.3,char_noise:0.2'`` -> [(name, rate), ...] (a missing rate is 0.3)."""
    return parse_rate_specs(spec, default=0.3, option="--augment", check=_check)


def _check(name: str) -> None:
    for n in name.split("+"):
        if n not in REGISTRY:
            raise XnerError(f"--augment: unknown perturbation {n!r}")
        if REGISTRY[n].needs:
            raise XnerError(f"--augment: {n} needs {', '.join(REGISTRY[n].needs)}; use one that works on the "
                            "training text alone")


def augmenter(spec: str, seed: int, source=None):
    """``corpus -> (corpus + perturbed copies, statistics)`` for :func:`xner.training.finetune.finetune`."""
    specs = parse_augment(spec)
    return lambda train: augment_corpus(train, specs, seed, source)


def augment_corpus(train: Corpus, specs: list[tuple[str, Rate]], seed: int, source=None,
                   constraints: Sequence[Constraint] = ()) -> tuple[Corpus, list[dict]]:
    """The training corpus followed by one perturbed copy per spec; ``constraints`` (what may be
    edited, as in evaluation) go to every perturbation."""
    if not specs:
        return train, []
    copies, stats = [train], []
    ctx = Context(source=source, lang=train.lang)
    for k, (name, rate) in enumerate(specs):
        r = make(name, constraints, **rate_params(rate)).apply(train, seed + k, ctx)
        copies.append(r.corpus)
        st = r.stats
        stats.append({"perturbation": name, "rate": rate, "sentences": len(r.corpus),
                      "tokens_edited": st["tokens_edited"], "entities_edited": st["entities_edited"]})
    return concat(copies, lang=train.lang), stats
