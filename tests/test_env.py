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
    assert "a session asking for one provider runs on: " in text and "CPUExecutionProvider -> CPUExecutionProvider" in text


def test_env_reports_where_the_node_ran_not_what_was_registered(capsys):
    """Review of issue 28: a session asked for Azure registers Azure but runs the node on the CPU; the
    report takes the placement from onnxruntime's profile, and names what ``--provider auto`` picks."""
    import onnxruntime as ort

    from xner.envinfo import collect

    d = collect(hub=False)["onnxruntime"]
    for prov, ran in d["runs"].items():
        assert ran.startswith("fails:") or set(ran.split(", ")) <= set(ort.get_available_providers()), (prov, ran)
    if "AzureExecutionProvider" in d["runs"]:
        assert d["runs"]["AzureExecutionProvider"] == "CPUExecutionProvider"
    assert d["xner_auto"] == {"asks_for": ["CPUExecutionProvider"], "runs": "CPUExecutionProvider"} \
        or "CUDAExecutionProvider" in ort.get_available_providers()


def test_env_calls_only_the_given_folder_the_data_folder(tmp_path, monkeypatch, capsys):
    """Review of issue 28: a ./data folder commands never read is not reported as the data folder."""
    (tmp_path / "data" / "en").mkdir(parents=True)
    (tmp_path / "data" / "en" / "train.tsv").write_text("Anna\tB-PER\n\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XNER_DATA_DIR", raising=False)
    assert main(["env", "--json", "--no-hub"]) == 0
    d = json.loads(capsys.readouterr().out)["data"]
    assert d["found"] is None and d["checked"][0]["from"] == "./data" and d["checked"][0]["used"] is False
    assert main(["env", "--no-hub"]) == 0
    text = capsys.readouterr().out
    assert "data folder: none given" in text and "not used unless passed" in text


def test_env_probes_providers_without_the_onnx_package():
    """Review of issue 28: the serve install has onnxruntime but not onnx; the probe still runs."""
    import subprocess
    import sys

    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'onnx' or name.startswith('onnx.'):\n"
            "            raise ImportError('blocked')\n"
            "sys.meta_path.insert(0, Block())\n"
            "from xner.envinfo import collect\n"
            "print(collect(hub=False)['onnxruntime']['runs']['CPUExecutionProvider'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "CPUExecutionProvider"
