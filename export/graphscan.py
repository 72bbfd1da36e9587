"""Reading an ONNX file's operator types without loading it: a protobuf walk over the mapped file that
skips the weights by their length (a 700 MB graph is answered in milliseconds)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["has_dynamic_quantization"]

#: operators that compute activation scales from the batch at run time (dynamic quantisation)
_DYNAMIC_OPS = (b"DynamicQuantizeLinear", b"DynamicQuantizeMatMul", b"MatMulInteger", b"DynamicQuantizeLSTM")


def _varint(buf, i: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        if b < 0x80:
            return v, i
        shift += 7


def _fields(buf, start: int, end: int):
    """(field number, start, end) of each length-delimited field of the protobuf message buf[start:end]
    (other wire types are skipped)."""
    i = start
    while i < end:
        key, i = _varint(buf, i)
        wire = key & 7
        if wire == 0:
            _, i = _varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = _varint(buf, i)
            yield key >> 3, i, i + n
            i += n
        else:
            raise ValueError(f"wire type {wire}")


def has_dynamic_quantization(onnx_file: Path) -> bool:
    """Whether the graph holds an operator of dynamic quantisation: the op types of its nodes (ModelProto
    field 7 graph, GraphProto field 1 node, NodeProto field 4 op_type), read from the mapped file
    without touching the weights (initializers are skipped by their length)."""
    import mmap

    try:
        with open(onnx_file, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            for num, a, b in _fields(m, 0, len(m)):
                if num != 7:
                    continue
                for gnum, na, nb in _fields(m, a, b):
                    if gnum == 1:
                        for fnum, oa, ob in _fields(m, na, nb):
                            if fnum == 4 and bytes(m[oa:ob]) in _DYNAMIC_OPS:
                                return True
            return False
    except (OSError, ValueError, IndexError):
        return False
