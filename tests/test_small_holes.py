"""Small input holes (Trust III item 17): each gave silent garbage or a wrong exit code before."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from xner.cli import main


@pytest.mark.parametrize("flags,needle", [(["--bootstrap", "-5"], "--bootstrap"), (["--seeds", "0,0"], "twice")])
def test_evaluate_refuses_negative_bootstrap_and_duplicate_seeds(onnx_dir, data_dir, capsys, flags, needle):
    rc = main(["evaluate", "--model", str(onnx_dir), "--data-dir", str(data_dir), "--lang", "en",
               "--perturbations", "char_noise", *flags])
    assert rc == 2 and needle in capsys.readouterr().err


def test_transliterate_with_a_missing_romanizer_creates_nothing(data_dir, tmp_path, capsys):
    pytest.importorskip("uroman")
    try:
        import anyascii  # noqa: F401

        pytest.skip("anyascii is installed here")
    except ImportError:
        pass
    out = tmp_path / "tr"
    assert main(["data", "transliterate", "--data-dir", str(data_dir), "--lang", "ru", "--romanizer", "anyascii",
                 "--out", str(out)]) == 2
    assert "not installed" in capsys.readouterr().err and not out.exists()


def test_broken_pipe_inside_a_command_is_an_error(monkeypatch, capsys):
    import xner.commands as commands

    def boom(args):
        raise BrokenPipeError("a socket closed")

    monkeypatch.setattr(commands, "run_langs", boom)
    from xner.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["langs"])
    assert args.func is not None
    monkeypatch.setattr(parser, "parse_args", lambda argv=None: type(args)(**{**vars(args), "func": boom}))
    monkeypatch.setattr("xner.cli.build_parser", lambda: parser)
    assert main(["langs"]) == 1
    assert "BrokenPipeError" in capsys.readouterr().err


def test_a_reader_that_leaves_early_is_not_an_error():
    """``xner langs --json | head -c 20``: the pipe closes under xner; exit 0, no traceback."""
    r = subprocess.run(f"{sys.executable} -m xner langs --json | head -c 20 > /dev/null; echo ${{PIPESTATUS[0]}}",
                       shell=True, executable="/bin/bash", capture_output=True, text=True, env=dict(os.environ),
                       timeout=120)
    assert r.stdout.strip() == "0" and "Traceback" not in r.stderr, r.stderr
