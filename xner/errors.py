"""Errors that the command line turns into one clear message and exit code 2."""

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
