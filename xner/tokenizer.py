"""A saved fast tokenizer read with ``tokenizers`` alone: serving needs neither transformers nor torch.

Loading a tokenizer through transformers imports torch and most of transformers (about 5 of the
6 seconds of ``xner predict``'s cold start); the folder's ``tokenizer.json`` holds the whole Rust
pipeline, and ``tokenizer_config.json`` / ``special_tokens_map.json`` name the special tokens.
:class:`TokenizerFiles` offers what :class:`~xner.encode.WordEncoder` and the runtime read
(``backend_tokenizer``, ``*_token`` / ``*_token_id``, ``model_max_length``, the vocabulary).
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import XnerError

__all__ = ["SPECIALS", "TokenizerFiles", "load_fast_tokenizer"]

SPECIALS = ("cls", "sep", "pad", "unk", "bos", "eos", "mask")
NO_LIMIT = int(1e30)  # transformers' "no model_max_length"


def _read(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise XnerError(f"{path}: not JSON ({e})") from None


def _content(v) -> str | None:
    return v.get("content") if isinstance(v, dict) else v


class TokenizerFiles:
    """``TokenizerFiles(folder)``: the tokenizer saved in ``folder``, without transformers."""

    is_fast = True

    def __init__(self, folder: str | Path):
        from tokenizers import Tokenizer

        folder = Path(folder)
        path = folder / "tokenizer.json"
        if not path.is_file():
            raise XnerError(f"no tokenizer.json in {folder}")
        try:
            self.backend_tokenizer = Tokenizer.from_file(str(path))
        except Exception as e:  # the Rust loader's errors
            raise XnerError(f"{path}: cannot be read as a tokenizer ({str(e).splitlines()[0]})") from None
        cfg = _read(folder / "tokenizer_config.json")
        names = {**{k: _content(v) for k, v in _read(folder / "special_tokens_map.json").items()},
                 **{k: _content(cfg[k]) for k in (f"{s}_token" for s in SPECIALS) if cfg.get(k)}}
        for s in SPECIALS:
            tok = names.get(f"{s}_token")
            setattr(self, f"{s}_token", tok)
            setattr(self, f"{s}_token_id", self.backend_tokenizer.token_to_id(tok) if tok else None)
        self.model_max_length = int(cfg.get("model_max_length") or NO_LIMIT)
        self.all_special_ids = sorted({i for s in SPECIALS if (i := getattr(self, f"{s}_token_id")) is not None})

    def __len__(self) -> int:
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        return self.backend_tokenizer.get_vocab(with_added_tokens=True)

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str | None]:
        return [self.backend_tokenizer.id_to_token(i) for i in ids]


def load_fast_tokenizer(folder: str | Path):
    """The folder's tokenizer without transformers when it has a ``tokenizer.json``; otherwise (a
    hub id, a folder with only a vocabulary file) through transformers."""
    if (Path(folder) / "tokenizer.json").is_file():
        return TokenizerFiles(folder)
    from .hf import load_tokenizer

    return load_tokenizer(str(folder))
