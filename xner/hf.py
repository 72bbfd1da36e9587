"""Loading Hugging Face tokenizers and token-classification models (every stage needs them).

Models load from safetensors or a hub id; remote code is never trusted unless asked for.  Errors
(no such folder, no weights, no tokenizer files) are one :class:`XnerError`.
"""

from __future__ import annotations

import logging

from .errors import XnerError
from .labels import LabelSet

__all__ = ["label_maps", "labels_of", "load_model", "load_tokenizer"]


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


def load_model(name_or_path: str, labels: LabelSet | None = None, trust_remote_code: bool = False,
               attn_implementation: str | None = None):
    """A token-classification model by hub id or folder; a new head is sized for ``labels``."""
    from transformers import AutoConfig, AutoModelForTokenClassification

    try:
        cfg = AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise XnerError(f"cannot load a model from {name_or_path!r}: {str(e).splitlines()[0]}") from None
    kwargs: dict = {"attn_implementation": attn_implementation} if attn_implementation else {}
    if labels is not None:
        id2label, label2id = label_maps(labels)
        same = getattr(cfg, "id2label", None) and [cfg.id2label.get(i) for i in range(len(cfg.id2label))] == labels.tags
        kwargs.update(num_labels=labels.num_tags, id2label=id2label, label2id=label2id)
        if not same:
            kwargs["ignore_mismatched_sizes"] = True
    try:
        return AutoModelForTokenClassification.from_pretrained(name_or_path, trust_remote_code=trust_remote_code,
                                                               use_safetensors=None, **kwargs)
    except OSError as e:  # no weights file, unreadable weights
        raise XnerError(f"cannot load a model from {name_or_path!r}: {str(e).splitlines()[0]}") from None
