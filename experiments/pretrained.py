"""Sweep models that are pretrained first: ``[models.X] pretrain = {...}`` builds an encoder with
``xner pretrain`` once, in an artefact folder named by the hash of everything that determines it
(the init spec or base model, the text of every language it reads, hyperparameters and seed), and
every model of the sweep then starts from it.

``pretrain`` keys: ``init`` (an ``xner pretrain --init`` SPEC) or ``model`` (a hub id or folder to
continue), ``langs`` (``"all"``: every language of the data source, or a list), ``max_steps``,
``batch_size``, ``lr``, ``max_length``, ``mlm_probability``, ``whole_word_mask``, ``seed``.
``model = "@NAME"`` continues another model of the config (its base model, built first).

A setting with ``lapt = true`` (or a table of the keys above but ``init``/``model``/``langs``) uses
each model adapted to the setting's target first (Chau & Smith 2021): the model, continued as a masked
LM on that target's unlabelled text, under the name ``MODEL+lapt:TARGET`` (:func:`lapt_specs`).
The text is each language's training portion under the sweep's split scheme (uncapped) plus its
``extra`` split: never a test or dev sentence (:meth:`Material.unlabelled`).
"""

from __future__ import annotations

from pathlib import Path

from xner.errors import XnerError

__all__ = ["HP_KEYS", "LAPT_DEFAULTS", "check_spec", "lapt_specs", "pretrain_langs", "pretrained_folder"]

#: what a setting's ``lapt = true`` means (a table overrides any of them)
LAPT_DEFAULTS = {"max_steps": 500, "batch_size": 32, "lr": 1e-4, "max_length": 64, "seed": 0}

HP_KEYS = ("max_steps", "batch_size", "lr", "max_length")
KEYS = {"init", "model", "langs", "mlm_probability", "whole_word_mask", "seed", *HP_KEYS}


def check_spec(name: str, spec: dict) -> None:
    p = spec.get("pretrain")
    if not isinstance(p, dict):
        raise XnerError(f"model {name}: 'pretrain' must be a table {{init = SPEC | model = M, langs = ...}}")
    if ("init" in p) == ("model" in p):
        raise XnerError(f"model {name}: pretrain needs exactly one of init (an xner pretrain --init SPEC) or model")
    bad = set(p) - KEYS
    if bad:
        raise XnerError(f"model {name}: unknown pretrain keys {sorted(bad)} (known: {sorted(KEYS)})")
    if "init" in p:
        from xner.training.pretrain_data import parse_init_spec

        parse_init_spec(str(p["init"]))


def lapt_specs(cfg: dict, models: dict[str, dict]) -> dict[str, dict]:
    """The adapted models the settings with ``lapt`` need: one per model and target."""
    from .plan import lapt_model

    out = {}
    for s in cfg["settings"]:
        lapt = s.get("lapt")
        if not lapt:
            continue
        if lapt is not True and not isinstance(lapt, dict):
            raise XnerError(f"a setting's 'lapt' is true or a table of pretraining keys; got {lapt!r}")
        hp = {**LAPT_DEFAULTS, **(lapt if isinstance(lapt, dict) else {})}
        bad = set(hp) - (KEYS - {"init", "model", "langs"})
        if bad:
            raise XnerError(f"unknown lapt keys {sorted(bad)}")
        for name in models:
            for t in cfg["targets"]:
                out[lapt_model(name, t)] = {"pretrain": {**hp, "model": f"@{name}", "langs": [t]},
                                            "lapt": {"of": name, "target": t}}
    return out


def pretrain_langs(spec: dict, source) -> list[str]:
    langs = spec["pretrain"].get("langs", "all")
    if langs == "all":
        return sorted(source.languages())
    if isinstance(langs, str):
        langs = [x for x in langs.split(",") if x]
    return list(langs)


def pretrained_folder(root: Path, spec: dict, material, build: bool = True, base=None) -> str:
    """The pretrained encoder of ``spec``, in the artefact folder ``root`` (built here, once, if not yet;
    ``build`` False only names it: ``xner sweep --plan``).  ``base(name)`` -> (folder, identity)
    resolves ``model = "@NAME"``."""
    from .artefacts import artifact_key, build_once

    p = dict(spec["pretrain"])
    langs = pretrain_langs(spec, material.source)
    text = {lang: material.unlabelled_sha256(lang) for lang in langs}
    model, ident = p.get("model"), None
    if isinstance(model, str) and model.startswith("@"):
        if base is None:
            raise XnerError(f"pretrain model {model}: another model of the config, which cannot be resolved here")
        model, ident = base(model[1:])
    split = material.describe()
    key = [p, text, split["scheme"], split["seed"], *([ident] if ident else [])]
    folder = f"{'lapt' if 'lapt' in spec else 'pretrain'}-{artifact_key(key)}"

    def make(d: Path) -> dict:
        from xner.training.pretrain import pretrain

        corpora = [c for lang in langs for c in material.unlabelled(lang)]
        hp = {k: p[k] for k in HP_KEYS if k in p}
        card = pretrain(d, corpora, model, p.get("init"), hp, int(p.get("seed", 0)),
                        float(p.get("mlm_probability", 0.15)), bool(p.get("whole_word_mask", False)),
                        data_dir=str(getattr(material.source, "root", "")) or None, langs=langs, overwrite=True)
        return {"pretrain": p, "langs": langs, "steps": card["steps"], "final_loss": card["final_loss"],
                "vocab_sha256": card.get("vocab_sha256")}

    if build:
        build_once(root, folder, make, resumable=True)
    return str(root / folder)
