"""The ``xner`` program leaves with ``os._exit`` after its command: what the ordinary exit would have
done that matters (flushed output, atexit handlers, the exit code, running threads) still happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# a module-level object whose finaliser runs only in the interpreter's teardown: it tells whether the
# program skipped the teardown (the point of the quick exit) or went through it
PROGRAM = r"""
import atexit, sys, threading, time
from pathlib import Path
out = Path(sys.argv[1])

class Teardown:
    def __del__(self, path=str(out / "teardown"), opener=open):
        with opener(path, "w") as f:
            f.write("ran")

keep = Teardown()
atexit.register(lambda: (out / "atexit").write_text("ran"))
if sys.argv[2] == "thread":
    def late():
        time.sleep(0.5)
        (out / "thread").write_text("done")
    threading.Thread(target=late).start()
sys.argv = ["xner", *sys.argv[3:]]
from xner.cli import entry
entry()
"""


def _run(tmp_path: Path, mode: str, *argv: str, **env: str) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if k != "XNER_FULL_EXIT"}
    e.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-c", PROGRAM, str(tmp_path), mode, *argv], capture_output=True,
                          text=True, env=e, timeout=120)


def test_quick_exit_keeps_output_atexit_and_code_and_skips_teardown(tmp_path):
    p = _run(tmp_path, "plain", "env", "--json")
    assert p.returncode == 0, p.stderr
    assert "python" in json.loads(p.stdout)  # the whole JSON document arrived through the pipe
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not (tmp_path / "teardown").exists()  # the teardown was skipped


def test_full_exit_on_request_runs_the_teardown(tmp_path):
    p = _run(tmp_path, "plain", "env", "--json", XNER_FULL_EXIT="1")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "teardown").read_text() == "ran"


def test_exit_code_of_a_failed_command_survives_the_quick_exit(tmp_path):
    p = _run(tmp_path, "plain", "evaluate", "--model", str(tmp_path / "absent"), "--data-dir", str(tmp_path),
             "--lang", "xx")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "xner: error:" in p.stderr
    assert (tmp_path / "atexit").read_text() == "ran"


def test_a_running_thread_is_waited_for(tmp_path):
    p = _run(tmp_path, "thread", "env", "--json")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "thread").read_text() == "done"  # the ordinary exit waited for it


def test_python_m_xner_uses_the_quick_exit():
    text = (ROOT / "xner" / "__main__.py").read_text(encoding="utf-8")
    assert "entry()" in text
    toml = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'xner = "xner.cli:entry"' in toml
