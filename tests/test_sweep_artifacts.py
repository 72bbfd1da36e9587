"""Sweep artefact folders: a damaged DONE marker means "not done"; concurrent sweeps build once; the
results store takes two writers.  Model building is replaced by fakes that log each build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from xner.datadir import DataDir
from xner.experiments import Artifacts, Group, Material, Store, load_config, resolve_models

CFG = {"name": "t", "targets": ["fa"], "settings": [{"kind": "native"}],
       "models": {"tiny": {"init": {"arch": "bert", "vocab": "vocab.txt"}}}}
GROUP = Group("tiny", "native", ("fa",), "fa")


def _log(kind: str, out) -> None:
    """One line per build in $XNER_TEST_BUILD_LOG; a pause widens the window for a concurrent builder."""
    with open(os.environ["XNER_TEST_BUILD_LOG"], "a", encoding="utf-8") as f:
        f.write(f"{kind} {os.getpid()}\n")
    time.sleep(float(os.environ.get("XNER_TEST_BUILD_PAUSE", "0")))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "payload").write_text(f"{kind} built by {os.getpid()}", encoding="utf-8")


def install_fakes(monkeypatch_setattr) -> None:
    import importlib

    # the modules themselves (a package may export a function of the same name, e.g. training.finetune)
    build, finetune, models = (importlib.import_module(f"xner.{m}") for m in ("export.build", "training.finetune",
                                                                               "training.models"))

    def fake_init(arch, out, **kw):
        _log("init", out)
        (Path(out) / "xner_model.json").write_text(json.dumps({"vocab_sha256": "f" * 64}), encoding="utf-8")
        return Path(out)

    def fake_finetune(base, parts, ev, out, hp, **kw):
        assert (Path(base) / "payload").is_file()  # the base model is a finished artefact
        _log("train", out)
        return {"steps": 1}

    def fake_export(model_dir, out, *a, **kw):
        assert (Path(model_dir) / "payload").is_file()
        _log("export", out)

    monkeypatch_setattr(models, "init_model", fake_init)
    monkeypatch_setattr(finetune, "finetune", fake_finetune)
    monkeypatch_setattr(build, "export", fake_export)


def builds(log: Path) -> list[str]:
    return [ln.split()[0] for ln in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def artifacts(root: Path, data_dir) -> Artifacts:
    cfg = load_config(dict(CFG))
    return Artifacts(Path(root), cfg, resolve_models(cfg), Material(DataDir(data_dir)))


def test_truncated_done_marker_is_rebuilt(tmp_path, data_dir, monkeypatch):
    log = tmp_path / "builds.log"
    monkeypatch.setenv("XNER_TEST_BUILD_LOG", str(log))
    install_fakes(monkeypatch.setattr)
    root = tmp_path / "arts"
    d, info = artifacts(root, data_dir).for_group(GROUP)
    assert builds(log) == ["init", "train", "export"]
    done = Path(d) / "DONE"
    text = done.read_text(encoding="utf-8")
    for damaged in (text[: len(text) // 2], "", "[1, 2]"):  # truncated, empty, not a marker
        done.write_text(damaged, encoding="utf-8")
        d2, info2 = artifacts(root, data_dir).for_group(GROUP)  # a rerun: rebuilds instead of crashing
        assert (d2, info2) == (d, info)
        assert json.loads(done.read_text(encoding="utf-8")) == info
    assert builds(log) == ["init", "train", "export", "export", "export", "export"]
    # a damaged marker upstream: that artefact is rebuilt, the export (keyed by its name) is reused
    train_dir = next(root.glob("train-*"))
    (train_dir / "DONE").write_text('{"model": "ti', encoding="utf-8")
    assert artifacts(root, data_dir).for_group(GROUP) == (d, info)
    assert builds(log)[6:] == ["train"] and json.loads((train_dir / "DONE").read_text())["model"] == "tiny"
    # a damaged folder the sweep did not make (no owner mark, a file of someone else's) is moved aside,
    # never deleted
    (Path(d) / "DONE").write_text("{", encoding="utf-8")
    for f in Path(d).iterdir():
        if f.name.startswith(".xner"):
            f.unlink()
    (Path(d) / "notes.txt").write_text("mine", encoding="utf-8")
    assert artifacts(root, data_dir).for_group(GROUP) == (d, info)
    kept = [p for p in root.rglob("notes.txt")]
    assert len(kept) == 1 and kept[0].read_text() == "mine" and kept[0].parent != Path(d)
    assert not (Path(d) / "notes.txt").exists() and (Path(d) / "payload").is_file()
    # nothing half-built is left behind
    staging = root / ".staging"
    assert not staging.exists() or not any(staging.iterdir())


CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
import test_sweep_artifacts as t
from pathlib import Path
t.install_fakes(setattr)
ready = Path({ready!r}) / str({k})
ready.write_text("")
while len(list(Path({ready!r}).iterdir())) < 2:  # both processes start building together
    pass
d, info = t.artifacts(Path({root!r}), {data!r}).for_group(t.GROUP)
print(json.dumps([d, info, (Path(d) / "payload").read_text()]))
"""


def test_two_sweeps_build_one_artifact_once(tmp_path, data_dir):
    log = tmp_path / "builds.log"
    ready = tmp_path / "ready"
    ready.mkdir()
    env = {**os.environ, "XNER_TEST_BUILD_LOG": str(log), "XNER_TEST_BUILD_PAUSE": "0.5"}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD.format(tests=str(Path(__file__).parent), ready=str(ready),
                                                               k=k, root=str(tmp_path / "arts"), data=str(data_dir))],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    got = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert sorted(builds(log)) == ["export", "init", "train"], log.read_text()  # exactly one build of each
    assert got[0] == got[1]  # the same folder, marker and contents for both
    d, info, payload = got[0]
    assert json.loads((Path(d) / "DONE").read_text()) == info and payload.startswith("export built by")


WRITER = """
import sys
from xner.experiments import Store
with Store({store!r}) as st:
    for i in range(150):
        assert st.put({{"writer": {k}, "i": i}}, {{"f1": i / 150}})
"""


def test_store_takes_two_concurrent_writers(tmp_path):
    store = tmp_path / "results.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER.format(store=str(store), k=k)], stderr=subprocess.PIPE,
                              text=True) for k in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    with Store(store) as st:
        rows = st.rows()
    assert len(rows) == 300 and len({r["key"] for r in rows}) == 300
