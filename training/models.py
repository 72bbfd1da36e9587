"""Model factory: load any HF token-classification encoder, or build a random one offline.

Models are saved as safetensors; remote code is never trusted unless asked for.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from xner.errors import XnerError
from xner.io import write_json
from xner.labels import LabelSet

from .tokenizers_train import vocab_hash

ARCHS = ("bert", "xlmr")


def label_maps(labels: LabelSet) -> tuple[dict[int, str], dict[str, int]]:
    id2label = dict(enumerate(labels.tags))
    return id2label, {v: k for k, v in id2label.items()}


def labels_of(model_or_config) -> LabelSet:
    """The LabelSet of a model's config (its id2label must follow xner's tag layout)."""
    cfg = getattr(model_or_config, "config", model_or_config)
    tags = [cfg.id2label[i] for i in range(len(cfg.id2label))]
    ls = LabelSet.from_tags(tags)
    if ls.tags != tags:
        raise XnerError(f"model labels {tags} do not follow the O, B-X, I-X, ... layout; retrain with xner")
    return ls


class _DropMistralWarning(logging.Filter):
    """transformers 4.57.3-4.57.6 flags every locally saved tokenizer as a Mistral one; it is not."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fix_mistral_regex" not in record.getMessage()


logging.getLogger("transformers.tokenization_utils_base").addFilter(_DropMistralWarning())


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name_or_path, use_fast=True, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError) as e:  # TypeError: a folder without tokenizer files
        raise XnerError(f"cannot load a tokenizer from {name_or_path!r}: {str(e).splitlines()[0]}") from None
    if not tok.is_fast:
        raise XnerError(f"{name_or_path}: a fast tokenizer is required")
    return tok


def load_model(name_or_path: str, labels: LabelSet | None = None, trust_remote_code: bool = False):
    """A token-classification model by hub id or folder; a new head is sized for ``labels``."""
    from transformers import AutoConfig, AutoModelForTokenClassification

    try:
        cfg = AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise XnerError(f"cannot load a model from {name_or_path!r}: {str(e).splitlines()[0]}") from None
    kwargs = {}
    if labels is not None:
        id2label, label2id = label_maps(labels)
        same = getattr(cfg, "id2label", None) and [cfg.id2label.get(i) for i in range(len(cfg.id2label))] == labels.tags
        kwargs = {"num_labels": labels.num_tags, "id2label": id2label, "label2id": label2id}
        if not same:
            kwargs["ignore_mismatched_sizes"] = True
    try:
        return AutoModelForTokenClassification.from_pretrained(name_or_path, trust_remote_code=trust_remote_code,
                                                               use_safetensors=None, **kwargs)
    except OSError as e:  # no weights file, unreadable weights
        raise XnerError(f"cannot load a model from {name_or_path!r}: {str(e).splitlines()[0]}") from None


def init_model(arch: str, out: str | os.PathLike, vocab: str | None = None, train_tokenizer_on: list[str] | None = None,
               hidden: int = 128, layers: int = 2, heads: int = 2, intermediate: int | None = None,
               max_length: int = 512, vocab_size: int = 8000, labels: LabelSet | None = None, seed: int = 0) -> Path:
    """A randomly initialised encoder with a real tokenizer, saved as safetensors."""
    import torch
    from transformers import (
        BertConfig,
        BertForTokenClassification,
        BertTokenizerFast,
        XLMRobertaConfig,
        XLMRobertaForTokenClassification,
    )

    if arch not in ARCHS:
        raise XnerError(f"unknown architecture {arch!r}; choose bert or xlmr")
    if (vocab is None) == (not train_tokenizer_on):
        raise XnerError("give exactly one of --vocab FILE or --train-tokenizer-on DATA")
    if hidden % heads:
        raise XnerError(f"--hidden {hidden} must be divisible by --heads {heads}")
    labels = labels or LabelSet.wikiann()
    if vocab is not None:
        if not Path(vocab).is_file():
            raise XnerError(f"vocabulary file not found: {vocab}")
        if arch != "bert":
            raise XnerError("--vocab takes a WordPiece vocab.txt (bert); use --train-tokenizer-on for xlmr")
        tok = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=False, strip_accents=False,
                                tokenize_chinese_chars=True, model_max_length=max_length)
    else:
        from .tokenizers_train import train_tokenizer

        tok = train_tokenizer(arch, list(train_tokenizer_on), vocab_size)
    tok.model_max_length = max_length
    id2label, label2id = label_maps(labels)
    common = dict(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                  intermediate_size=intermediate or 4 * hidden, num_labels=labels.num_tags, id2label=id2label,
                  label2id=label2id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    if arch == "bert":
        model = BertForTokenClassification(BertConfig(max_position_embeddings=max_length, **common))
    else:
        model = XLMRobertaForTokenClassification(XLMRobertaConfig(
            max_position_embeddings=max_length + 2, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
            **common))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    card = {"kind": "init-model", "arch": arch, "hidden": hidden, "layers": layers, "heads": heads,
            "vocab": str(vocab) if vocab else None, "tokenizer_trained_on": train_tokenizer_on, "seed": seed,
            "parameters": sum(p.numel() for p in model.parameters()), "vocab_size": len(tok),
            "vocab_sha256": vocab_hash(tok)}
    write_json(out / "xner_model.json", card)
    return out
