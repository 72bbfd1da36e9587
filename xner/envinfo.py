"""``xner env``: what this installation runs on, for bug reports and for reading benchmark numbers.

Versions of xner and its stack, the onnxruntime build, the execution providers it lists *and the one
a session really runs* (a one-node graph is run on each requested provider: onnxruntime-gpu lists CUDA
where it cannot load it), threads, the CPU features int8 inference depends on (AVX2, AVX-512, VNNI,
AMX), CUDA devices, the data folder commands use (``--data-dir``, else ``$XNER_DATA_DIR``; other
folders found are listed as not used unless passed), and whether the Hugging Face hub answers."""

from __future__ import annotations

import base64
import importlib.metadata as md
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

__all__ = ["collect", "render"]

#: distributions whose versions a bug report needs
STACK = ("numpy", "numba", "llvmlite", "tokenizers", "onnxruntime", "onnxruntime-gpu", "onnx", "torch",
         "transformers", "accelerate", "datasets", "safetensors", "huggingface-hub", "optimum", "optimum-onnx",
         "fastapi", "uvicorn", "scipy", "ray", "seqeval")
#: /proc/cpuinfo flags that decide the int8 kernels onnxruntime picks
CPU_FLAGS = {"avx2": "AVX2", "fma": "FMA", "avx512f": "AVX-512F", "avx512bw": "AVX-512BW",
             "avx512_vnni": "AVX-512 VNNI", "avx_vnni": "AVX-VNNI", "amx_int8": "AMX-INT8", "amx_bf16": "AMX-BF16"}


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _cpu() -> dict:
    flags: set[str] = set()
    model = platform.processor() or None
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
            elif line.startswith("model name") and model in (None, "", "x86_64"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {"model": model, "machine": platform.machine(), "cores": os.cpu_count(), "usable_cores": usable,
            "int8_features": {name: flag in flags for flag, name in CPU_FLAGS.items()} if flags else None}


#: a one-node graph (Identity, float[1] -> float[1], opset 13, IR 8) serialised once with onnx, so the
#: probe needs only onnxruntime (the ``serve`` install has no onnx package)
PROBE_MODEL = base64.b64decode("CAg6OwoQCgF4EgF5IghJZGVudGl0eRIFcHJvYmVaDwoBeBIKCggIARIECgIIAWIPCgF5EgoKCAgBEgQKAggBQgQKABAN")


def _placement(ort, providers: list[str]) -> str:
    """Open a session on ``providers``, run the probe with profiling on, and return the provider the
    profile says the node ran on (``get_providers()`` lists what was registered, not where it ran)."""
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="xner-env-") as tmp:
        so = ort.SessionOptions()
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(tmp) / "probe")
        so.log_severity_level = 3
        sess = ort.InferenceSession(PROBE_MODEL, so, providers=providers)
        sess.run(None, {"x": np.zeros(1, np.float32)})
        events = json.loads(Path(sess.end_profiling()).read_text(encoding="utf-8"))
    ran = sorted({e["args"]["provider"] for e in events
                  if e.get("cat") == "Node" and isinstance(e.get("args"), dict) and e["args"].get("provider")})
    return ", ".join(ran) if ran else "no node event in the profile"


def _onnxruntime() -> dict:
    try:
        import onnxruntime as ort
    except ImportError:
        return {"installed": False, "hint": "pip install '.[cpu]' (or '.[gpu]' on a CUDA machine)"}
    from .providers import choose_providers

    build = "onnxruntime-gpu" if _version("onnxruntime-gpu") else "onnxruntime" if _version("onnxruntime") else "?"
    out = {"installed": True, "version": ort.__version__, "build": build, "device": ort.get_device(),
           "available_providers": ort.get_available_providers(), "runs": {}}
    for prov in out["available_providers"]:
        try:
            out["runs"][prov] = _placement(ort, [prov])
        except Exception as e:  # a provider listed but not loadable (no CUDA libraries, no GPU)
            out["runs"][prov] = f"fails: {str(e).splitlines()[0][:160]}"
    auto = choose_providers("auto", out["available_providers"])
    try:
        ran = _placement(ort, auto)
    except Exception as e:
        ran = f"fails: {str(e).splitlines()[0][:160]}"
    out["xner_auto"] = {"asks_for": auto, "runs": ran}
    return out


def _cuda() -> dict:
    out: dict = {"torch": None, "devices": []}
    if _version("torch") is None:
        out["torch"] = "not installed"
        return out
    try:
        import torch

        out["torch"] = {"version": torch.__version__, "cuda_build": torch.version.cuda,
                        "cuda_available": torch.cuda.is_available()}
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                out["devices"].append({"index": i, "name": p.name, "memory_gib": round(p.total_memory / 2 ** 30, 1)})
    except Exception as e:
        out["torch"] = f"failed to import: {e}"
    return out


def _threads() -> dict:
    keys = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS", "TOKENIZERS_PARALLELISM")
    from .threads import omp_threads

    try:
        default = omp_threads()
    except Exception as e:
        default = f"invalid: {e}"
    return {"environment": {k: os.environ.get(k) for k in keys}, "xner_default": default}


def _data_dir(data_dir: str | None) -> dict:
    """The folder commands read (``--data-dir``, else ``$XNER_DATA_DIR``: :mod:`xner.datadir`), and
    usual places that hold data but are used only when passed."""
    from .datadir import ENV

    cands = [("--data-dir", data_dir, True), (f"${ENV}", os.environ.get(ENV), True),
             ("./data", "data", False), ("../shared/data/wikiann", "../shared/data/wikiann", False)]
    out = []
    for source, path, used in cands:
        if not path:
            continue
        p = Path(path)
        langs = sorted(d.name for d in p.iterdir() if d.is_dir() and any(d.glob("train.*"))) if p.is_dir() else []
        out.append({"from": source, "path": str(p.resolve()), "exists": p.is_dir(), "languages": len(langs),
                    "examples": langs[:8], "used": used})
    found = next((c for c in out if c["used"]), None)  # the first one given is what commands read
    return {"found": found["path"] if found and found["exists"] and found["languages"] else None,
            "given": found["path"] if found else None, "checked": out}


def collect(data_dir: str | None = None, hub: bool = True) -> dict:
    from . import __version__
    from .hub import hub_reachable

    return {
        "xner": __version__, "python": sys.version.split()[0], "executable": sys.executable,
        "platform": platform.platform(), "cpu": _cpu(), "threads": _threads(),
        "packages": {d: _version(d) for d in STACK if _version(d)},
        "onnxruntime": _onnxruntime(), "cuda": _cuda(), "data": _data_dir(data_dir),
        "hub": {"offline": os.environ.get("HF_HUB_OFFLINE") == "1",
                "reachable": hub_reachable() if hub else "not checked (--no-hub)"},
    }


def render(d: dict) -> str:
    cpu = d["cpu"]
    feats = cpu.get("int8_features") or {}
    ort = d["onnxruntime"]
    lines = [f"xner {d['xner']} on Python {d['python']} ({d['platform']})",
             f"cpu: {cpu.get('model')} ({cpu['machine']}), {cpu['usable_cores']} of {cpu['cores']} cores usable",
             "int8 features: " + (", ".join(f"{k} {'yes' if v else 'no'}" for k, v in feats.items()) or "unknown"),
             f"threads: xner default {d['threads']['xner_default']}; "
             + ", ".join(f"{k}={v}" for k, v in d["threads"]["environment"].items() if v is not None)]
    if ort.get("installed"):
        runs = ort["runs"] if isinstance(ort["runs"], str) else \
            "; ".join(f"{k} -> {v}" for k, v in ort["runs"].items())
        lines += [f"onnxruntime {ort['version']} ({ort['build']}, device {ort['device']})",
                  f"  providers listed: {', '.join(ort['available_providers'])}",
                  f"  a session asking for one provider runs on: {runs}",
                  f"  xner's --provider auto asks for {', '.join(ort['xner_auto']['asks_for'])} and runs on "
                  f"{ort['xner_auto']['runs']}"]
    else:
        lines.append(f"onnxruntime: not installed ({ort['hint']})")
    cu = d["cuda"]
    tv = cu["torch"]
    lines.append("torch: " + (tv if isinstance(tv, str) else
                              f"{tv['version']} (CUDA build {tv['cuda_build']}, available {tv['cuda_available']})"))
    for dev in cu["devices"]:
        lines.append(f"  cuda:{dev['index']} {dev['name']} {dev['memory_gib']} GiB")
    lines.append("packages: " + ", ".join(f"{k} {v}" for k, v in d["packages"].items()))
    data = d["data"]
    if data["found"]:
        head = data["found"]
    elif data.get("given"):
        head = f"{data['given']} (given, but holds no language folder with a train file)"
    else:
        head = "none given (commands read the Hugging Face hub; pass --data-dir or set XNER_DATA_DIR)"

    def _line(c):
        state = f"{c['languages']} languages" if c["exists"] else "missing"
        return f"\n  {c['from']}: {c['path']} ({state}" + ("" if c["used"] else "; not used unless passed") + ")"

    lines.append(f"data folder: {head}" + "".join(_line(c) for c in data["checked"]))
    hub = d["hub"]
    lines.append(f"hub: {'reachable' if hub['reachable'] is True else 'not reachable' if hub['reachable'] is False else hub['reachable']}"
                 + (" (HF_HUB_OFFLINE=1)" if hub["offline"] else ""))
    return "\n".join(lines)
