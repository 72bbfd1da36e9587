"""Target-language vocabulary augmentation (TVA, Chau, Lin & Smith 2020; Chau & Smith 2021).

A WordPiece vocabulary is trained on the target text (reproducibly, :func:`train_wordpiece`); the
pieces the model's tokenizer lacks are ranked by how often the new tokenizer uses them on that text
(most frequent first, ties by the piece itself), and up to ``n`` of them are appended to the model's
WordPiece vocabulary.  Each new embedding row (and output-layer row and bias, where the model has
them) starts as the mean of the rows of the pieces the *original* tokenizer splits the new piece into.

Only WordPiece tokenizers (``bert``, ``electra``) are augmented; a Unigram (SentencePiece) tokenizer
is refused with a clear error.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from xner.errors import XnerError

from .tokenizers_train import train_wordpiece

__all__ = ["TVA_VOCAB_SIZE", "augment_vocabulary", "candidate_pieces", "wordpiece_split"]

#: size of the target vocabulary the new pieces are drawn from (Chau et al.: 5,000 wordpieces)
TVA_VOCAB_SIZE = 5000


def _wordpiece_model(tok) -> dict:
    model = json.loads(tok.backend_tokenizer.to_str())["model"]
    if model.get("type") != "WordPiece":
        raise XnerError(f"--vocab-augment needs a WordPiece tokenizer (bert, electra); this model's tokenizer is "
                        f"{model.get('type')} (SentencePiece-style), whose vocabulary xner does not augment")
    return model


def wordpiece_split(piece: str, vocab: dict[str, int], prefix: str = "##", unk: str = "[UNK]",
                    max_chars: int = 100) -> list[str]:
    """The pieces WordPiece (greedy longest match first) splits ``piece`` into under ``vocab``; a
    continuing piece (``##x``) is split as the inside of a word."""
    cont = piece.startswith(prefix) and len(piece) > len(prefix)
    word = piece[len(prefix):] if cont else piece
    if len(word) > max_chars:
        return [unk]
    out, start = [], 0
    while start < len(word):
        end, cur = len(word), None
        while start < end:
            sub = word[start:end]
            if start > 0 or cont:
                sub = prefix + sub
            if sub in vocab:
                cur = sub
                break
            end -= 1
        if cur is None:
            return [unk]
        out.append(cur)
        start = end
    return out


def _reachable(tok, text: str) -> bool:
    """Whether the base tokenizer's normaliser and pre-tokeniser leave ``text`` one unchanged word
    (a piece that they would cut apart could never be used)."""
    backend = tok.backend_tokenizer
    norm = backend.normalizer.normalize_str(text) if backend.normalizer is not None else text
    if norm != text:
        return False
    if backend.pre_tokenizer is None:
        return True
    return [w for w, _ in backend.pre_tokenizer.pre_tokenize_str(text)] == [text]


def candidate_pieces(tok, sentences: Sequence[Sequence[str]], files: list[str],
                     vocab_size: int = TVA_VOCAB_SIZE) -> list[tuple[str, int]]:
    """(piece, count) of target-trained pieces that ``tok`` lacks, most frequent first."""
    base = _wordpiece_model(tok)
    prefix = base.get("continuing_subword_prefix") or "##"
    new = train_wordpiece(files, vocab_size)
    specials = set(new.all_special_tokens)
    counts: Counter[str] = Counter()
    texts = [" ".join(s) for s in sentences]
    for i in range(0, len(texts), 1024):
        for enc in new.backend_tokenizer.encode_batch(texts[i:i + 1024], add_special_tokens=False):
            counts.update(enc.tokens)
    out = []
    for piece, n in counts.items():
        if piece in specials or piece in base["vocab"] or n == 0:
            continue
        if _reachable(tok, piece[len(prefix):] if piece.startswith(prefix) else piece):
            out.append((piece, n))
    return sorted(out, key=lambda pn: (-pn[1], pn[0]))


def _extended_tokenizer(tok, pieces: list[str]):
    """``tok`` with ``pieces`` appended to its WordPiece vocabulary (ids after every existing id)."""
    from xner.hf import load_tokenizer

    with tempfile.TemporaryDirectory(prefix="xner-tva-") as tmp:
        tok.save_pretrained(tmp)
        path = Path(tmp) / "tokenizer.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        vocab = data["model"]["vocab"]
        start = max([*vocab.values(), *(t["id"] for t in data.get("added_tokens", []))]) + 1
        for k, p in enumerate(pieces):
            vocab[p] = start + k
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        vt = Path(tmp) / "vocab.txt"
        if vt.is_file():  # a slow-tokenizer vocabulary beside it must agree
            vt.unlink()
        new = load_tokenizer(tmp)
    ids = new.convert_tokens_to_ids(pieces)
    if ids != list(range(start, start + len(pieces))) or len(new) != start + len(pieces):
        raise XnerError("the augmented tokenizer did not take the new pieces at the expected ids")
    return new


def augment_vocabulary(model, tok, sentences: Sequence[Sequence[str]], files: list[str], n: int,
                       vocab_size: int = TVA_VOCAB_SIZE):
    """Add up to ``n`` target pieces to ``tok`` and ``model`` (in place); returns the new tokenizer and
    what was added: ``{"requested", "added", "pieces": [{"piece", "count", "id", "from"}]}``."""
    import torch

    if n < 1:
        raise XnerError(f"--vocab-augment must be at least 1 (got {n})")
    base = _wordpiece_model(tok)
    prefix = base.get("continuing_subword_prefix") or "##"
    chosen = candidate_pieces(tok, sentences, files, vocab_size)[:n]
    record = {"requested": n, "added": len(chosen), "target_vocab_size": vocab_size, "pieces": []}
    if not chosen:
        return tok, record
    pieces = [p for p, _ in chosen]
    new_tok = _extended_tokenizer(tok, pieces)
    start = len(new_tok) - len(pieces)
    splits = [wordpiece_split(p, base["vocab"], prefix, base.get("unk_token", "[UNK]"),
                              base.get("max_input_chars_per_word", 100)) for p in pieces]
    src_ids = [tok.convert_tokens_to_ids(s) for s in splits]
    old_n = model.get_input_embeddings().weight.shape[0]
    if old_n < start:  # the embedding table must cover every old id before the new ones
        raise XnerError(f"the model's embedding table ({old_n} rows) is smaller than its tokenizer ({start})")
    try:  # every new row is set below: no mean/covariance initialisation (transformers >= 4.46)
        model.resize_token_embeddings(max(old_n, start + len(pieces)), mean_resizing=False)
    except TypeError:
        model.resize_token_embeddings(max(old_n, start + len(pieces)))
    with torch.no_grad():
        tables = [model.get_input_embeddings().weight]
        out = model.get_output_embeddings()
        if out is not None and out.weight.data_ptr() != tables[0].data_ptr():
            tables.append(out.weight)
        bias = getattr(out, "bias", None) if out is not None else None
        for k, ids in enumerate(src_ids):
            for t in tables:
                t[start + k] = t[ids].mean(0)
            if bias is not None and bias.shape[0] > start + k:
                bias[start + k] = bias[ids].mean()
    record["pieces"] = [{"piece": p, "count": c, "id": start + k, "from": s}
                        for k, ((p, c), s) in enumerate(zip(chosen, splits, strict=True))]
    return new_tok, record
