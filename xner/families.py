"""One registered spec per model family: everything export, the optimiser, the runtime, compression
and the word encoder need to know about an encoder architecture.

Adding a family is one :func:`register` call (see the README's Architecture section); the test suite
builds a tiny model of every registered family that ``init-model`` can build and runs it through
export, the gates, the runtime and compression, and fails when a family has no such test.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import XnerError


@dataclass(frozen=True)
class Family:
    model_type: str  # the Hugging Face config's ``model_type``
    inputs: tuple[str, ...]  # ONNX graph inputs, in order
    optimizer_type: str = "bert"  # onnxruntime.transformers' optimiser model type
    position_offset: int = 0  # position ids reserved before the first token (RoBERTa: padding_idx + 1)
    layers: str = "encoder.layer"  # the encoder layers, relative to the base model (compression, freezing)
    embeddings: str = "embeddings"  # relative to the base model (freezing)
    cls_token: str = "cls_token"  # tokenizer attributes of the tokens around a segment
    sep_token: str = "sep_token"
    fp32_tolerance: float = 1e-4  # the exact parity gate's max |logit difference|
    # how init-model builds one offline (None: load-only family)
    arch: str | None = None  # the ``init-model --arch`` name
    config_class: str | None = None  # transformers class names
    model_class: str | None = None
    tokenizer: str = "wordpiece"  # "wordpiece" (BERT-style ##) or "unigram" (SentencePiece-style)

    def token_limit(self, max_position_embeddings: int) -> int:
        """Longest input in sub-tokens (specials included) that the position table allows."""
        return max_position_embeddings - self.position_offset


REGISTRY: dict[str, Family] = {}


def register(f: Family) -> Family:
    if f.model_type in REGISTRY:
        raise XnerError(f"model family {f.model_type!r} is registered twice")
    REGISTRY[f.model_type] = f
    return f


def family(model_type: str | None) -> Family:
    if model_type not in REGISTRY:
        raise XnerError(f"no spec for model type {model_type!r} (known: {', '.join(sorted(REGISTRY))}); "
                        "register one in xner/families.py")
    return REGISTRY[model_type]


def family_of(model_or_config) -> Family:
    cfg = getattr(model_or_config, "config", model_or_config)
    mt = cfg.get("model_type") if isinstance(cfg, dict) else getattr(cfg, "model_type", None)
    return family(mt)


def token_limit(config) -> int:
    """Longest input (specials included) a model's position table allows; unregistered families are
    taken to reserve no positions."""
    f = REGISTRY.get(getattr(config, "model_type", None))
    return config.max_position_embeddings - (f.position_offset if f else 0)


def by_arch(arch: str) -> Family:
    for f in REGISTRY.values():
        if f.arch == arch:
            return f
    raise XnerError(f"unknown architecture {arch!r}; choose {', '.join(archs())}")


def archs() -> list[str]:
    return [f.arch for f in REGISTRY.values() if f.arch]


register(Family("bert", ("input_ids", "attention_mask", "token_type_ids"), arch="bert",
                config_class="BertConfig", model_class="BertForTokenClassification"))
register(Family("xlm-roberta", ("input_ids", "attention_mask"), position_offset=2, cls_token="bos_token",
                sep_token="eos_token", arch="xlmr", config_class="XLMRobertaConfig",
                model_class="XLMRobertaForTokenClassification", tokenizer="unigram"))
register(Family("roberta", ("input_ids", "attention_mask"), position_offset=2, cls_token="bos_token",
                sep_token="eos_token", arch="roberta", config_class="RobertaConfig",
                model_class="RobertaForTokenClassification", tokenizer="unigram"))
register(Family("electra", ("input_ids", "attention_mask", "token_type_ids"), arch="electra",
                config_class="ElectraConfig", model_class="ElectraForTokenClassification"))
