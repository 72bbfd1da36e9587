"""Small fidelity slips (Trust III item 8)."""

from __future__ import annotations

import pytest

from xner.robustness.perturbations.mlm import whole_word_pieces


def test_sweep_students_start_from_the_base_encoder_by_default(data_dir, tmp_path):
    from xner.datadir import DataDir
    from xner.experiments.artefacts import Artifacts
    from xner.experiments.config import load_config, resolve_models
    from xner.experiments.material import Material

    cfg = load_config("demo")
    cfg["distill"].pop("student", None)  # the demo names "teacher"; a config that names none
    arts = Artifacts(tmp_path / "arts", cfg, resolve_models(cfg), Material.of(DataDir(data_dir), cfg))
    assert arts.distill_hp()["student"] == "base"


def test_sentencepiece_fills_are_word_initial_pieces():
    pieces = ["<s>", "</s>", "<mask>", "▁", "▁Paris", "is", "▁the", "ing", "▁capital", ","] + [f"▁w{i}" for i in range(5)]
    whole = whole_word_pieces(pieces, {0, 1, 2})
    got = {p for p, w in zip(pieces, whole, strict=True) if w}
    assert got == {"▁Paris", "▁the", "▁capital", *(f"▁w{i}" for i in range(5))}  # never "is", "ing", "▁" or ","


@pytest.mark.parametrize("pieces,expect", [(["[CLS]", "Paris", "##is", "the"], {"Paris", "the"}),
                                           (["<s>", "ĠParis", "is", "Ġthe", "Ġa", "Ġb"], {"ĠParis", "Ġthe", "Ġa", "Ġb"})])
def test_wordpiece_and_byte_bpe(pieces, expect):
    whole = whole_word_pieces(pieces, {0})
    assert {p for p, w in zip(pieces, whole, strict=True) if w} == expect
