"""Planning a sweep: a config expanded into groups (cells that share one model: one model, setting,
target and training seed) and their cells.

A student setting names its sources (``pair``, ``related:k``, ``unrelated:k``, ``mixed:k``, ``a,b``,
or one of these per target: ``{ af = "nl,de", fa = "ar,en" }``), may split a labelled ``budget``
across its teachers and may train several ``teachers`` per source language (``seeds:n``); which
teachers a student distils from, with their seeds and training sentences, is :func:`teacher_plan`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from xner.errors import XnerError

__all__ = ["lapt_model", "Group", "Teacher", "condition_label", "disjoint_shares", "ensemble_size", "languages", "material_langs", "material_parts",
           "pair_source", "perturbation_entry", "perturbation_rates", "plan", "resolve_sources", "setting_label",
           "setting_sources", "special", "teacher_plan"]

#: teacher i (0-based) of an ensemble of one language trained with seed ``train_seed * ENSEMBLE_STRIDE + i``
ENSEMBLE_STRIDE = 1000


def pair_source(target: str) -> str:
    """The study's paired high-resource language of a target (the single-best source, fixed a priori)."""
    from xner.langs import pair_of

    hrl = pair_of(target)
    if hrl is None:
        raise XnerError(f"no study pair for target {target!r}")
    return hrl


def _mixed(target: str, k: int) -> list[str]:
    """``mixed:k``: the k-1 most related sources, then the first unrelated source written in the
    target's script (else the first unrelated one), so that "more diverse" adds a language of another
    family without adding a script where the registry offers one in the target's script."""
    from xner.langs import SOURCE_GROUPS, base_code, language, source_group

    if k < 2:
        raise XnerError("mixed:k needs k >= 2 (k-1 related sources and one unrelated)")
    related = source_group(target, "related", k - 1)
    unrelated = SOURCE_GROUPS[base_code(target)]["unrelated"]
    script = getattr(language(target), "script", None)
    same = [x for x in unrelated if getattr(language(x), "script", None) == script]
    return [*related, (same or unrelated)[0]]


def resolve_sources(spec: str, target: str) -> list[str]:
    """Source languages for a target: ``pair`` (the study's), ``related:k``, ``unrelated:k``,
    ``mixed:k`` (k-1 related + 1 unrelated, see :func:`_mixed`) or ``a,b``."""
    from xner.langs import source_group

    if spec == "pair":
        return [pair_source(target)]
    kind, _, k = spec.partition(":")
    if kind in ("related", "unrelated", "mixed"):
        try:
            n = int(k or 1)
        except ValueError:
            raise XnerError(f"bad sources {spec!r}: {kind}:K with a whole number K") from None
        return _mixed(target, n) if kind == "mixed" else source_group(target, kind, n)
    return [x.strip() for x in spec.split(",") if x.strip()]


def setting_sources(s: dict, target: str) -> str:
    """A setting's sources spec for one target: its ``sources`` string, or the target's entry when
    ``sources`` is a table per target (``{ af = "nl,de", fa = "ar,en" }``; ``"*"``: every other target)."""
    src = s.get("sources", "pair")
    if isinstance(src, dict):
        spec = src.get(target, src.get("*"))
        if not isinstance(spec, str) or not spec:
            raise XnerError(f"{s.get('kind')} setting {s.get('label') or ''}: no sources for target {target} in "
                            f"{src!r} (add {target} = \"...\" or \"*\" = \"...\")")
        return spec
    if not isinstance(src, str) or not src:
        raise XnerError(f"'sources' is a string (pair, related:k, unrelated:k, mixed:k, a,b) or a table per target; "
                        f"got {src!r}")
    return src


def ensemble_size(s: dict) -> int:
    """Teachers per source language of a student setting: ``teachers = "seeds:n"`` (or n; n teachers
    differing by seed) or ``"shares:n"`` (n teachers on disjoint shares of one labelled budget) -> n,
    default 1."""
    t = s.get("teachers", 1)
    if isinstance(t, str) and t.startswith(("seeds:", "shares:")):
        t = t.split(":", 1)[1]
    try:
        n = int(t)
    except (TypeError, ValueError):
        n = 0
    if isinstance(t, bool) or n < 1:
        raise XnerError(f"'teachers' is \"seeds:N\" (N teachers per source language, differing by seed) or "
                        f"\"shares:N\" (N teachers on disjoint shares of the labelled budget); got {s.get('teachers')!r}")
    return n


def disjoint_shares(s: dict) -> bool:
    """``teachers = "shares:N"``: the teachers split one labelled budget into disjoint shares."""
    return isinstance(s.get("teachers"), str) and s["teachers"].startswith("shares:")


class Teacher(NamedTuple):
    """One teacher of a student: its language, training seed and training sentences (0: the
    language's whole training material; n: a seeded subset of n sentences, see ``Material.part``) and
    which share of the seeded permutation (0: its first n sentences; i: sentences i*n to (i+1)*n, so
    teachers of different shares never see the same sentence)."""

    lang: str
    seed: int
    sentences: int = 0
    share: int = 0


def languages(cfg: dict) -> list[str]:
    """Every language a sweep touches: its targets, then the sources of its non-native settings."""
    langs = dict.fromkeys(cfg["targets"])
    for s in cfg["settings"]:
        for t in cfg["targets"]:
            if s["kind"] != "native":
                langs.update(dict.fromkeys(resolve_sources(setting_sources(s, t), t)))
    return list(langs)


def perturbation_entry(item) -> tuple[str, dict]:
    """A config's perturbation: ``"name"`` (or ``"a+b"``), ``{name = "...", param = value}`` or
    ``["name", {param = value}]`` (as ``recipe_specs`` lists them) -> (spec, parameters); a ``rates``
    entry (this perturbation's own rates, see :func:`perturbation_rates`) is no parameter."""
    if isinstance(item, str):
        return item, {}
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return item["name"], {k: v for k, v in item.items() if k not in ("name", "rates")}
    if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str) and isinstance(item[1], dict):
        return item[0], {k: v for k, v in item[1].items() if k != "rates"}
    raise XnerError(f"a perturbation is a name, {{name = ..., parameter = ...}} or [name, {{parameters}}]; got {item!r}")


def perturbation_rates(item, rates: list) -> list:
    """The rates a perturbation runs at: its own ``rates = [...]`` (e.g. the study's P1/P2 at
    ``["default"]`` only) or the config's ``rates``."""
    own = item.get("rates") if isinstance(item, dict) else item[1].get("rates") if isinstance(item, list | tuple) \
        else None
    if own is None:
        return list(rates)
    if not isinstance(own, list) or not own:
        raise XnerError(f"a perturbation's 'rates' is a non-empty list; got {own!r}")
    return own


def setting_label(kind: str, spec: str = "", weighting: str = "") -> str:
    """How a setting is named in reports: ``native``, ``zero-shot pair``, ``student related:2 (langid)``."""
    out = kind if kind == "native" else f"{kind} {spec}"
    return out + (f" ({weighting})" if weighting else "")


def _budget(s: dict) -> int | str:
    b = s.get("budget", 0)
    if b == "pair" or (isinstance(b, int) and not isinstance(b, bool) and b >= 0):
        return b
    raise XnerError(f"'budget' is a number of labelled sentences or \"pair\" (the pair teacher's); got {b!r}")


def condition_label(s: dict) -> str:
    """A setting's name in reports and plans: its ``label`` (after its kind: ``student related K=2``),
    else ``kind sources (weighting)`` with the budget and the teachers per language when set."""
    kind = s["kind"]
    if s.get("label"):
        lbl = str(s["label"])
        return lbl if lbl.split()[0] == kind else f"{kind} {lbl}"
    src = s.get("sources", "pair")
    spec = "" if kind == "native" else "{" + "; ".join(f"{t}={v}" for t, v in src.items()) + "}" \
        if isinstance(src, dict) else str(src)
    out = setting_label(kind, spec, s.get("weighting", "uniform") if kind == "student" else "")
    if s.get("lapt"):
        out += " +lapt"
    if kind == "student" and _budget(s):
        out += f" budget={s['budget']}"
    if kind == "student" and ensemble_size(s) > 1:
        out += f" {'shares' if disjoint_shares(s) else 'seeds'}:{ensemble_size(s)}"
    return out


def lapt_model(model: str, target: str) -> str:
    """The name of ``model`` adapted to ``target`` by a setting's ``lapt`` (:func:`.config.resolve_models`
    adds its spec: masked-LM pretraining of the model on the target's unlabelled text)."""
    return f"{model}+lapt:{target}"


def special(s: dict) -> bool:
    """Whether a setting uses what older configs could not say (a label, sources per target, a
    budget, several teachers per language): only such settings add these to their cells' keys."""
    return bool(s.get("label") or isinstance(s.get("sources"), dict) or s.get("budget") or "teachers" in s)


@dataclass(frozen=True)
class Group:
    """Cells that share one model: (model, setting, target, training seed)."""

    model: str
    setting: str  # kind
    sources: tuple[str, ...]  # for joint: the sources, then the target
    target: str
    weighting: str = ""
    train_seed: int = 0
    spec: str = ""  # the config's sources spec for this target (pair, related:2, en,ru; native: "")
    budget: int | str = 0  # students: labelled sentences split across the teachers (0: none; "pair")
    teachers: int = 1  # students: teachers per source language (seeds:n or shares:n)
    condition: str = ""  # the setting's label in reports (see condition_label)
    shares: bool = False  # teachers = "shares:n": disjoint shares of the budget instead of seeds

    @property
    def label(self) -> str:
        src = "+".join(self.sources)
        w = f"/{self.weighting}" if self.weighting else ""
        return f"{self.model}:{self.setting}{w}:{src}->{self.target}#seed{self.train_seed}"


def teacher_plan(g: Group, size: Callable[[str], int] | None = None) -> list[Teacher]:
    """A student's teachers, in order (the first is the student's starting point when it starts from
    a teacher): for each source, ``g.teachers`` teachers with seeds ``train_seed`` (one teacher) or
    ``train_seed * 1000 + i`` (i = 0..n-1); with a ``budget`` of N labelled sentences (``"pair"``: the
    size of the pair language's training material, ``size(lang)``), each of the K teachers trains on
    floor(N / K) sentences of its language (the whole material when it has no more).  With
    ``shares`` (``teachers = "shares:n"``) the n teachers of a language share the training seed and
    take disjoint slices of one seeded permutation: floor(N / n) sentences each, none seen twice."""
    n_each = max(1, int(g.teachers))
    k = len(g.sources) * n_each
    per = 0
    budget = g.budget or ("pair" if g.shares else 0)
    if budget:
        if budget != "pair":
            total = int(budget)
        elif size is None:
            raise XnerError("budget = \"pair\" needs the material's sizes")
        else:
            total = size(pair_source(g.target))
        per = total // k
        if per < 1:
            raise XnerError(f"budget {budget} ({total} sentences) is less than one sentence per teacher ({k})")
    out = []
    for lang in g.sources:
        for i in range(n_each):
            if g.shares:
                if size is not None and per * n_each > size(lang):
                    raise XnerError(f"{n_each} disjoint shares of {per} sentences need {per * n_each} of {lang}, "
                                    f"which has {size(lang)}")
                out.append(Teacher(lang, g.train_seed, per, i))
                continue
            seed = g.train_seed if n_each == 1 else g.train_seed * ENSEMBLE_STRIDE + i
            out.append(Teacher(lang, seed, per if per and (size is None or per < size(lang)) else 0))
    return out


def material_langs(g: Group) -> tuple[str, ...]:
    """The languages whose (labelled) training material a group's model saw: the target for native,
    the sources for zero-shot, sources and target for joint, and for a student the union of its
    teachers' training data (its sources; the target text it was distilled on carries no labels)."""
    return (g.target,) if g.setting == "native" else g.sources


def material_parts(g: Group, size: Callable[[str], int] | None = None) -> list[Teacher]:
    """The training material a group's model saw, as parts (language, seed, sentences): the whole
    material of :func:`material_langs`, or for a student its teachers' parts (``Material.training_parts``
    takes their union)."""
    if g.setting == "student":
        return teacher_plan(g, size)
    return [Teacher(x, 0, 0) for x in material_langs(g)]


def plan(cfg: dict) -> list[tuple[Group, list[dict]]]:
    """Every group with its cells' descriptive parameters (clean cell first), per training seed."""
    out = []
    for model in cfg["models"]:
        for target in cfg["targets"]:
            for s in cfg["settings"]:
                kind = s["kind"]
                spec = "" if kind == "native" else setting_sources(s, target)
                if kind == "native":
                    sources = (target,)
                else:
                    sources = tuple(resolve_sources(spec, target))
                    if target in sources:
                        raise XnerError(f"{kind}: target {target} among its sources")
                    if len(set(sources)) != len(sources):
                        raise XnerError(f"{kind}: a source twice in {spec!r} (several teachers of one language: "
                                        "teachers = \"seeds:N\")")
                if kind == "joint":
                    sources = (*sources, target)
                weighting = s.get("weighting", "uniform") if kind == "student" else ""
                budget, n_teachers = (_budget(s), ensemble_size(s)) if kind == "student" else (0, 1)
                if kind != "student" and (s.get("budget") or "teachers" in s):
                    raise XnerError(f"'budget' and 'teachers' are student settings; {kind} has neither")
                if n_teachers > 1 and weighting != "uniform":
                    raise XnerError("several teachers of one language (teachers = \"seeds:N\") need weighting = "
                                    "\"uniform\": language-ID weights tell languages apart, not seeds")
                extra_s = {}
                if special(s):
                    extra_s = {"label": condition_label(s), **({"budget": budget} if budget else {}),
                               **({"teachers": n_teachers} if n_teachers > 1 else {}),
                               **({"shares": True} if disjoint_shares(s) else {}),
                               **({"source_set": s["source_set"]} if s.get("source_set") else {})}
                m = lapt_model(model, target) if s.get("lapt") else model  # adapted to the target first
                if s.get("lapt"):
                    extra_s["lapt"] = True
                for train_seed in cfg.get("train_seeds", [0]):
                    g = Group(m, kind, sources, target, weighting, int(train_seed), spec, budget, n_teachers,
                              condition_label(s), disjoint_shares(s))
                    base = {"model": m, "setting": kind, "sources_spec": spec, "sources": list(sources),
                            "target": target, "weighting": weighting, "train_seed": int(train_seed), **extra_s}
                    cells = [{**base, "perturbation": "clean", "rate": None, "seed": None}]
                    for item in cfg["perturbations"]:
                        pert, args = perturbation_entry(item)
                        extra = {"perturbation_args": args} if args else {}
                        for rate in perturbation_rates(item, cfg["rates"]):
                            for seed in cfg["seeds"]:
                                cells.append({**base, "perturbation": pert, **extra, "rate": rate, "seed": seed})
                    out.append((g, cells))
    return out
