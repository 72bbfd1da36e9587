"""Named, cited perturbation sets (TextAttack-style recipes), each with its deviations written beside it.

``xner evaluate --recipe manafi2024`` runs the reference study's five perturbations as the study
defined them; ``--recipe srinivasan2023`` Srinivasan & Vajjala's.  In a sweep config,
``perturbations = recipe_specs("manafi2024")`` gives the same list (each entry a spec string and its
parameters for :func:`~xner.robustness.perturbations.make`).
"""

from __future__ import annotations

from dataclasses import dataclass

from xner.errors import XnerError

__all__ = ["RECIPES", "Recipe", "recipe", "recipe_specs"]


@dataclass(frozen=True)
class Recipe:
    name: str
    citation: str
    code: str  # where the authors' code is
    entries: tuple[tuple[str, dict], ...]  # (perturbation spec, parameters), in the paper's order
    deviations: tuple[str, ...]  # what xner does differently, and why

    def describe(self) -> str:
        lines = [f"{self.name}: {self.citation}", f"  code: {self.code}", "  perturbations:"]
        lines += [f"    {spec} {params}" for spec, params in self.entries]
        lines += ["  deviations:"] + [f"    - {d}" for d in self.deviations]
        return "\n".join(lines)


_STUDY = dict(rate=None)
RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe(
        "manafi2024",
        "Manafi & Krishnaswamy, Cross-Lingual Transfer Robustness to Lower-Resource Languages on Adversarial "
        "Datasets, LREC-COLING 2024 (arXiv 2403.20056)",
        "github.com/csu-signal/xlingual-robustness (finetuning_NER notebooks)",
        (("entity_swap_shared", dict(_STUDY)),
         ("context_swap", dict(_STUDY, filter="study", vectors="fixed")),
         ("entity_swap_shared+context_swap", dict(_STUDY)),
         ("name_swap", dict(_STUDY, pool="auto", span="given")),
         ("place_swap", dict(_STUDY, pool="auto"))),
        ("P4/P5 pools: the study fetched given names (Wiktionary 'LANGUAGE given names') and places "
         "(Wiktionary 'LANG:Places') of the target language online; offline xner takes the target's own Faker "
         "locale for given names, CLDR territory and region names in the target language for places, else the "
         "target's training split (chunks absent from the test set).",
         "The class that applied the perturbations was never released: P1 draws a same-type test chunk unseen "
         "in training per shared chunk at random (seeded), P2 replaces O tokens only and capitalises a "
         "replacement of a capitalised word (as the released WikiTitle code does).",
         "P2 vectors: the study used mBERT / XLM-R as pre-trained; xner uses Context.vectors (--vectors, default "
         "the evaluated model's base model), [CLS] of the lower-cased word alone.",
         "The study split (--split-scheme study) is seeded (the study's was one unseeded shuffle).")),
    Recipe(
        "srinivasan2023",
        "Srinivasan & Vajjala, A Multilingual Evaluation of NER Robustness to Adversarial Inputs, RepL4NLP 2023 "
        "(arXiv 2305.18933)",
        "github.com/nishkalavallabhi/nercoop2022 (Code/Adversarial_Testing)",
        (("entity_resample", dict(_STUDY, method="sv")),
         ("context_mask", dict(_STUDY, k=3, top_k=5, fill="sequential")),
         ("entity_resample+context_mask", dict(_STUDY, method="sv", k=3, top_k=5, fill="sequential")),
         ("name_swap+place_swap", dict(_STUDY, pool="auto", span="chunk"))),
        ("Donors are drawn in an order keyed by the seed (their script scanned the mention list from its end "
         "and fell back to a random mention); 'not already in the sentence' compares word sequences, not "
         "substrings of the joined line.",
         "Masking needs a masked LM (Context.mlm / --mlm; they used bert-base-uncased, English); without one the "
         "mask token stays. The masked token is the one drawn (theirs: the first occurrence of its word), and "
         "its other occurrences take the fill only where they may be edited (O tokens).",
         "Their Faker set replaced tokens one by one (B-PER first name, I-PER last name, B-LOC country or city, "
         "I-LOC city suffix, en_US/en_CA/en_IN); xner replaces whole PER and LOC chunks from the target's pools.")),
)}


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise XnerError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    return RECIPES[name]


def recipe_specs(name: str) -> list[tuple[str, dict]]:
    """A recipe's perturbations: (spec, parameters) pairs for ``make(spec, **parameters)``."""
    return [(spec, dict(params)) for spec, params in recipe(name).entries]
