"""Model factory: load any HF token-classification encoder, or build a random one offline.

Models are saved as safetensors; remote code is never trusted unless asked for.
"""

from __future__ import annotations

import os
from pathlib import Path

from xner.errors import XnerError
from xner.families import by_arch
from xner.hf import label_maps, save_tokenizer
from xner.io import write_json
from xner.labels import LabelSet

from .tokenizers_train import vocab_hash


def init_model(arch: str, out: str | os.PathLike, vocab: str | None = None, train_tokenizer_on: list[str] | None = None,
               hidden: int = 128, layers: int = 2, heads: int = 2, intermediate: int | None = None,
               max_length: int = 512, vocab_size: int = 8000, labels: LabelSet | None = None, seed: int = 0) -> Path:
    """A randomly initialised encoder of a registered family with a real tokenizer, saved as safetensors."""
    import torch
    import transformers

    fam = by_arch(arch)
    if (vocab is None) == (not train_tokenizer_on):
        raise XnerError("give exactly one of --vocab FILE or --train-tokenizer-on DATA")
    if hidden % heads:
        raise XnerError(f"--hidden {hidden} must be divisible by --heads {heads}")
    out = Path(out)
    from xner.outputs import claim_dir

    claim_dir(out, inputs=[vocab] if vocab else [])  # new, empty, or an xner model (its xner_model.json)
    labels = labels or LabelSet.wikiann()
    if vocab is not None:
        if not Path(vocab).is_file():
            raise XnerError(f"vocabulary file not found: {vocab}")
        if fam.tokenizer != "wordpiece":
            raise XnerError(f"--vocab takes a WordPiece vocab.txt; {arch} needs --train-tokenizer-on")
        from .tokenizers_train import wordpiece_from_vocab

        tok = wordpiece_from_vocab(str(vocab))
    else:
        from .tokenizers_train import train_tokenizer

        tok = train_tokenizer(fam.tokenizer, list(train_tokenizer_on), vocab_size)
    tok.model_max_length = max_length
    id2label, label2id = label_maps(labels)
    cfg = dict(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
               intermediate_size=intermediate or 4 * hidden, num_labels=labels.num_tags, id2label=id2label,
               label2id=label2id, pad_token_id=tok.pad_token_id, max_position_embeddings=max_length + fam.position_offset)
    if fam.position_offset:  # RoBERTa-style: positions count from padding_idx + 1
        cfg.update(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(seed)
    model = getattr(transformers, fam.model_class)(getattr(transformers, fam.config_class)(**cfg))
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    save_tokenizer(tok, out)
    card = {"kind": "init-model", "arch": arch, "model_type": fam.model_type, "hidden": hidden, "layers": layers,
            "heads": heads, "vocab": str(vocab) if vocab else None, "tokenizer_trained_on": train_tokenizer_on,
            "seed": seed, "parameters": sum(p.numel() for p in model.parameters()), "vocab_size": len(tok),
            "vocab_sha256": vocab_hash(tok)}
    write_json(out / "xner_model.json", card)
    return out
