"""Sweeps: models x settings x sources x targets x perturbations x rates x seeds.

A config (TOML, or the same dict from Python) names models, settings, targets and the robustness
grid.  The runner trains, distils and exports what each cell needs, reusing artefacts keyed by
their inputs (built once, even by concurrent sweeps: :func:`store.build_once`; an interrupted
training resumes), then evaluates cells and writes each one to the SQLite store in its own
transaction.  A rerun skips finished cells.  ``executor="ray"`` evaluates the cells as Ray tasks;
artefacts are built by the driver first, so both executors score the very same ONNX files and give
identical rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xner.errors import XnerError
from xner.threads import available_cpus

from .store import Store, build_once, cell_key, read_done

CONFIG_DIR = Path(__file__).with_name("configs")
SETTING_KINDS = ("native", "zero-shot", "joint", "student")
TIMING_FIELDS = ("seconds", "new_words_tokenized")


# -- config -----------------------------------------------------------------------------------------


def builtin_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))


def load_config(spec: str | dict) -> dict:
    """A config dict from a dict, a TOML file or a built-in name (``study``, ``diversity``, ``demo``)."""
    if isinstance(spec, dict):
        cfg = dict(spec)
    else:
        p = Path(spec)
        if not p.exists() and (CONFIG_DIR / f"{spec}.toml").exists():
            p = CONFIG_DIR / f"{spec}.toml"
        if not p.exists():
            raise XnerError(f"no sweep config {spec!r} (a TOML file, or one of {', '.join(builtin_configs())})")
        try:
            cfg = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise XnerError(f"{p}: invalid TOML: {e}") from None
        cfg.setdefault("name", p.stem)
    for k in ("models", "targets", "settings"):
        if not cfg.get(k):
            raise XnerError(f"sweep config needs '{k}'")
    for s in cfg["settings"]:
        if s.get("kind") not in SETTING_KINDS:
            raise XnerError(f"setting kind must be one of {', '.join(SETTING_KINDS)}; got {s.get('kind')!r}")
    cfg.setdefault("perturbations", ["entity_swap_shared", "context_swap", "entity_and_context", "name_swap",
                                     "place_swap"])
    cfg.setdefault("rates", ["default"])
    cfg.setdefault("seeds", [0])
    cfg.setdefault("train", {})
    cfg.setdefault("distill", {})
    cfg.setdefault("export", {})
    cfg.setdefault("bootstrap", 200)
    return cfg


def _hub_reachable() -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        from huggingface_hub import model_info

        model_info("bert-base-multilingual-cased", timeout=5)
        return True
    except Exception:
        return False


def resolve_models(cfg: dict) -> dict[str, dict]:
    """Model specs, with ``fallback`` models used where the hub cannot be reached."""
    models = cfg["models"]
    hub = None
    out = {}
    for name, spec in models.items():
        if "hub" in spec:
            hub = _hub_reachable() if hub is None else hub
            if not hub:
                fb = spec.get("fallback")
                if not fb:
                    raise XnerError(f"model {name} needs the Hugging Face hub, which is not reachable; give it a "
                                    "'fallback' model")
                out[name] = {**models[fb], "substitutes": spec["hub"]}
                continue
        out[name] = spec
    return out


def resolve_sources(spec: str, target: str) -> list[str]:
    from xner.langs import PAIRS, source_group

    if spec == "pair":
        hrl = [p.hrl for p in PAIRS if p.lrl == target]
        if not hrl:
            raise XnerError(f"no study pair for target {target!r}")
        return hrl[:1]
    kind, _, k = spec.partition(":")
    if kind in ("related", "unrelated"):
        return source_group(target, kind, int(k or 1))
    return [x for x in spec.split(",") if x]


@dataclass(frozen=True)
class Group:
    """Cells that share one model: (model, setting, target)."""

    model: str
    setting: str  # kind
    sources: tuple[str, ...]
    target: str
    weighting: str = ""

    @property
    def label(self) -> str:
        src = "+".join(self.sources)
        w = f"/{self.weighting}" if self.weighting else ""
        return f"{self.model}:{self.setting}{w}:{src}->{self.target}"


def plan(cfg: dict) -> list[tuple[Group, list[dict]]]:
    """Every group with its cells' parameters (clean cell first)."""
    out = []
    for model in cfg["models"]:
        for target in cfg["targets"]:
            for s in cfg["settings"]:
                kind = s["kind"]
                if kind == "native":
                    sources = (target,)
                else:
                    sources = tuple(resolve_sources(s.get("sources", "pair"), target))
                    if target in sources:
                        raise XnerError(f"{kind}: target {target} among its sources")
                if kind == "joint":
                    sources = (*sources, target)
                g = Group(model, kind, sources, target, s.get("weighting", "uniform") if kind == "student" else "")
                base = {"model": model, "setting": kind, "sources": list(sources), "target": target,
                        "weighting": g.weighting, "config": cfg.get("name", "")}
                cells = [{**base, "perturbation": "clean", "rate": None, "seed": None}]
                for pert in cfg["perturbations"]:
                    for rate in cfg["rates"]:
                        for seed in cfg["seeds"]:
                            cells.append({**base, "perturbation": pert, "rate": rate, "seed": seed})
                out.append((g, cells))
    return out


# -- artefacts ---------------------------------------------------------------------------------------


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Artifacts:
    """Models trained / distilled / exported once, in folders named by the hash of their inputs."""

    def __init__(self, root: Path, cfg: dict, models: dict[str, dict], source, data_name: str):
        self.root = root
        self.cfg = cfg
        self.models = models
        self.source = source
        self.data_name = data_name
        root.mkdir(parents=True, exist_ok=True)

    def base_model(self, name: str) -> str:
        spec = self.models[name]
        if "hub" in spec:
            return spec["hub"]
        if "path" in spec:
            return spec["path"]
        init = dict(spec["init"])

        def build(d: Path) -> dict:
            from xner.training.models import init_model

            vocab = init.pop("vocab", None)
            if vocab == "mbert":
                vocab = self._mbert_vocab()
            files = None
            if vocab is None:  # a tokenizer trained on every language the sweep touches
                langs = dict.fromkeys(self.cfg["targets"])
                for s in self.cfg["settings"]:
                    for t in self.cfg["targets"]:
                        if s["kind"] != "native":
                            langs.update(dict.fromkeys(resolve_sources(s.get("sources", "pair"), t)))
                files = [str(self.source.path(lang, "train")) for lang in langs]
            init_model(init.pop("arch", "bert"), d, vocab=vocab, train_tokenizer_on=files, **init)
            return {"init": spec["init"]}

        build_once(self.root, f"init-{_key(spec['init'])}", build)
        return str(self.root / f"init-{_key(spec['init'])}")

    def _mbert_vocab(self) -> str:
        root = getattr(self.source, "root", None)
        cands = [Path(root).parent / "tokenizers" / "bert-base-multilingual-cased" / "vocab.txt"] if root else []
        for c in cands:
            if c.exists():
                return str(c)
        if _hub_reachable():  # the same file from the hub
            from huggingface_hub import hf_hub_download

            return hf_hub_download("bert-base-multilingual-cased", "vocab.txt")
        raise XnerError("vocab = 'mbert' needs tokenizers/bert-base-multilingual-cased/vocab.txt beside the data "
                        "folder; give a vocab file path or train a tokenizer instead")

    def _train_split(self, lang: str):
        c = self.source.load(lang, "train")
        cap = int(self.cfg.get("train_max_sentences", 0) or 0)
        return c.subset(np.arange(min(cap, len(c)))) if cap else c

    def trained(self, model: str, langs: tuple[str, ...]) -> str:
        from xner.training.finetune import finetune
        from xner.training.presets import resolve

        tcfg = dict(self.cfg["train"])
        hp = resolve(tcfg.pop("preset", "study"), **tcfg)
        seed = int(self.cfg.get("train_seed", 42))
        name = f"train-{_key([self.models[model], langs, hp, seed, self.data_name, self.cfg.get('train_max_sentences')])}"

        def build(d: Path) -> dict:
            card = finetune(self.base_model(model), [self._train_split(x) for x in langs], None, d, hp, seed=seed,
                            setting="multi" if len(langs) > 1 else "single", data=self.data_name, **_fresh(finetune))
            return {"model": model, "langs": langs, "steps": card["steps"]}

        build_once(self.root, name, build, resumable=True)
        return str(self.root / name)

    def distilled(self, model: str, sources: tuple[str, ...], target: str, weighting: str) -> str:
        from xner.training.distill import distill
        from xner.training.presets import resolve

        teachers = [self.trained(model, (s,)) for s in sources]
        dcfg = dict(self.cfg["distill"])
        student = dcfg.pop("student", "teacher")
        layers = dcfg.pop("student_layers", None)
        hp = resolve(dcfg.pop("preset", "student"), **dcfg)
        seed = int(self.cfg.get("train_seed", 42))
        names = [Path(t).name for t in teachers]  # artefact names are hashes of their inputs
        name = f"distill-{_key([names, target, weighting, hp, student, layers, seed])}"

        def build(d: Path) -> dict:
            t = self._train_split(target)
            unl = t.with_tags(np.zeros_like(t.tags))
            srcs = [self._train_split(s) for s in sources] if weighting != "uniform" and len(sources) > 1 else None
            base = teachers[0] if student == "teacher" else self.base_model(model)
            card = distill(teachers, unl, base, d, hp, seed=seed, weighting=weighting, source_corpora=srcs,
                           student_layers=layers, data=self.data_name, **_fresh(distill))
            return {"teachers": teachers, "weights": card["weights"]}

        build_once(self.root, name, build, resumable=True)
        return str(self.root / name)

    def exported(self, model_dir: str, target: str) -> str:
        """Export and gate on the target's test set; an int8/fp16 graph that fails its gate is replaced
        by the (gated) float32 export, and the reason is recorded with every row of the model."""
        import logging

        from xner.export.build import ParityError, export

        ecfg = self.cfg["export"]
        cap = int(self.cfg.get("test_max_sentences", 0) or 0)
        name = f"onnx-{_key([Path(model_dir).name, ecfg, target, cap])}"

        def build(d: Path) -> dict:
            ev = test_corpus(self.source, target, cap)
            args = (ecfg.get("exporter", "auto"), ecfg.get("optimize"))
            info = {"source": Path(model_dir).name, "gated_on": f"{target}/test ({len(ev)} sentences)"}
            try:
                export(model_dir, d, *args, ecfg.get("quantize"), bool(ecfg.get("fp16", False)), ev,
                       bool(ecfg.get("force", False)), threads=1)
            except ParityError as e:
                if not (ecfg.get("quantize") or ecfg.get("fp16")):
                    raise
                logging.getLogger("xner.sweep").warning("%s; using the float32 export instead", e)
                export(model_dir, d, *args, None, False, ev, False, threads=1)
                info["fallback"] = f"float32 (the quantised graph failed its gate: {str(e).split(';')[0]})"
            return info

        build_once(self.root, name, build)
        return str(self.root / name)

    def for_group(self, g: Group) -> tuple[str, dict]:
        if g.setting == "student":
            m = self.distilled(g.model, g.sources, g.target, g.weighting)
        else:
            m = self.trained(g.model, g.sources)
        d = self.exported(m, g.target)
        return d, read_done(Path(d)) or {}


def _fresh(fn) -> dict:  # a staging folder left by other inputs (a rebuilt base model) starts afresh
    import inspect

    return {"overwrite": True} if "overwrite" in inspect.signature(fn).parameters else {}


# -- evaluation of a group's cells ------------------------------------------------------------------


def test_corpus(source, target: str, cap: int):
    c = source.load(target, "test")
    return c.subset(np.arange(min(cap, len(c)))) if cap else c


def evaluate_group(onnx_dir: str, data: str, repair: str, g: Group, cells: list[dict], test_cap: int,
                   bootstrap: int) -> list[tuple[dict, dict]]:
    """(params, row) for each cell; a pure function of its inputs (also run as a Ray task)."""
    from xner.corpus import concat
    from xner.datadir import open_source
    from xner.export.runtime import Runtime
    from xner.metrics import EntityCounts
    from xner.overlap import overlap

    from .evaluate import run_cell
    from .perturbations import Context, make

    src = open_source(data, repair)
    rt = Runtime(onnx_dir, provider="cpu", threads=1)
    corpus = test_corpus(src, g.target, test_cap)
    train = concat([src.load(s, "train") for s in (g.sources if g.setting != "joint" else g.sources[:-1])]) \
        if g.setting != "native" else src.load(g.target, "train")
    ov = overlap(train, corpus)
    ctx = Context(train=train, runtime=rt, source=src, lang=g.target)
    pred = rt.predict(corpus)
    clean = EntityCounts(corpus.tags, pred, corpus.offsets, corpus.labels.types)
    out = []
    for p in cells:
        if p["perturbation"] == "clean":
            s = clean.scores()
            row = {"f1": s.f1, "precision": s.precision, "recall": s.recall,
                   "per_type": {t: v.f1 for t, v in s.per_type.items()}, "clean_f1": s.f1, "delta_f1": 0.0,
                   "ci": clean.bootstrap(bootstrap, 0) if bootstrap else {}}
        else:
            kw = {} if p["rate"] in (None, "default") else {"rate": None if p["rate"] == "none" else p["rate"]}
            pert = make(p["perturbation"], **kw)
            row = run_cell(rt, corpus, pert, int(p["seed"]), ctx, clean, bootstrap)
            row["params_resolved"] = pert.params
        row["overlap"] = {k: v for k, v in ov.items() if isinstance(v, float | int)}
        row["test_sentences"] = len(corpus)
        out.append((p, row))
    return out


# -- the runner --------------------------------------------------------------------------------------


def run_sweep(config: str | dict, store_path: str | Path, executor: str = "local", data_dir: str | None = None,
              repair: str = "conlleval", progress: bool = True, ray_address: str | None = None) -> dict:
    from tqdm import tqdm

    from xner.datadir import open_source
    from xner.provenance import provenance

    cfg = load_config(config)
    if executor not in ("local", "ray"):
        raise XnerError("--executor must be local or ray")
    src = open_source(data_dir or cfg.get("data_dir"), repair)
    data_name = src.name
    store_path = Path(store_path)
    models = resolve_models(cfg)
    groups = plan(cfg)
    with Store(store_path) as store:
        store.log_run(cfg, provenance(executor=executor, data=data_name))
        done = store.done_keys()
        todo = [(g, [c for c in cells if cell_key(c) not in done]) for g, cells in groups]
        todo = [(g, cells) for g, cells in todo if cells]
        n_total = sum(len(c) for _, c in groups)
        n_todo = sum(len(c) for _, c in todo)
        arts = Artifacts(store_path.parent / f"{store_path.stem}-artifacts", cfg, models, src, data_name)
        cap = int(cfg.get("test_max_sentences", 0) or 0)
        boot = int(cfg["bootstrap"])
        written = 0
        bar = tqdm(total=n_total, initial=n_total - n_todo, desc="sweep", unit="cell", disable=not progress)
        if executor == "local":
            for g, cells in todo:
                bar.set_postfix_str(g.label)
                onnx, info = arts.for_group(g)
                for p, row in evaluate_group(onnx, data_name, repair, g, cells, cap, boot):
                    written += store.put(p, {**row, "export": info})
                    bar.update(1)
        else:
            import ray

            if not ray.is_initialized():
                ray.init(address=ray_address, include_dashboard=False, log_to_driver=False,
                         num_cpus=None if ray_address else available_cpus())
            task = ray.remote(num_cpus=1)(evaluate_group)
            pending = {}
            for g, cells in todo:  # artefacts first (driver), then one Ray task per group and cell batch
                bar.set_postfix_str(g.label)
                onnx, info = arts.for_group(g)
                for i in range(0, len(cells), 4):
                    ref = task.remote(onnx, data_name, repair, g, cells[i : i + 4], cap, boot)
                    pending[ref] = info
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    info = pending.pop(ref)
                    for p, row in ray.get(ref):
                        written += store.put(p, {**row, "export": info})
                        bar.update(1)
        bar.close()
        return {"cells": n_total, "skipped": n_total - n_todo, "written": written, "store": str(store_path)}


def comparable(row: dict) -> dict:
    """A row without its timing fields (which differ between runs)."""
    return {k: v for k, v in row.items() if k not in TIMING_FIELDS}
