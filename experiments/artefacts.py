"""Artefacts of a sweep: base models, trained, distilled and exported models, each built once.

Folders are named by the hash of their inputs, so a model trained once serves all its cells and a
crash resumes.  Each is built by :func:`build_once`: under an inter-process lock per folder, in a
staging folder moved into place only when finished, with a ``DONE`` marker that is read back before
use (a missing or damaged marker means "not done").  A model is a graph of :class:`Step` s (a
student's teachers, then the student; then the export), named by the driver and built by whoever
runs them: this process (:meth:`Artifacts.for_group`) or Ray tasks (:mod:`.graph`).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from xner.errors import XnerError
from xner.fingerprint import model_sha256
from xner.hub import mbert_vocab

from .building import (
    DONE,
    OWNER,
    artifact_key,
    build_once,
    build_record,
    folder_lock,
    fresh_kwargs,
    read_done,
)
from .material import Material
from .plan import Group, Teacher, languages, teacher_plan

__all__ = ["DONE", "OWNER", "Artifacts", "Step", "numerics", "artifact_key", "build_once", "build_record", "folder_lock",
           "read_done"]


def numerics(export: dict) -> dict:
    """What of xner's own inference code a graph's numbers depend on besides its inputs (the fusions can
    move even a float32 graph's logits: one whose file carries shape information)."""
    from xner.export.quantize import RECIPE
    from xner.export.runtime import CPU_DISABLED_FUSIONS

    return {**({"static_int8_recipe": RECIPE} if export.get("quantize") == "int8" else {}),
            "cpu_fusions_left_out": list(CPU_DISABLED_FUSIONS)}


@dataclass(frozen=True)
class Step:
    """One artefact of a sweep's graph: ``kind`` (``train``, ``distill`` or ``export``), its folder
    ``name`` (the hash of its inputs), the names of the artefacts it is built from (``deps``: a
    student's teachers, an export's model) and ``args``, all its build takes, resolved by the driver
    (paths, languages, seed), so that a worker builds it from the config and the data alone."""

    kind: str
    name: str
    deps: tuple[str, ...] = ()
    args: tuple = ()


class Artifacts:
    """Models trained / distilled / exported once, in folders named by the hash of their inputs: the
    resolved model (with its vocabulary), the content of the material it saw (:class:`Material`),
    hyperparameters and training seed."""

    def __init__(self, root: Path, cfg: dict, models: dict[str, dict], material: Material, build: bool = True):
        self.root = root
        self.cfg = cfg
        self.models = models
        self.material = material
        self.data_name = material.source_name
        self._identity: dict[str, dict] = {}
        self._pretrained: dict[str, str] = {}
        self.building = build  # False (a plan): nothing is built, not even a base model; names only
        if build:
            root.mkdir(parents=True, exist_ok=True)

    # -- what a model is ---------------------------------------------------------------------------

    def model_identity(self, name: str) -> dict:
        """The resolved model behind a config name: its spec (the fallback's when one stands in,
        recorded in ``substituted_for``) and what pins its weights and vocabulary (the hub id, the
        folder's content hash, or an init model's vocabulary hash)."""
        if name not in self._identity:
            spec = self.models[name]
            core = {k: v for k, v in spec.items() if k not in ("substitutes", "fallback")}
            out = {"spec": core, "substituted_for": spec.get("substitutes")}
            if "path" in spec:
                out["sha256"] = model_sha256(spec["path"])
            elif "pretrain" in spec:  # the folder's name is the hash of all its inputs
                base = Path(self.base_model(name))
                out["base"] = base.name
                out["vocab_sha256"] = (read_done(base) or {}).get("vocab_sha256")
            elif "init" in spec:
                base = Path(self.base_model(name))
                card = json.loads((base / "xner_model.json").read_text(encoding="utf-8")) \
                    if self.building or read_done(base) is not None else {}  # a plan of an unbuilt base: unknown
                out["vocab_sha256"] = card.get("vocab_sha256")
                out["base"] = base.name
            self._identity[name] = out
        return self._identity[name]

    def vectors_model(self, name: str) -> str | None:
        """The fixed encoder the study's P2 takes word vectors from for model ``name``'s cells: its
        pre-trained base model (config ``vectors = "base"``, the default), None for ``"model"`` (the
        evaluated model), else the model the config names."""
        v = self.cfg.get("vectors", "base")
        return self.base_model(name) if v == "base" else None if v == "model" else v

    def vectors_identity(self, name: str) -> dict:
        v = self.cfg.get("vectors", "base")
        if v in ("base", "model"):
            return {"vectors": v}  # the base model is pinned by the model's identity
        # an ONNX export (what robustness/vectors.py runs as one: a folder with an export report) is run
        # by a CPU session: its fusions can move the vectors
        return {"vectors": v, "sha256": model_sha256(v),
                **({"numerics": numerics({})} if (Path(v) / "export_report.json").is_file() else {})}

    def _model_key(self, name: str) -> dict:  # artefacts of one resolved model are shared by every name of it
        ident = self.model_identity(name)
        return {k: v for k, v in ident.items() if k != "substituted_for"}

    def base_model(self, name: str) -> str:
        spec = self.models[name]
        if "hub" in spec:
            return spec["hub"]
        if "path" in spec:
            return spec["path"]
        if "pretrain" in spec:
            from .pretrained import pretrained_folder

            if name not in self._pretrained:  # (hashing the text of every language is not free)
                self._pretrained[name] = pretrained_folder(self.root, spec, self.material, self.building,
                                                           lambda m: (self.base_model(m), self._model_key(m)))
            return self._pretrained[name]
        init = dict(spec["init"])
        tok_langs = languages(self.cfg) if init.get("vocab") is None else []
        material = {lang: self.material.sha256(lang, "train") for lang in tok_langs}

        def build(d: Path) -> dict:
            from xner.formats import write_corpus
            from xner.training.models import init_model

            vocab = init.pop("vocab", None)
            if vocab == "mbert":
                vocab = mbert_vocab(getattr(self.material.source, "root", None))
            with tempfile.TemporaryDirectory() as tmp:
                files = None
                if vocab is None:  # a tokenizer trained on the training material of every language touched
                    files = []
                    for lang in tok_langs:
                        files.append(str(Path(tmp) / f"{lang}.tsv"))
                        write_corpus(self.material.train(lang), files[-1], "tsv")
                init_model(init.pop("arch", "bert"), d, vocab=vocab, train_tokenizer_on=files, **init)
            return {"init": spec["init"], "tokenizer_material": material}

        folder = f"init-{artifact_key([spec['init'], material])}"
        if self.building:
            build_once(self.root, folder, build)
        return str(self.root / folder)

    # -- trained, distilled, exported: the sweep's graph of steps, each built once ---------------------

    def train_hp(self) -> dict:
        from xner.training.presets import resolve

        tcfg = dict(self.cfg["train"])
        return resolve(tcfg.pop("preset", "study"), **tcfg)

    def distill_hp(self) -> dict:
        """The student's hyperparameters, its initialisation and its layers."""
        from xner.training.presets import resolve

        dcfg = dict(self.cfg["distill"])
        student = dcfg.pop("student", "base")  # Wu et al. and the README: the base encoder, not a teacher
        if student not in ("base", "teacher"):
            raise XnerError(f'distill.student must be "base" (the base encoder) or "teacher" (the first teacher), '
                            f"got {student!r}")
        layers = dcfg.pop("student_layers", None)
        return {"hyperparameters": resolve(dcfg.pop("preset", "student"), **dcfg), "student": student,
                "student_layers": layers}

    def train_step(self, model: str, langs: tuple[str, ...], seed: int, sentences: int = 0, share: int = 0) -> Step:
        """Fine-tuning ``model`` on the training material of ``langs`` with ``seed``; ``sentences``: on
        that many sentences of one language's (:meth:`Material.part`, seeded by ``seed``; ``share``: which
        disjoint slice).  A teacher depends only on its language, its sentences and its seed, so every
        student that needs the same one shares it."""
        one = len(langs) == 1
        n = int(sentences) if sentences and one and (share or sentences < len(self.material.train(langs[0]))) else 0
        sh = int(share) if n else 0
        material = [(x, self.material.part_sha256(x, n, seed, sh)) for x in langs]
        sub = [{"sentences": n, **({"share": sh} if sh else {})}] if n else []  # (whole-material keys as they were)
        name = "train-" + artifact_key([self._model_key(model), material, self.train_hp(), int(seed), *sub])
        return Step("train", name, (), (self.base_model(model), tuple(langs), int(seed), model, n, sh))

    def distill_steps(self, model: str, sources: tuple[str, ...], target: str, weighting: str,
                      seed: int, plan: list[Teacher] | None = None) -> list[Step]:
        """A student distilled with ``seed`` from the teachers of ``plan`` (:func:`.plan.teacher_plan`;
        default: one per source, trained with the same seed): the teachers' steps, then the student's."""
        plan = [Teacher(*t) for t in plan] if plan else [Teacher(s, seed, 0) for s in sources]
        teachers = [self.train_step(model, (t.lang,), t.seed, t.sentences, t.share) for t in plan]
        d = self.distill_hp()
        names = [t.name for t in teachers]  # artefact names are hashes of their inputs
        langid = weighting != "uniform" and len(sources) > 1
        material = [self.material.sha256(target, "train"), names,
                    [self.material.part_sha256(t.lang, t.sentences, t.seed, t.share) for t in plan] if langid else None]
        name = f"distill-{artifact_key([material, target, weighting, d, int(seed)])}"
        paths = tuple(str(self.root / n) for n in names)
        base = paths[0] if d["student"] == "teacher" else self.base_model(model)
        args = (paths, base, tuple(plan), target, weighting, int(seed), langid)
        return [*teachers, Step("distill", name, tuple(names), args)]

    def export_step(self, model_dir: str, target: str) -> Step:
        """Exporting ``model_dir``, gated on the target's test set."""
        ecfg = self.cfg["export"]
        # a quantised graph made by another recipe, or gated under other fusions, is another artefact
        extra = [numerics(ecfg)] if ecfg.get("quantize") or ecfg.get("fp16") else []
        name = f"onnx-{artifact_key([Path(model_dir).name, ecfg, self.material.sha256(target, 'test'), *extra])}"
        return Step("export", name, (Path(model_dir).name,), (str(model_dir), target))

    def steps(self, g: Group) -> list[Step]:
        """What a group's cells need, in build order: the model's steps (a student's teachers first),
        then its export (the last)."""
        if g.setting == "student":
            plan = teacher_plan(g, lambda x: len(self.material.train(x)))
            model = self.distill_steps(g.model, g.sources, g.target, g.weighting, g.train_seed, plan)
        else:
            model = [self.train_step(g.model, g.sources, g.train_seed)]
        return [*model, self.export_step(str(self.root / model[-1].name), g.target)]

    def is_built(self, step: Step) -> bool:
        return read_done(self.root / step.name) is not None

    def build(self, step: Step) -> dict:
        """Build ``step`` once (:func:`build_once`; training and distillation resume) and return its
        info; the artefacts it depends on must be built."""
        fn = {"train": self._train, "distill": self._distill, "export": self._export}[step.kind]
        return build_once(self.root, step.name, partial(fn, *step.args), resumable=step.kind != "export")

    def _train(self, base: str, langs: tuple[str, ...], seed: int, model: str, sentences: int, share: int,
               d: Path) -> dict:
        from xner.training.finetune import finetune

        card = finetune(base, [self.material.part(x, sentences, seed, share) for x in langs], None, d, self.train_hp(),
                        seed=seed, setting="multi" if len(langs) > 1 else "single", data=self.data_name,
                        **fresh_kwargs(finetune))
        shutil.rmtree(d / "checkpoints", ignore_errors=True)  # only for resuming; a finished model needs none
        return {"model": model, "langs": langs, "seed": seed, "steps": card["steps"],
                **({"sentences": sentences} if sentences else {}), **({"share": share} if share else {})}

    def _distill(self, teachers: tuple[str, ...], base: str, parts: tuple[Teacher, ...], target: str, weighting: str,
                 seed: int, langid: bool, out: Path) -> dict:
        from xner.training.distill import distill

        d = self.distill_hp()
        t = self.material.train(target)
        unl = t.with_tags(np.zeros_like(t.tags))
        srcs = [self.material.part(t.lang, t.sentences, t.seed, t.share) for t in map(lambda x: Teacher(*x), parts)] \
            if langid else None
        card = distill(list(teachers), unl, base, out, d["hyperparameters"], seed=seed, weighting=weighting,
                       source_corpora=srcs, student_layers=d["student_layers"], data=self.data_name,
                       **fresh_kwargs(distill))
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
        return {"teachers": list(teachers), "weights": card["weights"], "seed": seed}

    def _export(self, model_dir: str, target: str, d: Path) -> dict:
        """An int8/fp16 graph that fails its gate is replaced by the (gated) float32 export, and the
        reason is recorded with every row of the model."""
        from xner.export.build import ParityError, export

        ecfg = self.cfg["export"]
        ev = self.material.test(target)
        args = (ecfg.get("exporter", "auto"), ecfg.get("optimize"))
        info = {"source": Path(model_dir).name, "gated_on": f"{target}/test ({len(ev)} sentences)"}
        try:
            export(model_dir, d, *args, ecfg.get("quantize"), bool(ecfg.get("fp16", False)), ev,
                   bool(ecfg.get("force", False)), threads=1, calibration=self.material.model_text(model_dir))
        except ParityError as e:
            if not (ecfg.get("quantize") or ecfg.get("fp16")):
                raise
            logging.getLogger("xner.sweep").warning("%s; using the float32 export instead", e)
            export(model_dir, d, *args, None, False, ev, False, threads=1)
            info["fallback"] = f"float32 (the quantised graph failed its gate: {str(e).split(';')[0]})"
        return info

    def _built(self, steps: list[Step]) -> str:
        for s in steps:
            self.build(s)
        return str(self.root / steps[-1].name)

    def trained(self, model: str, langs: tuple[str, ...], seed: int) -> str:
        """The folder of ``model`` fine-tuned on ``langs`` with ``seed``, built here if not yet."""
        return self._built([self.train_step(model, langs, seed)])

    def distilled(self, model: str, sources: tuple[str, ...], target: str, weighting: str, seed: int) -> str:
        """The folder of a student (its teachers first), built here if not yet."""
        return self._built(self.distill_steps(model, sources, target, weighting, seed))

    def exported(self, model_dir: str, target: str) -> str:
        """The ONNX folder of ``model_dir`` gated on ``target``'s test set, built here if not yet."""
        return self._built([self.export_step(model_dir, target)])

    def for_group(self, g: Group) -> tuple[str, dict]:
        """The exported model a group's cells are scored with (built here, step after step), and its
        export info."""
        d = self._built(self.steps(g))
        return d, read_done(Path(d)) or {}
