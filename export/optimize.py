"""Graph optimisation (O1-O3), dynamic int8 quantisation and fp16 conversion of an exported model.

Each reads one graph and writes a new one beside it (``model.onnx`` -> ``model_O2.onnx`` ->
``model_O2_int8.onnx``); the parity gate then checks each variant.  They use onnxruntime's own
tools (which optimum's ORTOptimizer/ORTQuantizer wrap), so they work with either exporter.  Int8
is *dynamic* and limited to MatMul/Gemm: static int8 of LayerNorm/GELU/Softmax is known to
collapse token-classification F1.  After O2/O3, fused Attention ops are quantised too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from xner.errors import XnerError
from xner.families import family

LEVELS = ("O1", "O2", "O3")


def publish_graph(tmp: Path, dst: Path) -> None:
    """Rename a finished graph (and its external data, if any) into place."""
    os.replace(tmp, dst)
    data = tmp.with_name(tmp.name + ".data")
    if data.exists():
        os.replace(data, dst.with_name(dst.name + ".data"))


def staging_path(dst: Path) -> Path:
    return dst.with_name(f".{dst.stem}.tmp.onnx")


def optimize(src: Path, dst: Path, level: str = "O2") -> dict:
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    if level not in LEVELS:
        raise XnerError(f"unknown optimisation level {level!r}; choose O1, O2 or O3")
    cfg = json.loads((src.parent / "config.json").read_text())
    kind = family(cfg.get("model_type")).optimizer_type
    opts = FusionOptions(kind)
    if level == "O3":
        opts.enable_gelu_approximation = True
    m = optimize_model(str(src), model_type=kind, num_heads=cfg.get("num_attention_heads", 0),
                       hidden_size=cfg.get("hidden_size", 0), optimization_options=opts,
                       opt_level=1 if level == "O1" else 2 if level == "O2" else 99,
                       only_onnxruntime=level == "O1")
    m.save_model_to_file(str(staging_path(dst)))
    publish_graph(staging_path(dst), dst)
    return {"level": level, "fused_operators": m.get_fused_operator_statistics()}


def quantize_int8(src: Path, dst: Path) -> dict:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # after O2/O3 the Q/K/V projections live inside fused Attention ops: quantise those too (QAttention);
    # fused contrib ops defeat ONNX shape inference, and their outputs are float32
    ops = ["MatMul", "Gemm"]
    if any(n.op_type == "Attention" for n in onnx.load(str(src), load_external_data=False).graph.node):
        ops.append("Attention")
    quantize_dynamic(str(src), str(staging_path(dst)), weight_type=QuantType.QInt8, op_types_to_quantize=ops,
                     per_channel=False, reduce_range=False,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    publish_graph(staging_path(dst), dst)
    return {"type": "dynamic", "weights": "int8", "ops": ops}


def to_fp16(src: Path, dst: Path) -> dict:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    # keep float32 inputs/outputs and numerically sensitive ops in float32
    block = ["LayerNormalization", "SkipLayerNormalization", "Softmax", "Pow", "ReduceMean", "Erf"]
    m16 = convert_float_to_float16(model, keep_io_types=True, op_block_list=block)
    onnx.save(m16, str(staging_path(dst)))
    publish_graph(staging_path(dst), dst)
    return {"dtype": "float16", "kept_float32": block}
