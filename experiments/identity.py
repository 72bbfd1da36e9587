"""A cell's identity: everything that determines its numbers, hashed into its store key.

``params`` of a cell = what the report shows (model, setting, sources, target, weighting, training
seed, perturbation, rate, perturbation seed, the model's ``model_id`` and ``substituted_for``) plus
the perturbation's resolved parameters and ``identity``, the part every cell of a group shares:

* ``model``: the resolved spec (the fallback's when one stood in, with ``substituted_for``), and what
  pins it (hub id, a local folder's content hash, or an init model's vocabulary hash);
* ``train``: the resolved fine-tuning hyperparameters (also a student's teachers'); ``distill``: the
  student's hyperparameters, initialisation and layers (students only); ``export``: export options;
* ``data``: the source's name, the split scheme, split seed and caps, and content fingerprints of the
  training material of every language the model saw, of the text a student was distilled on and of
  the test set;
* ``train_seed`` and the bootstrap size;
* for a student with a labelled ``budget`` or several teachers per language (``seeds:n``):
  ``teachers``, each teacher's language, seed, training sentences and their content fingerprint, and
  the ``budget`` as written (its training material in ``data`` is then the union of the teachers');
* the masked LM that filled ``context_mask`` (config ``mlm``; its cells only);
* ``numerics``: the onnxruntime fusions a CPU session leaves out, and (static int8) the quantisation
  recipe.

Change any of them and the cell gets a new key: a rerun into the same store computes it afresh and
leaves the old row in place (it stays attributed to the run that wrote it).  ``variant`` hashes the
conditions that are not shown in a report's row labels, so that cells of different configurations
are never averaged together.
"""

from __future__ import annotations

import hashlib
import json

from xner.fingerprint import corpus_sha256

from .artefacts import Artifacts, numerics
from .plan import Group, material_langs, material_parts
from .store import cell_key

__all__ = ["baseline_variant", "IDENTITY_VERSION", "cell_params", "clean_key", "condition_key", "group_identity", "make_perturbation",
           "model_id", "variant"]

# what varies between the cells of one condition: the perturbation applied, and the training seed
# (a replicate); everything else in a cell's params is part of its condition
CELL_FIELDS = ("perturbation", "perturbation_args", "perturbation_params", "rate", "seed", "vectors", "mlm")
REPLICATE_FIELDS = ("train_seed",)
DERIVED_FIELDS = ("identity", "model_id", "substituted_for")  # held in identity (model_id follows the model spec)

IDENTITY_VERSION = 3


def make_perturbation(name: str, rate="default", args: dict | None = None):
    """The perturbation a cell applies: ``name`` with the config's parameters, at ``rate`` as written
    (``default``: the perturbation's own, or the parameters' rate)."""
    from xner.robustness.perturbations import make, parse_rate, rate_params

    return make(name, **{**(args or {}), **rate_params(parse_rate(rate))})


def model_id(spec_identity: dict) -> str:
    """The model that actually ran: the hub id, the local folder, or ``init`` for a model built here."""
    spec = spec_identity["spec"]
    return spec.get("hub") or spec.get("path") or "init"


def group_identity(arts: Artifacts, g: Group, bootstrap: int, incremental: bool = True) -> dict:
    mat = arts.material
    student = g.setting == "student"
    extra: dict = {}
    material = {lang: mat.sha256(lang, "train") for lang in material_langs(g)}
    if student and (g.budget or g.teachers > 1 or g.shares):
        parts = material_parts(g, lambda x: len(mat.train(x)))
        extra = {"budget": g.budget or None, "teachers": [
            {"lang": t.lang, "seed": t.seed, "sentences": t.sentences or len(mat.train(t.lang)),
             "sha256": mat.part_sha256(t.lang, t.sentences, t.seed, t.share), **({"share": t.share} if t.share else {})}
            for t in parts]}
        # what the teachers saw (seeded parts: they change with the training seed) and, seed-independent,
        # the material they were drawn from (what the condition key compares across training seeds)
        extra["material_base"] = {lang: mat.sha256(lang, "train") for lang in dict.fromkeys(t.lang for t in parts)}
        material = {lang: corpus_sha256(mat.training_parts([t for t in parts if t.lang == lang]))
                    for lang in dict.fromkeys(t.lang for t in parts)}
    base = extra.pop("material_base", None)
    return {
        "version": IDENTITY_VERSION,
        "model": arts.model_identity(g.model),
        "train": arts.train_hp(),
        "distill": arts.distill_hp() if student else None,
        "export": arts.cfg["export"],
        "data": {"source": mat.source_name, "split": mat.describe(),
                 "material": material, **({"material_base": base} if base else {}),
                 "distilled_on": mat.sha256(g.target, "train") if student else None,
                 "test": mat.sha256(g.target, "test")},
        "train_seed": g.train_seed,
        "bootstrap": int(bootstrap),
        # exact for float graphs; int8 tags can depend on batch-mates, so the path is part of the identity
        "inference": "incremental" if incremental else "full",
        # how the graph was made and run: the static int8 recipe (int8 only), the onnxruntime fusions a
        # CPU session leaves out (a change to either can move logits, so it makes new cells)
        "numerics": numerics(arts.cfg["export"]),
        **extra,
    }


def cell_params(cells: list[dict], identity: dict, vectors: dict | None = None, mlm: str | None = None) -> list[dict]:
    """A group's planned cells with their model, resolved perturbation parameters and identity;
    ``vectors`` (the fixed encoder of the study's P2) joins the cells of perturbations that use it,
    ``mlm`` (the masked LM filling ``context_mask``, when one is set) the cells of that one."""
    resolved: dict[str, dict] = {}
    out = []
    for c in cells:
        extra: dict = {"perturbation_params": None}
        if c["perturbation"] != "clean":
            args = c.get("perturbation_args") or {}
            k = json.dumps([c["perturbation"], c["rate"], args], sort_keys=True)
            if k not in resolved:
                pert = make_perturbation(c["perturbation"], c["rate"], args)
                resolved[k] = {"perturbation_params": json.loads(json.dumps(pert.params, default=str))}
                if vectors is not None and "context_swap" in pert.name.split("+"):
                    resolved[k]["vectors"] = vectors
                if mlm and "context_mask" in pert.name.split("+"):
                    resolved[k]["mlm"] = mlm
            extra = resolved[k]
        out.append({**c, "model_id": model_id(identity["model"]),
                    "substituted_for": identity["model"].get("substituted_for"), **extra, "identity": identity})
    return out


def clean_key(params: dict) -> str:
    """The key of the clean cell of a cell's group (the model's unperturbed test set)."""
    p = {k: v for k, v in params.items() if k not in ("perturbation_args", "vectors", "mlm")}
    p.update(perturbation="clean", rate=None, seed=None)
    if "perturbation_params" in params:
        p["perturbation_params"] = None
    return cell_key(p)


def condition_key(params: dict, drop: tuple[str, ...] = ()) -> str:
    """The one key of a cell's condition: every field of its params (model, setting, sources spec and
    sources, target, weighting, label, budget, teachers, lapt, ...) but the perturbation and the
    training seed, plus its :func:`variant` and, within the target, the data it saw and was tested on
    (content fingerprints of its training material, distillation text and test set, each teacher's
    share).  Every report table groups cells by this key; ``drop`` names fields a comparison varies
    on purpose (``("model",)``: model against model; the model's resolved identity goes too)."""
    ident = dict(params.get("identity") or {})
    shown = {k: v for k, v in params.items()
             if k not in CELL_FIELDS + REPLICATE_FIELDS + DERIVED_FIELDS and k not in drop}
    data = dict(ident.get("data") or {})
    # a budget or ensemble student's teachers train on seeded parts, drawn anew for each training seed: the
    # condition holds what they were drawn from and each teacher's language and size, not the draw itself
    teachers = [(t.get("lang"), t.get("sentences"), t.get("share", 0)) for t in ident.get("teachers") or []] or None
    within = {"material": data.get("material_base") or data.get("material"), "distilled_on": data.get("distilled_on"),
              "test": data.get("test"), "teachers": teachers}
    key = {"shown": shown, "variant": variant(params, drop_model="model" in drop), "data": within}
    return json.dumps(key, sort_keys=True, default=str)


def baseline_variant(params: dict) -> str:
    """What a setting and its baseline (the pair student, the zero-shot model of the report's
    contrasts) must share: the :func:`variant` without what differs between settings by design (the
    distillation settings, the teachers)."""
    ident = {k: v for k, v in (params.get("identity") or {}).items() if k not in ("distill", "teachers", "budget")}
    return variant({**params, "identity": ident})


def variant(params: dict, drop_model: bool = False) -> str:
    """A short hash of the conditions a report row does not show (training, distillation and export
    settings, resolved model, data source, split and caps, bootstrap size): cells with different
    variants are different experiments.  It is the same for one setting over several targets (the
    target-specific data fingerprints are in :func:`condition_key`); ``drop_model`` leaves the
    resolved model out (model against model)."""
    ident = dict(params.get("identity") or {})
    if drop_model:
        ident.pop("model", None)
    data = dict(ident.pop("data", None) or {})
    ident.pop("train_seed", None)
    # the teachers' languages and sizes follow the target (its sources, its budget) and their seeds the
    # training seed: one setting over several targets is one variant; how many teachers it has is kept
    teachers = ident.pop("teachers", None)
    cond = {**ident, "data": {"source": data.get("source"), "split": data.get("split")}}
    if teachers:
        cond["teachers"] = len(teachers)
    return hashlib.sha256(json.dumps(cond, sort_keys=True, default=str).encode()).hexdigest()[:8]
