"""The perturbation engine: base class, context requirements, registry, combinations and batching.

A perturbation is one class: a registered ``name``, ``defaults`` (its parameters), the ``unit`` its
rate counts (``"entities"``: chunk replacements that keep every O-word; ``"tokens"``: in-place word
edits that keep every length and tag), ``needs`` (what it requires from the :class:`Context`, names
declared in :data:`CONTEXT_NEEDS`), ``constraints`` (what it may edit, see :mod:`.constraints`) and
two steps of a template method: ``_prepare`` (corpus-level state, a typed :class:`State`) and
``_apply`` (the edit of any batch of the prepared corpus, with its own statistics, ``eligible``
among them).  The base class checks the context, fits the constraints, computes the edit
probability and the edit statistics; the default ``_prepare`` is the edit probability alone.

``rate`` is the share of *all* units to edit, so native and transfer models can be compared at
equal edit intensity; each eligible unit is edited with probability ``min(1, rate * units /
eligible)`` drawn from a counter-based stream keyed by (seed, perturbation, parameters, sentence,
position).  ``rate=None`` edits every eligible unit (the reference study's behaviour).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from xner.corpus import Corpus
from xner.errors import XnerError

from .. import kernels as K
from .constraints import AllOf, Constraint, Scope

__all__ = ["ALIASES", "CONTEXT_NEEDS", "ORIGINS", "REGISTRY", "Combination", "Context", "Need", "Perturbation",
           "Perturbed", "State", "apply_batched", "declare_need", "edit_stats", "make", "names", "register",
           "replace_words"]


@dataclass
class Context:
    """What some perturbations need besides the test corpus."""

    train: Corpus | None = None  # the training-language train split (study P1, P2)
    runtime: Any = None  # a Runtime: word vectors (context_swap), mask token
    source: Any = None  # a data source, for wikiann: pools
    lang: str = ""  # target language (default name/place locale)
    mlm: str | None = None  # a masked-LM folder or hub id for context_mask
    vectors: Any = None  # a fixed word-vector encoder for context_swap (``word_vectors(words)``)


@dataclass(frozen=True)
class Need:
    """A requirement on the :class:`Context`: one of its fields, set."""

    name: str  # the Context field
    what: str  # what to give, for the error message

    def met(self, ctx: Context) -> bool:
        return getattr(ctx, self.name) is not None


#: every requirement a perturbation or constraint may declare in ``needs``, in one place
CONTEXT_NEEDS: dict[str, Need] = {}


def declare_need(name: str, what: str) -> Need:
    """Declare a context requirement (``name`` must be a :class:`Context` field)."""
    if name not in {f.name for f in fields(Context)}:
        raise TypeError(f"context requirement {name!r} is not a Context field")
    CONTEXT_NEEDS[name] = Need(name, what)
    return CONTEXT_NEEDS[name]


declare_need("train", "the training language's corpus (--train-lang)")
declare_need("runtime", "a model (--model)")
declare_need("source", "a data folder (--data-dir)")
declare_need("mlm", "a masked LM (--mlm)")
declare_need("vectors", "a fixed word-vector encoder (--vectors MODEL; default: the evaluated model's base model)")


@dataclass
class Perturbed:
    corpus: Corpus
    edit: np.ndarray  # bool per token of the new corpus: edited by this step or an earlier one
    stats: dict = field(default_factory=dict)
    carried: np.ndarray | None = None  # the part of ``edit`` made by earlier steps


@dataclass(kw_only=True)
class State:
    """Corpus-level state of a perturbation, prepared once on the whole test set so that batches of it
    give the same output as the whole; perturbations subclass it with their own typed fields."""

    rule: AllOf = field(default_factory=AllOf)  # the fitted constraints: what may be edited
    p: float | None = None  # the edit probability of an eligible unit


S = TypeVar("S", bound=State)


class Perturbation(Generic[S]):
    name: ClassVar[str] = ""
    unit: ClassVar[str] = "entities"  # or "tokens"
    defaults: ClassVar[dict] = {"rate": 0.3}
    needs: ClassVar[tuple[str, ...]] = ()  # keys of CONTEXT_NEEDS
    constraints: ClassVar[tuple[Constraint, ...]] = ()  # what may be edited (see ``eligibility``)
    origin: ClassVar[tuple[str, int]] = ("xner", 99)  # (who published it: one of ORIGINS, its number there)

    def __init__(self, constraints: Sequence[Constraint] = (), **params):
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise XnerError(f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))} "
                            f"(has: {', '.join(self.defaults)})")
        self.params = {**self.defaults, **{k: v for k, v in params.items() if v is not None or k == "rate"}}
        if "rate" not in params:
            self.params["rate"] = self.defaults.get("rate")
        r = self.params.get("rate")
        if r is not None and not 0 <= float(r) <= 1:
            raise XnerError(f"{self.name}: rate must be between 0 and 1")
        self.extra: tuple[Constraint, ...] = tuple(constraints)
        key = json.dumps(self.params, sort_keys=True, default=str)
        if self.extra:  # extra constraints draw another stream; without them the key is unchanged
            key += "|" + ",".join(map(repr, self.extra))
        self.key = K.perturbation_key(self.name, key)

    def __repr__(self) -> str:
        extra = [f"constraints={list(self.extra)}"] if self.extra else []
        return f"{self.name}({', '.join([*(f'{k}={v}' for k, v in self.params.items()), *extra])})"

    # -- what it needs and what it may edit ---------------------------------------------------------

    def requirements(self) -> tuple[str, ...]:
        """The perturbation's ``needs``, then those of its constraints."""
        out = dict.fromkeys(self.needs)
        for c in self.eligibility():
            out.update(dict.fromkeys(c.requires()))
        return tuple(out)

    def missing(self, ctx: Context) -> list[str]:
        return [n for n in self.requirements() if not CONTEXT_NEEDS[n].met(ctx)]

    def check(self, ctx: Context) -> None:
        for n in self.missing(ctx):
            raise XnerError(f"{self.name} needs {CONTEXT_NEEDS[n].what}")

    def eligibility(self) -> tuple[Constraint, ...]:
        """Its own constraints (``constraints``, or a function of the parameters), then those given to
        :func:`make`."""
        return (*self.constraints, *self.extra)

    # -- the template method ------------------------------------------------------------------------

    def probability(self, n_units: int, n_eligible: int) -> float:
        rate = self.params.get("rate")
        if rate is None:
            return 1.0
        return min(1.0, float(rate) * n_units / n_eligible) if n_eligible else 0.0

    def edit_probability(self, scope: Scope, eligible: np.ndarray) -> float:
        """``probability`` for this corpus: units are its tokens or chunks, as ``unit`` says."""
        n = scope.corpus.n_tokens if self.unit == "tokens" else scope.chunks.shape[0]
        return self.probability(n, int(eligible.sum()))

    def eligible(self, rule: AllOf, scope: Scope) -> np.ndarray:
        """What ``rule`` allows, per token or per chunk of ``scope`` (as ``unit`` says)."""
        return rule.mask(scope) if self.unit == "tokens" else rule.chunk_mask(scope, scope.chunks)

    def select(self, scope: Scope, eligible: np.ndarray, p: float, seed: int) -> np.ndarray:
        """Eligible tokens, each with probability ``p``, drawn from this perturbation's keyed stream."""
        c = scope.corpus
        return K.select_tokens(eligible, c.offsets, c.sentence_ids, p, seed, self.key)

    def prepare(self, corpus: Corpus, ctx: Context, prev: np.ndarray | None = None) -> S:
        """Corpus-level state (fitted constraints, edit probability, pools, replacement tables),
        computed once on the whole test set so that batches of it give the same output as the whole."""
        scope = Scope(corpus, ctx, np.zeros(corpus.n_tokens, dtype=np.bool_) if prev is None else prev)
        rule = AllOf(self.eligibility()).fit(scope)
        st = self._prepare(scope, self.eligible(rule, scope))
        st.rule = rule
        return st

    def apply(self, corpus: Corpus, seed: int, ctx: Context | None = None, prev_edit: np.ndarray | None = None,
              state: S | None = None) -> Perturbed:
        ctx = ctx or Context()
        self.check(ctx)
        prev = np.zeros(corpus.n_tokens, dtype=np.bool_) if prev_edit is None else prev_edit
        st = self.prepare(corpus, ctx, prev) if state is None else state
        scope = Scope(corpus, ctx, prev)
        out = self._apply(scope, self.eligible(st.rule, scope), int(seed), st)
        fresh = out.edit & ~out.carried if out.carried is not None else out.edit
        extra = {"constraints": [repr(c) for c in self.extra]} if self.extra else {}
        es = edit_stats(out.corpus, fresh)
        out.stats = {"perturbation": self.name, "params": dict(self.params), **extra, **out.stats, **es,
                     **self.rate_report(scope, out.stats.get("eligible"), es)}
        return out

    def rate_report(self, scope: Scope, eligible: int | None, es: dict) -> dict:
        """Asked vs achieved rate: ``capped`` when the eligible material holds fewer units than the rate
        asks for (the edit probability is then 1 and the achieved rate falls short)."""
        rate = self.params.get("rate")
        units = scope.corpus.n_tokens if self.unit == "tokens" else scope.chunks.shape[0]
        achieved = es["token_edit_rate"] if self.unit == "tokens" else es["entity_edit_rate"]
        capped = rate is not None and eligible is not None and eligible < float(rate) * units
        return {"requested_rate": rate, "achieved_rate": achieved, "capped": bool(capped)}

    def _prepare(self, scope: Scope, eligible: np.ndarray) -> S:
        """The state of the whole corpus; ``eligible`` says per unit what the constraints allow."""
        return State(p=self.edit_probability(scope, eligible))  # type: ignore[return-value]

    def _apply(self, scope: Scope, eligible: np.ndarray, seed: int, st: S) -> Perturbed:
        """Edit ``scope.corpus`` (the whole prepared corpus or a batch of it), ``eligible`` per unit."""
        raise NotImplementedError


def replace_words(corpus: Corpus, words: np.ndarray, vocab, prev: np.ndarray, changed: np.ndarray,
                  stats: dict) -> Perturbed:
    """The result of same-length word edits (``changed`` tokens now have ``words``)."""
    c = replace(corpus, words=words, vocab=vocab, columns=None, meta=dict(corpus.meta))
    return Perturbed(c, prev | changed, stats, prev & ~changed)


def edit_stats(after: Corpus, edit: np.ndarray) -> dict:
    """Tokens, entities (chunks of the new corpus with an edited token) and sentences edited."""
    ch = after.chunks()
    cs = np.zeros(edit.size + 1, dtype=np.int64)
    np.cumsum(edit, out=cs[1:])
    ent_edited = int((cs[ch[:, 2]] > cs[ch[:, 1]]).sum()) if ch.size else 0
    sent_edited = int((cs[after.offsets[1:]] > cs[after.offsets[:-1]]).sum())
    return {"tokens": after.n_tokens, "tokens_edited": int(edit.sum()),
            "token_edit_rate": float(edit.mean()) if edit.size else 0.0,
            "entities": int(ch.shape[0]), "entities_edited": ent_edited,
            "entity_edit_rate": ent_edited / ch.shape[0] if ch.shape[0] else 0.0,
            "sentences": len(after), "sentences_edited": sent_edited}


# -- registry ---------------------------------------------------------------------------------------

REGISTRY: dict[str, type[Perturbation]] = {}
#: who published a perturbation, in the order ``names()`` lists them (then by number, then by registration)
ORIGINS = ("study", "srinivasan-vajjala", "xner")
ALIASES = {"entity_and_context": "entity_swap_shared+context_swap",
           "resample_and_mask": "entity_resample+context_mask"}
_ORDER: dict[str, int] = {}


def register(cls: type[Perturbation]) -> type[Perturbation]:
    """Class decorator: make a perturbation available by its ``name``."""
    if not cls.name or "+" in cls.name or cls.name in ALIASES:
        raise TypeError(f"{cls.__name__}: a perturbation needs a name without '+' that is not an alias")
    unknown = [n for n in cls.needs if n not in CONTEXT_NEEDS]
    if unknown:
        raise TypeError(f"{cls.__name__}.needs: {', '.join(unknown)} not declared in CONTEXT_NEEDS (declare_need)")
    if cls.unit not in ("entities", "tokens") or "rate" not in cls.defaults or cls.origin[0] not in ORIGINS:
        raise TypeError(f"{cls.__name__}: unit must be entities or tokens, defaults must have a rate and origin "
                        f"one of {', '.join(ORIGINS)}")
    _ORDER.setdefault(cls.name, len(_ORDER))
    REGISTRY[cls.name] = cls
    ordered = sorted(REGISTRY.items(), key=lambda kv: (ORIGINS.index(kv[1].origin[0]), kv[1].origin[1],
                                                       _ORDER[kv[0]]))
    REGISTRY.clear()
    REGISTRY.update(ordered)
    return cls


def names() -> list[str]:
    return list(REGISTRY) + list(ALIASES)


class Combination:
    """``a+b``: apply a, then b on a's output; edits accumulate."""

    def __init__(self, parts: list[Perturbation]):
        self.parts = parts
        self.name = "+".join(p.name for p in parts)
        self.unit = parts[0].unit

    def __repr__(self) -> str:
        return "+".join(repr(p) for p in self.parts)

    @property
    def params(self) -> dict:
        return {p.name: p.params for p in self.parts}

    def missing(self, ctx: Context) -> list[str]:
        return list(dict.fromkeys(n for p in self.parts for n in p.missing(ctx)))

    def apply(self, corpus: Corpus, seed: int, ctx: Context | None = None, prev_edit: np.ndarray | None = None,
              state: Any = None) -> Perturbed:
        edit = prev_edit
        cur = corpus
        parts_stats = []
        for p in self.parts:
            # later parts see the output of earlier ones, so their state is prepared on it
            r = p.apply(cur, seed, ctx, edit)
            cur, edit = r.corpus, r.edit
            parts_stats.append(r.stats)
        return Perturbed(cur, edit, {"perturbation": self.name, "parts": parts_stats,
                                     **edit_stats(cur, edit)})


def make(spec: str, constraints: Sequence[Constraint] = (), **params) -> Perturbation | Combination:
    """A perturbation by name (``a+b`` combinations, aliases); ``params`` go to every part that has them,
    ``constraints`` (what may be edited, besides each part's own) to every part."""
    spec = ALIASES.get(spec, spec)
    parts = []
    for name in spec.split("+"):
        if name not in REGISTRY:
            raise XnerError(f"unknown perturbation {name!r}; choose from {', '.join(names())}")
        cls = REGISTRY[name]
        parts.append(cls(constraints, **{k: v for k, v in params.items() if k in cls.defaults}))
    return parts[0] if len(parts) == 1 else Combination(parts)


# -- batched application ----------------------------------------------------------------------------


def apply_batched(pert: Perturbation | Combination, corpus: Corpus, seed: int, ctx: Context | None = None,
                  batch_size: int = 10_000, workers: int = 1, order: np.ndarray | None = None) -> Perturbed:
    """Apply to batches of sentences (in threads when ``workers > 1``) after preparing corpus-level
    state once on the whole set; the result equals ``pert.apply(corpus, seed, ctx)``."""
    from concurrent.futures import ThreadPoolExecutor

    from xner.corpus import concat, gather_spans

    ctx = ctx or Context()
    parts = pert.parts if isinstance(pert, Combination) else [pert]
    cur, edit = corpus, None
    for part in parts:
        part.check(ctx)
        st = part.prepare(cur, ctx, edit)
        idx = np.arange(len(cur)) if order is None else np.asarray(order)
        batches = [idx[i : i + batch_size] for i in range(0, idx.size, batch_size)]

        def run(b, part=part, cur=cur, edit=edit, st=st):
            sub = cur.subset(b)
            prev = None if edit is None else edit[gather_spans(cur.offsets, np.asarray(b, dtype=np.int64))]
            return part.apply(sub, seed, ctx, prev, st)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
            results = list(ex.map(run, batches))
        # reassemble in the corpus's own order
        inv = np.argsort(np.concatenate(batches))
        joined = concat([r.corpus for r in results])
        merged = joined.subset(inv)
        edit = np.concatenate([r.edit for r in results])[gather_spans(joined.offsets, inv.astype(np.int64))]
        merged.meta["sentence_ids"] = cur.sentence_ids
        cur = merged
    return Perturbed(cur, edit, edit_stats(cur, edit))
