"""Evaluating a group's cells: one exported model, its target's test set, the clean cell and every
perturbed cell, scored as :mod:`xner.robustness.evaluate` scores them, with each cell's per-sentence
counts kept for the report's intervals (:mod:`.uncertainty`)."""

from __future__ import annotations

from dataclasses import dataclass

from .identity import make_perturbation
from .material import Material
from .plan import Group, material_langs, material_parts
from .uncertainty import pack_counts

__all__ = ["CellJob", "edit_rate", "evaluate_group"]


@dataclass(frozen=True)
class CellJob:
    """What every group's evaluation shares: where the data is and how it is split, capped and scored."""

    data: str
    repair: str
    scheme: str
    split_seed: int
    train_cap: int
    test_cap: int
    bootstrap: int
    incremental: bool = True
    mlm: str | None = None  # the masked LM filling context_mask (None: the mask token)
    tested: tuple[str, ...] = ()  # the sweep's targets: their held-out text leaves every training text

    def material(self) -> Material:
        """The sweep's material as the models saw it (the same split, caps and held-out text)."""
        from xner.datadir import open_source

        return Material(open_source(self.data, self.repair), self.scheme, self.split_seed, self.train_cap,
                        self.test_cap, self.tested)


def edit_rate(pert, row: dict) -> dict:
    """Requested vs achieved edit rate of a perturbed cell's ``row`` (from ``run_cell``), in the
    perturbation's unit (entities or tokens; a combination's first part's).  ``capped``: the eligible
    material (e.g. chunks shared with training) held fewer units than the rate asks for, as every
    perturbation reports it (any part of a combination)."""
    params = pert.params
    first = params if "rate" in params else next(iter(params.values()), {})
    stats = row["edit"]
    unit = pert.unit
    parts = row.get("parts") or [stats]
    return {"unit": unit, "requested": first.get("rate"),
            "achieved": float(stats.get("entity_edit_rate" if unit == "entities" else "token_edit_rate", 0.0)),
            "units": int(stats.get("entities" if unit == "entities" else "tokens", 0)),
            "capped": any(bool(st.get("capped")) for st in parts)}


def _context(**kw):
    """A perturbation context; ``vectors`` (the fixed word-vector encoder of the study's P2: the
    evaluated model's pre-trained base model) where this version of the perturbations takes one."""
    from xner.robustness.perturbations import Context

    vectors = kw.pop("vectors", None)
    if vectors is not None and "vectors" in getattr(Context, "__dataclass_fields__", {}):
        from xner.robustness.vectors import encoder_vectors

        kw["vectors"] = encoder_vectors(vectors)
    return Context(**kw)


def _overlap(train, test, target: str, langs: tuple[str, ...]) -> dict:
    import inspect

    from xner.overlap import overlap

    if "target_lang" in inspect.signature(overlap).parameters:
        return overlap(train, test, target_lang=target, source_lang="+".join(langs))
    return overlap(train, test)


def evaluate_group(onnx_dir: str, job: CellJob, g: Group, cells: list[dict],
                   vectors: str | None = None) -> list[tuple[dict, dict, bytes]]:
    """(params, row, packed per-sentence counts) for each cell; a pure function of its inputs (also
    run as a Ray task).  Overlap and the study's P1/P2 use the material the model saw; ``vectors`` is
    the model the study's P2 takes word vectors from (the group's pre-trained base model)."""
    from xner.export.runtime import Runtime
    from xner.robustness.evaluate import clean_cell, run_cell
    from xner.robustness.incremental import PredictionCache

    mat = job.material()
    rt = Runtime(onnx_dir, provider="cpu", threads=1)
    cache = PredictionCache(rt) if job.incremental else None  # infer only what each perturbation changed
    corpus = mat.test(g.target)
    langs = material_langs(g)
    train = mat.training_parts(material_parts(g, lambda x: len(mat.train(x))))  # a student's: its teachers' union
    ov = _overlap(train, corpus, g.target, langs)
    ctx = _context(train=train, runtime=rt, source=mat.source, lang=g.target, vectors=vectors, mlm=job.mlm)
    clean, clean_row = clean_cell(rt, corpus, job.bootstrap, cache)
    common = {"overlap": {k: v for k, v in ov.items() if isinstance(v, float | int)},
              "test_sentences": len(corpus), "material_sentences": len(train)}
    if g.setting == "student":  # what the report's source-set regression reads, measured once per model
        from .sourcesets import measured_properties

        common["set_properties"] = measured_properties(onnx_dir, g, corpus, mat.sha256(g.target, "test"))
    out = []
    for p in cells:
        if p["perturbation"] == "clean":
            row = {**clean_row, "clean_f1": clean_row["f1"], "delta_f1": 0.0}
            counts = clean.counts
        else:
            pert = make_perturbation(p["perturbation"], p["rate"], p.get("perturbation_args"))
            got: list = []
            row = run_cell(rt, corpus, pert, int(p["seed"]), ctx, clean, job.bootstrap, cache, got)
            counts = got[0].counts
            row["edit_rate"] = edit_rate(pert, row)
        out.append((p, {**row, **common}, pack_counts(counts)))
    return out
