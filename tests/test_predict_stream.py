"""predict streams with bounded memory and keeps one output record per input line; raw text without
spaces is split per character (CJK) or refused with a clear message (Thai and its neighbours)."""

from __future__ import annotations

import io
import json
import threading

import pytest

from xner.errors import XnerError
from xner.export.pipeline import split_words
from xner.export.predict import CHUNK, predict


def test_cjk_is_one_word_per_character():
    words = [w for w, _, _ in split_words("習近平訪問了北京和上海。")]
    assert words == list("習近平訪問了北京和上海。")
    assert [w for w, _, _ in split_words("東京タワーへ行く")] == list("東京タワーへ行く")
    mixed = split_words("Obama 訪問 Tokyo")
    assert [w for w, _, _ in mixed] == ["Obama", "訪", "問", "Tokyo"] and mixed[1][1:] == (6, 7)


@pytest.mark.parametrize("text,script", [("กรุงเทพมหานครเป็นเมืองหลวง", "Thai"), ("ພາສາລາວ", "Lao"),
                                         ("ភាសាខ្មែរ", "Khmer"), ("မြန်မာဘာသာ", "Myanmar")])
def test_scripts_without_spaces_are_refused_clearly(text, script):
    with pytest.raises(XnerError, match=f"{script} is written without spaces"):
        split_words(text)


def test_blank_lines_keep_their_records(onnx_dir, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("Anna Smith lives in Boston .\n\nBob Jones\n   \nParis\n", encoding="utf-8")
    out = io.StringIO()
    assert predict(str(onnx_dir), out, input=str(f), provider="cpu", threads=1) == 5
    recs = [json.loads(ln) for ln in out.getvalue().splitlines()]
    assert [r["text"] for r in recs] == ["Anna Smith lives in Boston .", "", "Bob Jones", "   ", "Paris"]
    assert recs[1]["entities"] == [] and recs[3]["entities"] == []
    conll = io.StringIO()
    predict(str(onnx_dir), conll, input=str(f), fmt="conll", provider="cpu", threads=1)
    blocks = conll.getvalue().split("\n\n")
    assert len(conll.getvalue().splitlines()) == 6 + 1 + 2 + 1 + 1 + 1 + 1 + 1  # 5 records, 3 empty
    assert blocks[0].splitlines()[0].startswith("Anna\t")


def test_output_starts_before_the_input_ends(onnx_dir, monkeypatch):
    """Read from a pipe that stays open: the first CHUNK lines are answered before more arrive."""
    import os
    import sys

    r, w = os.pipe()
    reader = os.fdopen(r, "r", encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", reader)
    out = io.StringIO()
    done = threading.Event()

    def run():
        predict(str(onnx_dir), out, input="-", provider="cpu", threads=1)
        done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    writer = os.fdopen(w, "w", encoding="utf-8")
    writer.write("Anna Smith in Boston .\n" * CHUNK)
    writer.flush()
    for _ in range(600):
        if out.getvalue().count("\n") >= CHUNK:
            break
        threading.Event().wait(0.05)
    assert out.getvalue().count("\n") == CHUNK and not done.is_set()  # answered while the input is open
    writer.write("Paris\n")
    writer.close()
    t.join(60)
    assert done.is_set() and out.getvalue().count("\n") == CHUNK + 1
