"""Subcommands ``export``, ``verify``, ``predict`` and ``serve``."""

from __future__ import annotations

import argparse
import sys

from xner.cli import command, emit, logs_to
from xner.console import say
from xner.options import add_console, add_data, add_lang, add_out, add_runtime, add_split, alias


def _data_inputs(args) -> tuple:
    """The data folder the command reads (from --data-dir or $XNER_DATA_DIR): never an output."""
    if not args.lang:
        return ()
    from xner.datadir import open_source

    root = getattr(open_source(args.data_dir, args.repair), "root", None)
    return (str(root),) if root is not None else ()


def _eval_corpus(args):
    if not args.lang:
        return None
    from xner.datadir import open_source
    from xner.splits import load_split

    return load_split(open_source(args.data_dir, args.repair), args.lang, args.split, args.split_scheme,
                      args.split_seed)


def _add_eval(p: argparse.ArgumentParser) -> None:
    add_data(p, help="data folder of the parity check's sentences (default: $XNER_DATA_DIR)")
    add_lang(p, required=False, help="language whose --split the parity check runs on (default: a vocabulary "
             "sample)")
    add_split(p, "test")
    add_runtime(p, default_provider="cpu", help_threads="ONNX Runtime intra-op threads")


def _add_variant(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", help="which graph of the export folder: fp32 (model.onnx), O2, int8, int8-dynamic, int8_O2, fp16, "
                   "... or a file name (default: the one the export made last, as its report says)")


@command
def _export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export to ONNX (optimum or torch.onnx), optimise, quantise, gate",
                       description="Export a PyTorch token-classification model to an ONNX folder, optionally "
                       "optimise (O1-O3), quantise (static or dynamic int8, CPU) or convert to fp16 (GPU), and check every "
                       "result against PyTorch. Fails (exit 2) when a parity threshold is missed, unless --force.")
    p.add_argument("--model", required=True, help="PyTorch model folder")
    add_out(p, help="ONNX folder to write (new, empty, or an earlier xner export)")
    p.add_argument("--exporter", default="auto", choices=["auto", "optimum", "torch"])
    p.add_argument("--optimize", choices=["O1", "O2", "O3"])
    p.add_argument("--quantize", choices=["int8", "int8-dynamic"],
                   help="int8: static QDQ int8 calibrated on the model's training text (answers never depend on "
                   "batch neighbours); int8-dynamic: activation scales per batch (batch-dependent)")
    p.add_argument("--fp16", action="store_true")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--force", action="store_true", help="keep the model even if the parity gate fails "
                   "(recorded in the report; without it a failed candidate goes to OUT.rejected and OUT is untouched)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --out even if it is a non-empty folder that is not an xner export")
    _add_eval(p)
    add_console(p)
    p.set_defaults(func=run_export, **logs_to(lambda a: a.out))


def run_export(args: argparse.Namespace) -> int:
    from .build import export

    r = export(args.model, args.out, args.exporter, args.optimize, args.quantize, args.fp16, _eval_corpus(args),
               args.force, args.opset, args.threads, provider=args.provider, overwrite=args.overwrite,
               inputs=_data_inputs(args))
    for g in r["gates"]:  # gate results stay on the console, even with --quiet
        say(f"gate after {g['after']:<9} {'PASS' if g['passed'] else 'FAIL'}  max|diff| {g['max_abs_diff']:.2e}  "
            f"agreement {g['tag_agreement']:.4f}  F1 {g['f1_reference']:.4f} -> {g['f1_onnx']:.4f} "
            f"({g['against']}, {g['sentences']} sentences)", important=True)
    emit(args, r, f"exported with {r['steps'][0]['exporter']} to {args.out} ({r['onnx_bytes'] / 1e6:.1f} MB)"
         + ("  [FORCED past a failed gate]" if r["forced"] else ""))
    return 0


@command
def _verify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="parity check of an ONNX folder against its PyTorch model",
                       description="Compare an exported ONNX folder (--model, as every command that runs an export "
                       "reads it) with its PyTorch model (--reference; default: the source its export report names): "
                       "max logit difference, tag agreement and F1 change. Exit 3 when the thresholds are missed.")
    p.add_argument("--model", required=True, help="ONNX folder from xner export")
    p.add_argument("--reference", default=None,
                   help="PyTorch model folder to compare with (default: the export report's source_model)")
    alias(p, "--onnx", dest="legacy_onnx")  # old form: --model PYTORCH --onnx ONNX
    p.add_argument("--kind", default="exact", choices=["exact", "approximate"],
                   help="exact: logits within 1e-4; approximate (int8/fp16): agreement >= 0.99, F1 change <= 1 point")
    _add_variant(p)
    _add_eval(p)
    add_console(p)
    p.set_defaults(func=run_verify)


def _reference(onnx_dir: str) -> str:
    import json
    from pathlib import Path

    from xner.errors import XnerError

    from .folders import REPORT

    try:
        src = json.loads((Path(onnx_dir) / REPORT).read_text(encoding="utf-8")).get("source_model")
    except (OSError, ValueError):
        src = None
    if not src or not Path(src).exists():
        raise XnerError(f"{onnx_dir}: its export report names no PyTorch model that exists here"
                        f"{f' ({src})' if src else ''}; give --reference PYTORCH_FOLDER")
    return src


def run_verify(args: argparse.Namespace) -> int:
    from .parity import check

    onnx, ref = args.model, args.reference
    if getattr(args, "legacy_onnx", None):  # xner verify --model PYTORCH --onnx ONNX (old names)
        onnx, ref = args.legacy_onnx, args.reference or args.model
    p = check(ref or _reference(onnx), onnx, _eval_corpus(args), args.kind, args.provider, args.threads,
              file_name=args.variant)
    say(f"{'PASS' if p.passed else 'FAIL'} ({p.kind}): {p.summary()}", important=True)
    emit(args, p.to_json())
    return 0 if p.passed else 3


@command
def _predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="tag text with an exported model",
                       description="Tag raw text (--text, or one text per line of --input or stdin '-'), or a "
                       "corpus file (--input with --format conll writes token/tag lines).")
    p.add_argument("--model", required=True, help="ONNX folder from xner export")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text")
    src.add_argument("--input", help="file of texts, one per line, or a corpus file (tsv/conll/jsonl); '-' = stdin")
    p.add_argument("--format", default="json", choices=["json", "conll"],
                   help="json: one JSON object per line (JSON Lines, default); conll: token/tag lines")
    add_runtime(p)
    _add_variant(p)
    add_console(p)
    p.set_defaults(func=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from .predict import predict

    predict(args.model, sys.stdout, text=args.text, input=args.input, fmt="array" if args.json else args.format,
            provider=args.provider, threads=args.threads, variant=args.variant)
    return 0


@command
def _serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="HTTP service: /predict (batched), /health, /metadata",
                       description="Serve an exported model over HTTP (FastAPI + uvicorn).")
    p.add_argument("--model", required=True, help="ONNX folder from xner export")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    add_runtime(p)
    p.add_argument("--max-body", type=int, default=1_000_000, help="largest request body in bytes")
    p.add_argument("--cache-words", type=int, default=200_000,
                   help="distinct words the encoder caches before it starts afresh (bounds memory)")
    _add_variant(p)
    p.add_argument("--api-key", default=None,
                   help="require this key on /predict and /metadata ('Authorization: Bearer KEY' or 'X-API-Key: "
                   "KEY'; default: $XNER_API_KEY when set, else none); an empty key is an error")
    p.add_argument("--batch-tokens", type=int, default=8192, help="words per model call across requests")
    p.add_argument("--batch-wait-ms", type=float, default=5.0,
                   help="longest wait for more requests to join a model call (default 5 ms)")
    p.add_argument("--max-queue", type=int, default=1024, help="waiting requests before 503 (default 1024)")
    p.add_argument("--allow-batch-dependent", action="store_true",
                   help="serve a dynamically quantised variant anyway (its answers depend on the requests batched "
                   "with them; refused by default)")
    p.add_argument("--request-timeout", type=float, default=60.0,
                   help="longest a request waits for its answer before 504 (seconds, default 60)")
    p.add_argument("--full-metadata", action="store_true",
                   help="/metadata also shows local paths, the export's command line and host (off by default)")
    add_console(p, json=False)
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import os

    from xner.errors import XnerError

    from .server import check_api_key, serve

    if args.batch_tokens < 1 or args.batch_wait_ms < 0 or args.max_queue < 1:
        raise XnerError("--batch-tokens and --max-queue must be at least 1, --batch-wait-ms at least 0")
    if args.max_body < 1:
        raise XnerError(f"--max-body must be at least 1 byte, got {args.max_body}")
    if not args.request_timeout > 0:
        raise XnerError(f"--request-timeout must be positive, got {args.request_timeout}")
    # --api-key "" (an unset variable) and an empty $XNER_API_KEY are errors, not "no authentication"
    key = args.api_key if args.api_key is not None else os.environ.get("XNER_API_KEY")
    serve(args.model, args.host, args.port, args.provider, args.threads, args.max_body, args.cache_words,
          args.full_metadata, args.variant, check_api_key(key), args.batch_tokens,
          args.batch_wait_ms, args.max_queue, args.request_timeout, args.allow_batch_dependent)
    return 0



