"""ONNX export: Hugging Face optimum (optimum-onnx) or ``torch.onnx``, behind one function.

The result is a folder that optimum's ``ORTModelForTokenClassification`` and xner's ``Runtime``
load: ``model.onnx``, ``config.json`` (with id2label) and the tokenizer files.  optimum-onnx pins
transformers < 4.58, so the ``torch`` exporter keeps xner working without it.
"""

from __future__ import annotations

from pathlib import Path

from xner.errors import XnerError
from xner.families import family

EXPORTERS = ("auto", "optimum", "torch")


def optimum_available() -> bool:
    try:
        import optimum.exporters.onnx  # noqa: F401
    except Exception:  # ImportError, or optimum failing against another transformers
        return False
    return True


def model_inputs(model_type: str) -> tuple[str, ...]:
    """The graph inputs of a model family (its registered spec, :mod:`xner.families`)."""
    return family(model_type).inputs


def export_optimum(model_dir: str, out: Path, opset: int = 18) -> Path:
    from optimum.exporters.onnx import main_export

    main_export(model_name_or_path=str(model_dir), output=str(out), task="token-classification", opset=opset,
                device="cpu", do_validation=False)
    if not (out / "model.onnx").exists():
        raise XnerError(f"optimum wrote no model.onnx into {out}")
    return out / "model.onnx"


def export_torch(model_dir: str, out: Path, opset: int = 18) -> Path:
    import torch

    from xner.hf import load_model, load_tokenizer

    # eager attention: the graph onnxruntime's optimiser fuses into Attention (SDPA, the default of
    # transformers 5, exports to a pattern it does not recognise)
    model = load_model(str(model_dir), attn_implementation="eager").eval()
    tok = load_tokenizer(str(model_dir))
    names = model_inputs(model.config.model_type)

    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kw = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
            return self.m(input_ids=input_ids, attention_mask=attention_mask, **kw).logits

    ids = torch.randint(5, min(100, model.config.vocab_size), (2, 16))
    args = [ids, torch.ones_like(ids)] + ([torch.zeros_like(ids)] if "token_type_ids" in names else [])
    dyn = {n: {0: "batch_size", 1: "sequence_length"} for n in names}
    dyn["logits"] = {0: "batch_size", 1: "sequence_length"}
    path = out / "model.onnx"
    with torch.no_grad():
        torch.onnx.export(Wrapper(model), tuple(args), str(path), input_names=list(names), output_names=["logits"],
                          dynamic_axes=dyn, opset_version=opset, dynamo=False)
    model.config.save_pretrained(out)
    from xner.hf import save_tokenizer

    save_tokenizer(tok, out)
    return path


HIDDEN = "last_hidden_state"


def add_hidden_output(onnx_path: Path) -> bool:
    """Expose the classifier's input (the encoder's last hidden state) as a second graph output.

    The robustness engine uses it for word vectors (context swap).  ``logits`` stays the first
    output, so loaders that read only it are unaffected.  Returns False if the head is not the
    usual ``Add(MatMul(hidden, W), b)``.
    """
    import onnx

    model = onnx.load(str(onnx_path))
    g = model.graph
    if any(o.name == HIDDEN for o in g.output):
        return True
    producer = {o: n for n in g.node for o in n.output}
    node = producer.get(g.output[0].name)
    hidden = None
    weights = {i.name for i in g.initializer}
    for _ in range(4):  # logits <- Add(bias, MatMul(hidden, W))
        if node is None:
            break
        if node.op_type == "MatMul":
            hidden = next((x for x in node.input if x not in weights), None)
            break
        node = next((producer[x] for x in node.input if x in producer), None)
    if hidden is None:
        return False
    ident = onnx.helper.make_node("Identity", [hidden], [HIDDEN], name="xner_hidden_output")
    g.node.append(ident)
    g.output.append(onnx.helper.make_tensor_value_info(HIDDEN, onnx.TensorProto.FLOAT,
                                                       ["batch_size", "sequence_length", None]))
    onnx.save(model, str(onnx_path))
    return True


def export_model(model_dir: str, out: str | Path, exporter: str = "auto", opset: int = 18) -> tuple[Path, str]:
    """Export a PyTorch token-classification model folder; returns (model.onnx path, exporter used)."""
    if exporter not in EXPORTERS:
        raise XnerError(f"unknown exporter {exporter!r}; choose {', '.join(EXPORTERS)}")
    if not Path(model_dir).exists():
        raise XnerError(f"model folder not found: {model_dir}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise XnerError(f"{out} is not empty: export_model writes into a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    if exporter == "auto":
        exporter = "optimum" if optimum_available() else "torch"
    if exporter == "optimum" and not optimum_available():
        raise XnerError("optimum-onnx is not importable here; use --exporter torch")
    path = export_optimum(model_dir, out, opset) if exporter == "optimum" else export_torch(model_dir, out, opset)
    add_hidden_output(path)
    return path, exporter
