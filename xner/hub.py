"""The Hugging Face hub as a fallback source: is it reachable, and mBERT's WordPiece vocabulary.

Several layers need the multilingual BERT vocabulary (small models built by ``init-model`` with
``vocab = "mbert"``, the benchmarks): it is looked for beside the data folder
(``DATA/../tokenizers/bert-base-multilingual-cased/vocab.txt``), then on the hub.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import XnerError

__all__ = ["MBERT", "hub_reachable", "local_mbert_vocab", "mbert_vocab"]

MBERT = "bert-base-multilingual-cased"


def hub_reachable(repo: str = MBERT, timeout: float = 5) -> bool:
    """Whether the hub answers (False at once under ``HF_HUB_OFFLINE=1``)."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        from huggingface_hub import model_info

        model_info(repo, timeout=timeout)
        return True
    except Exception:
        return False


def local_mbert_vocab(data_dir: str | os.PathLike | None) -> Path | None:
    """mBERT's ``vocab.txt`` in the ``tokenizers`` folder beside a data folder, if it is there."""
    if not data_dir:
        return None
    p = Path(data_dir).parent / "tokenizers" / MBERT / "vocab.txt"
    return p if p.exists() else None


def mbert_vocab(data_dir: str | os.PathLike | None) -> str:
    """mBERT's ``vocab.txt``: beside the data folder, else downloaded from the hub."""
    local = local_mbert_vocab(data_dir)
    if local is not None:
        return str(local)
    if hub_reachable():  # the same file from the hub
        from huggingface_hub import hf_hub_download

        return hf_hub_download(MBERT, "vocab.txt")
    raise XnerError(f"vocab = 'mbert' needs tokenizers/{MBERT}/vocab.txt beside the data folder; give a vocab file "
                    "path or train a tokenizer instead")
