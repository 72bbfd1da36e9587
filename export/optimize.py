"""Graph optimisation (O1-O3), dynamic int8 quantisation and fp16 conversion of an exported model.

All three rewrite ``model.onnx`` in place; the parity gate then checks the result.  They use
onnxruntime's own tools (which optimum's ORTOptimizer/ORTQuantizer wrap), so they work with either
exporter.  Int8 is *dynamic* and limited to MatMul/Gemm: static int8 of LayerNorm/GELU/Softmax is
known to collapse token-classification F1.  After O2/O3, fused Attention ops are quantised too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from xner.errors import XnerError

LEVELS = ("O1", "O2", "O3")


def _replace(path: Path, new: Path) -> None:
    os.replace(new, path)
    data = new.with_name(new.name + ".data")
    if data.exists():
        os.replace(data, path.with_name(path.name + ".data"))


def optimize(onnx_path: Path, level: str = "O2") -> dict:
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    if level not in LEVELS:
        raise XnerError(f"unknown optimisation level {level!r}; choose O1, O2 or O3")
    cfg = json.loads((onnx_path.parent / "config.json").read_text())
    opts = FusionOptions("bert")
    if level == "O3":
        opts.enable_gelu_approximation = True
    m = optimize_model(str(onnx_path), model_type="bert", num_heads=cfg.get("num_attention_heads", 0),
                       hidden_size=cfg.get("hidden_size", 0), optimization_options=opts,
                       opt_level=1 if level == "O1" else 2 if level == "O2" else 99,
                       only_onnxruntime=level == "O1")
    tmp = onnx_path.with_name("model.opt.onnx")
    m.save_model_to_file(str(tmp))
    _replace(onnx_path, tmp)
    return {"level": level, "fused_operators": m.get_fused_operator_statistics()}


def quantize_int8(onnx_path: Path) -> dict:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = onnx_path.with_name("model.int8.onnx")
    # after O2/O3 the Q/K/V projections live inside fused Attention ops: quantise those too (QAttention);
    # fused contrib ops defeat ONNX shape inference, and their outputs are float32
    ops = ["MatMul", "Gemm"]
    if any(n.op_type == "Attention" for n in onnx.load(str(onnx_path), load_external_data=False).graph.node):
        ops.append("Attention")
    quantize_dynamic(str(onnx_path), str(tmp), weight_type=QuantType.QInt8, op_types_to_quantize=ops,
                     per_channel=False, reduce_range=False,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    _replace(onnx_path, tmp)
    return {"type": "dynamic", "weights": "int8", "ops": ops}


def to_fp16(onnx_path: Path) -> dict:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(onnx_path))
    # keep float32 inputs/outputs and numerically sensitive ops in float32
    block = ["LayerNormalization", "SkipLayerNormalization", "Softmax", "Pow", "ReduceMean", "Erf"]
    m16 = convert_float_to_float16(model, keep_io_types=True, op_block_list=block)
    tmp = onnx_path.with_name("model.fp16.onnx")
    onnx.save(m16, str(tmp))
    _replace(onnx_path, tmp)
    return {"dtype": "float16", "kept_float32": block}
