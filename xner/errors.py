"""Errors that the command line turns into one clear message and an exit code (2 bad input, 3 gate
failed, 4 required benchmark ratio not met; see :data:`xner.options.EXIT_CODES`)."""

from __future__ import annotations


class XnerError(Exception):
    """A user-facing error: bad input, missing files, failed gates. Never a bug."""

    exit_code = 2


class InputError(XnerError):
    """Bad input data, located by file and line where possible."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")


class GateError(XnerError):
    """A quality gate failed (ONNX parity after export, optimisation, quantisation)."""

    exit_code = 3


class RatioError(XnerError):
    """A benchmark's required speed-up ratio was not met."""

    exit_code = 4
