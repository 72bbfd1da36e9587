"""One output guard for every file and folder a command writes (``xner.outputs``): an existing path
xner did not write is refused unless --overwrite, a path that is one of the command's inputs is
always refused, and only xner's own marker counts.  A table enumerates every subcommand that
writes; a new writing subcommand without a case fails ``test_every_writer_is_in_the_table``."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from xner.cli import build_parser, main
from xner.outputs import claim_dir, claim_file, mark_dir, record_file, written_by_xner

MINE = "the user's own file\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory, data_dir, onnx_dir, trained, tiny_bert):
    root = tmp_path_factory.mktemp("guard")
    data = root / "data"
    shutil.copytree(data_dir, data)  # a data folder the tests may try to write over
    p = {"data": str(data), "onnx": str(onnx_dir), "model": trained["bert"], "tiny": str(tiny_bert),
         "root": str(root)}
    from xner.experiments.store import Store

    with Store(root / "store.sqlite"):
        pass
    p["store"] = str(root / "store.sqlite")
    return p


def _foreign_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MINE, encoding="utf-8")
    return path


def _foreign_dir(path: Path) -> Path:
    _foreign_file(path / "notes.txt")
    (path / "report.md").write_text(MINE, encoding="utf-8")  # a name xner writes is not xner's marker
    return path


# (id, argv, what is foreign: "file" or "dir" at {out}); every case must be refused, and its target untouched
CASES = [
    ("data split", "data split --data-dir {data} --lang en --out {out}", "dir-with-split"),
    ("data convert", "data convert {data}/en/test.tsv {out}", "file"),
    ("data transliterate", "data transliterate --data-dir {data} --lang ru --out {out}", "dir"),
    ("init-model", "init-model --arch bert --train-tokenizer-on {data}/en/train.tsv --hidden 32 --layers 1 --heads 2 "
                   "--out {out}", "dir"),
    ("train", "train --model {tiny} --data-dir {data} --train-langs en --lang en --max-steps 1 --out {out}", "dir"),
    ("distill", "distill --teachers {model} --data-dir {data} --lang fa --student {tiny} --max-steps 1 --out {out}",
     "dir"),
    ("pretrain", "pretrain --init bert:hidden=32,layers=1,heads=2 --data-dir {data} --langs en --max-steps 1 "
                 "--out {out}", "dir"),
    ("export", "export --model {model} --exporter torch --out {out}", "dir"),
    ("perturb", "perturb --data-dir {data} --lang en --perturbation char_noise --out {out}", "file"),
    ("evaluate", "evaluate --model {onnx} --data-dir {data} --lang en --perturbations char_noise --out {out}", "file"),
    ("sweep", "sweep demo --data-dir {data} --store {out}", "file"),
    ("report", "report {store} --out {out}", "dir"),
    ("results", "results {store} --out {out}", "file"),
    ("demo", "demo --data-dir {data} --out {out}", "dir"),
    ("bench", "bench --suite score --quick --out {out}", "dir"),
    ("evaluate --junit", "evaluate --model {onnx} --data-dir {data} --lang en --perturbations char_noise "
                         "--require char_noise:f1>=0 --junit {out}", "file"),
    ("sweep --junit", "sweep demo --data-dir {data} --store {root}/junit-store.sqlite --require *:f1>=0 "
                      "--junit {out}", "file"),
]

#: every option through which a command writes a file or folder
WRITE_OPTIONS = {"--out", "--output", "--store", "--junit", "--artifacts"}


def _writers() -> set[tuple[str, str]]:
    """Every (subcommand, option) that writes: an option of WRITE_OPTIONS or an ``output`` argument."""
    found = set()

    def walk(p, prefix):
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sp in a.choices.items():
                    walk(sp, (*prefix, name))
            elif prefix and a.dest == "output" and not a.option_strings:
                found.add((" ".join(prefix), "output"))
            elif prefix:
                for opt in set(a.option_strings) & WRITE_OPTIONS:
                    found.add((" ".join(prefix), opt))

    walk(build_parser(), ())
    return found


def _covered() -> set[tuple[str, str]]:
    """(subcommand, option) pairs the cases write through: the option given {out}, or the positional
    output argument when no option is."""
    out = set()
    for _, argv in INPUT_CASES:
        if "--artifacts" in argv:
            out.add(("sweep", "--artifacts"))
    for _, argv, _ in CASES:
        words = argv.split()
        cmd = " ".join(words[:2]) if words[0] == "data" else words[0]
        opts = [w for w, nxt in zip(words, words[1:], strict=False) if nxt == "{out}"]
        out.add((cmd, opts[0] if opts and opts[0].startswith("--") else "output"))
    return out


def test_every_writer_is_in_the_table():
    missing = _writers() - _covered()
    assert not missing, f"subcommands and options that write without an output-guard case: {sorted(missing)}"


@pytest.mark.parametrize("case,argv,kind", CASES, ids=[c for c, _, _ in CASES])
def test_a_foreign_output_is_refused_and_untouched(env, capsys, tmp_path, case, argv, kind):
    out = tmp_path / "target"
    if kind == "file":
        _foreign_file(out)
    elif kind == "dir-with-split":
        _foreign_file(out / "en" / "train.tsv")
    else:
        _foreign_dir(out)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    rc = main(argv.format(out=out, **env).split())
    err = capsys.readouterr().err
    assert rc == 2, (case, err[-1500:])
    after = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before, f"{case} touched {set(after) ^ set(before) or 'a file'}"
    assert "xner did not write" in err or "not written by" in err or "not an xner" in err \
        or "holds no xner" in err, err[-1500:]


INPUT_CASES = [
    ("perturb over its test set", "perturb --data-dir {data} --lang fa --perturbation char_noise "
                                  "--out {data}/fa/test.tsv --overwrite"),
    ("data split into its data folder", "data split --data-dir {data} --lang fa --out {data} --overwrite"),
    ("convert onto its input", "data convert {data}/en/test.tsv {data}/en/test.tsv --overwrite"),
    ("evaluate over its test set", "evaluate --model {onnx} --data-dir {data} --lang en --perturbations char_noise "
                                   "--out {data}/en/test.tsv --overwrite"),
    ("report into the store's folder", "report {store} --out {root} --overwrite"),
    ("results over the store", "results {store} --out {store} --overwrite"),
    # --artifacts is a shared folder (it may hold other things; each model folder in it is claimed on
    # its own), so its case is the input one: never the data folder
    ("sweep --artifacts into its data folder", "sweep demo --data-dir {data} --store {root}/a-store.sqlite "
                                               "--artifacts {data}"),
]


@pytest.mark.parametrize("case,argv", INPUT_CASES, ids=[c for c, _ in INPUT_CASES])
def test_an_input_is_never_written_over_even_with_overwrite(env, capsys, case, argv):
    data = Path(env["data"])
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    store = Path(env["store"]).read_bytes()
    rc = main(argv.format(**env).split())
    err = capsys.readouterr().err
    assert rc == 2 and "input" in err, (case, err[-1500:])
    assert {p: p.read_bytes() for p in data.rglob("*") if p.is_file()} == before
    assert Path(env["store"]).read_bytes() == store
    assert not list(data.rglob("*.stats.json")) and not list(data.rglob("*.log"))


def test_xner_replaces_what_it_wrote_and_only_that(env, tmp_path, capsys):
    out = tmp_path / "p.tsv"
    argv = f"perturb --data-dir {env['data']} --lang en --perturbation char_noise --out {out}".split()
    assert main(argv) == 0
    assert written_by_xner(out)
    assert main([*argv[:-2], "--seed", "1", "--out", str(out)]) == 0  # its own file: replaced
    out.write_text(out.read_text() + "\n# my edit\n")  # the user edits it: now it is the user's
    assert not written_by_xner(out)
    assert main(argv) == 2
    assert main([*argv, "--overwrite"]) == 0


def test_guard_primitives(tmp_path):
    f = _foreign_file(tmp_path / "a.txt")
    with pytest.raises(Exception, match="xner did not write"):
        claim_file(f)
    record_file(f, "test")
    assert claim_file(f) == f.resolve()
    link = tmp_path / "link"
    link.symlink_to(f)
    with pytest.raises(Exception, match="symlink"):
        claim_file(link)
    d = _foreign_dir(tmp_path / "d")
    with pytest.raises(Exception, match="not written by xner"):
        claim_dir(d)
    mark_dir(d, "test")
    assert claim_dir(d) == d.resolve()
    with pytest.raises(Exception, match="inputs"):
        claim_dir(tmp_path, inputs=[f], overwrite=True)


def test_overwrite_never_removes_a_users_checkpoints_folder(env, tmp_path, capsys):
    """Review of 29, F7: train --overwrite into a user's folder removed its checkpoints/ (and the notes in
    it) when the run started and again when it finished."""
    out = tmp_path / "u"
    notes = _foreign_file(out / "checkpoints" / "my-notes.txt")
    argv = f"train --model {env['tiny']} --data-dir {env['data']} --train-langs en --lang en --max-steps 1 " \
           f"--out {out} --overwrite"
    assert main(argv.split()) == 2
    assert notes.read_text(encoding="utf-8") == MINE and "not written by xner" in capsys.readouterr().err
    notes.unlink()
    (out / "checkpoints").rmdir()
    assert main(argv.split()) == 0  # without it, the run goes ahead, and its own checkpoints are removed
    assert not (out / "checkpoints").exists()
