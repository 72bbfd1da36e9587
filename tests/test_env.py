"""`xner env`: the facts a bug report needs, as text and as JSON."""

from __future__ import annotations

import json

from xner.cli import main


def test_env_json_names_the_onnxruntime_build_and_the_provider_that_runs(capsys, tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "train.tsv").write_text("Anna\tB-PER\n\n", encoding="utf-8")
    assert main(["env", "--json", "--no-hub", "--data-dir", str(tmp_path)]) == 0
    d = json.loads(capsys.readouterr().out)
    ort = d["onnxruntime"]
    assert ort["installed"] and ort["build"] in ("onnxruntime", "onnxruntime-gpu") and ort["version"]
    assert ort["runs"]["CPUExecutionProvider"] == "CPUExecutionProvider"  # a session really ran on it
    assert d["packages"]["numpy"] and d["xner"] and d["cpu"]["cores"] >= 1
    assert d["data"]["found"] == str(tmp_path.resolve()) and d["data"]["checked"][0]["languages"] == 1
    assert d["hub"]["reachable"] == "not checked (--no-hub)"
    assert main(["env", "--no-hub"]) == 0
    text = capsys.readouterr().out
    assert "a session really runs: " in text and "CPUExecutionProvider -> CPUExecutionProvider" in text
