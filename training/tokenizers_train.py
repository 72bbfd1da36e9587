"""Reproducible tokenizer training for ``init-model --train-tokenizer-on``.

The Rust trainers of ``tokenizers`` are not reproducible: the WordPiece trainer assigns ids to
continuing-subword tokens (``##x``) in hash-map order and breaks merge ties by those ids, and the
Unigram trainer's result depends on hash order too (tokenizers issue #1794).  Two runs on the same
files gave different vocabularies, so every model built on them differed from process to process.

Here the same files always give the same tokenizer files:

* **WordPiece** (bert): the word-internal characters are mapped to private-use code points, so
  that "continuing" characters are ordinary alphabet characters to the BPE trainer.  Its alphabet
  is sorted and its merge ties are broken by (deterministic) ids, so the merges are reproducible;
  the mapping is undone afterwards (a piece that starts with a mapped character becomes ``##...``).
  The vocabulary is the one ``WordPieceTrainer`` builds (all characters, ``##`` characters, merges
  by pair frequency), only with ties broken reproducibly.
* **Unigram** (xlmr): SentencePiece's own trainer (the tool XLM-R's vocabulary was built with), one
  thread, over the NFKC-normalised text; its pieces and scores become a ``tokenizers`` Unigram model.

:func:`vocab_hash` fingerprints the resulting vocabulary; ``init-model`` records it.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Iterator

from xner.errors import XnerError

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
XLMR_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
_PUA = [(0xF0000, 0xFFFFD), (0x100000, 0x10FFFD)]  # supplementary private use areas A and B


def _sentences(files: list[str]) -> Iterator[str]:
    from xner.formats import read_corpus

    for f in sorted(files):
        for s in read_corpus(f, repair="keep").sentences():
            yield " ".join(s)


def _pua_map(chars: Iterable[str]) -> dict[str, str]:
    codes = [c for a, b in _PUA for c in range(a, b + 1)]
    chars = sorted(set(chars))
    if len(chars) > len(codes):
        raise XnerError(f"too many distinct characters ({len(chars)}) to train a WordPiece vocabulary")
    if any(a <= ord(c) <= b for c in chars for a, b in _PUA):
        raise XnerError("the training text holds private-use characters; cannot train a WordPiece vocabulary on it")
    return {c: chr(k) for c, k in zip(chars, codes, strict=False)}


def train_wordpiece(files: list[str], vocab_size: int):
    """A BERT WordPiece tokenizer (NFC, BertPreTokenizer, never lower-cased), reproducibly."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    norm = normalizers.NFC()  # never lowercase or strip accents (destroys Devanagari)
    pre = pre_tokenizers.BertPreTokenizer()
    words = [w for s in _sentences(files) for w, _ in pre.pre_tokenize_str(norm.normalize_str(s))]
    mapping = _pua_map(c for w in words for c in w[1:])
    back = {v: k for k, v in mapping.items()}
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    plain = sorted({c for w in words for c in w})  # every character also as a word-initial piece
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=1, special_tokens=BERT_SPECIALS,
                                  initial_alphabet=plain, show_progress=False)
    mapped = (w[0] + "".join(mapping[c] for c in w[1:]) for w in words)
    bpe.train_from_iterator(_lines(mapped), trainer)
    vocab: dict[str, int] = {}
    for piece, _ in sorted(bpe.get_vocab().items(), key=lambda kv: kv[1]):
        if piece in BERT_SPECIALS:
            text = piece
        elif piece[0] in back:
            text = "##" + "".join(back[c] for c in piece)
        else:
            text = piece[0] + "".join(back[c] for c in piece[1:])
        vocab.setdefault(text, len(vocab))
    tk = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tk.normalizer = norm
    tk.pre_tokenizer = pre
    tk.decoder = decoders.WordPiece()
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    tk.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]",
                                   model_input_names=["input_ids", "token_type_ids", "attention_mask"])


def wordpiece_from_vocab(vocab_file: str):
    """A BERT tokenizer over an existing WordPiece ``vocab.txt`` (e.g. mBERT's), cased and with accents
    kept, built with ``tokenizers`` so it is the same under transformers 4 and 5."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordPiece.from_file(str(vocab_file), unk_token="[UNK]"))
    tk.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False,
                                               lowercase=False)
    tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tk.decoder = decoders.WordPiece()
    missing = [t for t in BERT_SPECIALS if tk.token_to_id(t) is None]
    if missing:
        raise XnerError(f"{vocab_file}: not a BERT WordPiece vocabulary (no {', '.join(missing)})")
    cls, sep = tk.token_to_id("[CLS]"), tk.token_to_id("[SEP]")
    tk.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]",
                                   model_input_names=["input_ids", "token_type_ids", "attention_mask"])


def _lines(words: Iterable[str], per_line: int = 256) -> Iterator[str]:
    buf: list[str] = []
    for w in words:
        buf.append(w)
        if len(buf) == per_line:
            yield " ".join(buf)
            buf = []
    if buf:
        yield " ".join(buf)


def train_unigram(files: list[str], vocab_size: int):
    """An XLM-R-style Unigram tokenizer (NFKC, Metaspace) trained by SentencePiece, reproducibly."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    try:
        import sentencepiece as spm
    except ImportError:
        raise XnerError("training an xlmr tokenizer needs sentencepiece: pip install sentencepiece") from None
    norm = normalizers.NFKC()
    text = [norm.normalize_str(s) for s in _sentences(files)]
    if not any(t.strip() for t in text):
        raise XnerError("no text to train a tokenizer on")
    model = io.BytesIO()
    # spm reserves <unk>, <s>, </s>; xner puts its five specials first and drops spm's three
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(text), model_writer=model, vocab_size=max(8, vocab_size - 2), model_type="unigram",
        character_coverage=1.0, num_threads=1, normalization_rule_name="identity", hard_vocab_limit=False,
        shuffle_input_sentence=False, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    pieces = [(sp.id_to_piece(i), float(sp.get_score(i))) for i in range(sp.get_piece_size())
              if not (sp.is_control(i) or sp.is_unknown(i))]
    vocab = [(s, 0.0) for s in XLMR_SPECIALS] + [p for p in pieces if p[0] not in XLMR_SPECIALS]
    tk = Tokenizer(models.Unigram(vocab, unk_id=XLMR_SPECIALS.index("<unk>"), byte_fallback=False))
    tk.normalizer = norm
    tk.pre_tokenizer = pre_tokenizers.Metaspace()
    tk.decoder = decoders.Metaspace()
    bos, eos = XLMR_SPECIALS.index("<s>"), XLMR_SPECIALS.index("</s>")
    tk.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)])
    return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", cls_token="<s>",
                                   sep_token="</s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
                                   model_input_names=["input_ids", "attention_mask"])


def train_tokenizer(kind: str, files: list[str], vocab_size: int):
    """``kind``: "wordpiece" (BERT-style) or "unigram" (XLM-R-style)."""
    if vocab_size < 16:
        raise XnerError(f"--vocab-size {vocab_size} is too small")
    if kind not in ("wordpiece", "unigram"):
        raise XnerError(f"unknown tokenizer kind {kind!r}")
    return train_wordpiece(files, vocab_size) if kind == "wordpiece" else train_unigram(files, vocab_size)


def vocab_hash(tokenizer) -> str:
    """sha256 of the tokenizer's model (pieces, ids, scores): equal hashes, equal tokenisation."""
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    return hashlib.sha256(json.dumps(model, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
