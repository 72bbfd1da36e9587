"""The one progress display of a training run on xner's console (:mod:`xner.console`).

While a command's library output is captured, the Trainer's own bars are off; this callback shows
steps, loss and time left instead.  Inside a sweep, whose display already counts models, it only
names the stage."""

from __future__ import annotations

from xner import console

__all__ = ["ConsoleProgress", "with_console"]


class ConsoleProgress:  # a transformers.TrainerCallback (duck-typed: importing this module needs no transformers)
    def __init__(self, desc: str):
        self.desc = desc
        self.bar: console.Progress | None = None
        self.nested = False

    def on_train_begin(self, args, state, control, **kw):
        self.nested = console.active() is not None
        if not self.nested:
            self.bar = console.progress(state.max_steps, self.desc, "step", initial=state.global_step)

    def on_step_end(self, args, state, control, **kw):
        if self.bar is not None:
            self.bar.advance(state.global_step - self.bar.done)

    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            text = f"{self.desc} step {state.global_step}/{state.max_steps} loss {float(logs['loss']):.3f}"
            if self.bar is not None:
                self.bar.stage(f"loss {float(logs['loss']):.3f}")
            elif self.nested:
                console.stage(text)

    def on_train_end(self, args, state, control, **kw):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __getattr__(self, name: str):  # every other Trainer event: nothing to do
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)


def with_console(callbacks: list | None, desc: str) -> list:
    """``callbacks`` plus the console's progress display when xner captures library output."""
    out = list(callbacks or [])
    if console.is_captured():
        out.append(ConsoleProgress(desc))
    return out
