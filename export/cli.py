"""Subcommands ``export``, ``verify``, ``predict`` and ``serve``."""

from __future__ import annotations

import argparse
import sys

from xner.cli import command, print_json


def _eval_corpus(args):
    if not args.eval_lang:
        return None
    from xner.datadir import open_source
    from xner.splits import load_split

    return load_split(open_source(args.eval_data, args.repair), args.eval_lang, args.eval_split, args.split_scheme,
                      args.split_seed)


def _add_eval(p: argparse.ArgumentParser) -> None:
    p.add_argument("--eval-data", help="data folder for the parity check (default: $XNER_DATA_DIR)")
    p.add_argument("--eval-lang", help="language whose split the parity check runs on (default: vocabulary sample)")
    p.add_argument("--eval-split", default="test")
    p.add_argument("--split-scheme", default="standard", choices=["standard", "study"],
                   help="standard files, or the study's pooled, capped, seeded 80/20 split (as train used)")
    p.add_argument("--split-seed", type=int, default=42, help="seed of the study split (default 42)")
    p.add_argument("--repair", default="conlleval", choices=["conlleval", "drop", "error", "keep"])
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")


def _add_variant(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", help="which graph of the export folder: fp32 (model.onnx), O2, int8, O2_int8, fp16, "
                   "... or a file name (default: the one the export made last, as its report says)")


@command
def _export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export to ONNX (optimum or torch.onnx), optimise, quantise, gate",
                       description="Export a PyTorch token-classification model to an ONNX folder, optionally "
                       "optimise (O1-O3), quantise (dynamic int8, CPU) or convert to fp16 (GPU), and check every "
                       "result against PyTorch. Fails (exit 2) when a parity threshold is missed, unless --force.")
    p.add_argument("--model", required=True, help="PyTorch model folder")
    p.add_argument("--out", required=True)
    p.add_argument("--exporter", default="auto", choices=["auto", "optimum", "torch"])
    p.add_argument("--optimize", choices=["O1", "O2", "O3"])
    p.add_argument("--quantize", choices=["int8"])
    p.add_argument("--fp16", action="store_true")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--force", action="store_true", help="keep the model even if the parity gate fails "
                   "(recorded in the report; without it a failed candidate goes to OUT.rejected and OUT is untouched)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --out even if it is a non-empty folder that is not an xner export")
    _add_eval(p)
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    from .build import export

    r = export(args.model, args.out, args.exporter, args.optimize, args.quantize, args.fp16, _eval_corpus(args),
               args.force, args.opset, args.threads, overwrite=args.overwrite)
    for g in r["gates"]:
        print(f"gate after {g['after']:<9} {'PASS' if g['passed'] else 'FAIL'}  max|diff| {g['max_abs_diff']:.2e}  "
              f"agreement {g['tag_agreement']:.4f}  F1 {g['f1_reference']:.4f} -> {g['f1_onnx']:.4f} "
              f"({g['against']}, {g['sentences']} sentences)")
    print(f"exported with {r['steps'][0]['exporter']} to {args.out} ({r['onnx_bytes'] / 1e6:.1f} MB)"
          + ("  [FORCED past a failed gate]" if r["forced"] else ""))
    return 0


@command
def _verify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="parity check of an ONNX folder against its PyTorch model",
                       description="Compare an exported ONNX folder with a PyTorch model: max logit difference, "
                       "tag agreement and F1 change. Exit 2 when the chosen thresholds are missed.")
    p.add_argument("--model", required=True, help="PyTorch model folder")
    p.add_argument("--onnx", required=True, help="ONNX folder")
    p.add_argument("--kind", default="exact", choices=["exact", "approximate"],
                   help="exact: logits within 1e-4; approximate (int8/fp16): agreement >= 0.99, F1 change <= 1 point")
    p.add_argument("--json", action="store_true")
    _add_variant(p)
    _add_eval(p)
    p.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from .parity import check

    p = check(args.model, args.onnx, _eval_corpus(args), args.kind, "cpu", args.threads, file_name=args.variant)
    if args.json:
        print_json(p.to_json())
    else:
        print(f"{'PASS' if p.passed else 'FAIL'} ({p.kind}): {p.summary()}")
    return 0 if p.passed else 2


@command
def _predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="tag text with an exported model",
                       description="Tag raw text (--text, or one text per line of --input or stdin '-'), or a "
                       "corpus file (--input with --format conll writes token/tag lines).")
    p.add_argument("--model", required=True, help="ONNX folder from xner export")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text")
    src.add_argument("--input", help="file of texts, one per line, or a corpus file (tsv/conll/jsonl); '-' = stdin")
    p.add_argument("--format", default="json", choices=["json", "conll"])
    p.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda", "tensorrt"])
    p.add_argument("--threads", type=int)
    _add_variant(p)
    p.set_defaults(func=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from .predict import predict

    predict(args.model, sys.stdout, text=args.text, input=args.input, fmt=args.format, provider=args.provider,
            threads=args.threads, variant=args.variant)
    return 0


@command
def _serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="HTTP service: /predict (batched), /health, /metadata",
                       description="Serve an exported model over HTTP (FastAPI + uvicorn).")
    p.add_argument("--model", required=True, help="ONNX folder from xner export")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda", "tensorrt"])
    p.add_argument("--threads", type=int)
    p.add_argument("--max-body", type=int, default=1_000_000, help="largest request body in bytes")
    p.add_argument("--cache-words", type=int, default=200_000,
                   help="distinct words the encoder caches before it starts afresh (bounds memory)")
    _add_variant(p)
    p.add_argument("--api-key", default=None,
                   help="require this key on /predict ('Authorization: Bearer KEY' or 'X-API-Key: KEY'; default: "
                   "$XNER_API_KEY, else none)")
    p.add_argument("--batch-tokens", type=int, default=8192, help="words per model call across requests")
    p.add_argument("--batch-wait-ms", type=float, default=5.0,
                   help="longest wait for more requests to join a model call (default 5 ms)")
    p.add_argument("--max-queue", type=int, default=1024, help="waiting requests before 503 (default 1024)")
    p.add_argument("--full-metadata", action="store_true",
                   help="/metadata also shows local paths, the export's command line and host (off by default)")
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import os

    from xner.errors import XnerError

    from .server import serve

    if args.batch_tokens < 1 or args.batch_wait_ms < 0 or args.max_queue < 1:
        raise XnerError("--batch-tokens and --max-queue must be at least 1, --batch-wait-ms at least 0")
    serve(args.model, args.host, args.port, args.provider, args.threads, args.max_body, args.cache_words,
          args.full_metadata, args.variant, args.api_key or os.environ.get("XNER_API_KEY"), args.batch_tokens,
          args.batch_wait_ms, args.max_queue)
    return 0



