"""One ONNX Runtime session over an exported folder, fed by the cached word encoder.

Providers are chosen automatically (TensorRT, then CUDA, then CPU) or by name, and the provider
that really runs is read back from the session: onnxruntime-gpu lists CUDA as available even where
it cannot load it, then silently runs on the CPU.  Batches are length-bucketed under a token
budget; IO binding is used on CUDA.

On a CPU, ``parallel="batches"`` (bulk work: ``evaluate``) runs one batch per thread, each on one
onnxruntime thread, instead of splitting every operator of one batch across the threads
(``parallel="ops"``, the default: one request at a time, as in ``serve`` and ``predict --text``, needs
every thread on its one batch).  A batch's numbers do not depend on the thread that runs it.  The CPU
session leaves out onnxruntime's SkipLayerNormalization fusion: its CPU kernel took about 9x the time
of the LayerNormalization plus Add it replaces on a bert-base-sized int8 graph.  (The float32 graphs
torch exports give that fusion no match; a graph optimised with ``--optimize O2``/``O3`` has the fused
operator written into the file by onnxruntime's transformer optimiser, which this does not undo.)
The CPU settings follow the provider that really runs: a GPU that did not load gets them too.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from xner.corpus import Corpus
from xner.encode import Encoded, WordEncoder, gather_first
from xner.errors import XnerError
from xner.families import family
from xner.labels import LabelSet
from xner.providers import PROVIDERS, choose_providers  # noqa: F401  (re-exported: the runtime's public names)
from xner.threads import available_cpus, omp_threads

from .graphscan import has_dynamic_quantization

log = logging.getLogger("xner.runtime")


def import_ort():
    try:
        import onnxruntime as ort
    except ImportError:
        raise XnerError("onnxruntime is not installed: pip install '.[cpu]' (or '.[gpu]' on a CUDA machine)") from None
    return ort


def variant_file(report: dict | None, name: str | None) -> str:
    """The graph file of a variant: ``None`` -> the report's default (else ``model.onnx``); ``"int8"``,
    ``"O2_int8"`` -> ``model_int8.onnx``, ``model_O2_int8.onnx``; ``"fp32"`` -> ``model.onnx``."""
    if name is None:
        return (report or {}).get("default", "model.onnx")
    if name.endswith(".onnx"):
        if Path(name).name != name or name in (".onnx", "..onnx"):
            raise XnerError(f"--variant {name}: a variant is a graph of the export folder, named without a "
                            "folder (a graph elsewhere is not covered by this folder's parity gate)")
        return name
    return "model.onnx" if name in ("fp32", "model", "") else f"model_{name.removeprefix('model_')}.onnx"


def gate_of(report: dict | None, variant: str) -> dict | None:
    """A variant's gate result from the export report (older reports: the whole export's)."""
    if not report:
        return None
    if "variants" in report:
        return report["variants"].get(variant)
    return {"passed": report.get("passed", True)}


#: padded tokens per batch on a CPU provider (:class:`Runtime`'s default; 8,192 on a GPU); with one batch
#: per thread (``parallel="batches"``) each batch stays nearer its own core's cache: 256
CPU_TOKEN_BUDGET = 1024
CPU_BATCHES_TOKEN_BUDGET = 256
#: how a CPU session uses its threads: one batch split across them, or one batch per thread
PARALLEL = ("ops", "batches")
#: onnxruntime graph fusions a CPU session leaves out (see the module's docstring)
CPU_DISABLED_FUSIONS = ("SkipLayerNormFusion",)


def _open(ort, onnx_file: Path, so, providers: list[str], disabled: list[str]):
    """An onnxruntime session of ``onnx_file``; onnxruntime's own errors (not a graph, unsupported ops,
    no memory, ...) as a one-line ``cannot load`` error."""
    try:
        return ort.InferenceSession(str(onnx_file), so, providers=providers, disabled_optimizers=disabled)
    except Exception as e:  # noqa: BLE001
        line = (str(e).splitlines() or [type(e).__name__])[0]  # (a bare MemoryError() has no message)
        raise XnerError(f"cannot load {onnx_file}: {line}") from None


class Runtime:
    """``Runtime(folder).predict(corpus)`` -> tag ids per word; ``logits(corpus)`` -> first-sub-token logits."""

    def __init__(self, path: str | Path, provider: str = "auto", threads: int | None = None,
                 token_budget: int | None = None, max_batch: int = 256, max_length: int | None = None,
                 file_name: str | None = None, cache_words: int | None = None, allow_failed: bool = False,
                 parallel: str = "ops", disabled_fusions: tuple[str, ...] | None = None):
        ort = import_ort()
        if parallel not in PARALLEL:
            raise XnerError(f"parallel must be one of {', '.join(PARALLEL)}, got {parallel!r}")
        self.path = Path(path)
        if self.path.is_file():  # a graph file: its folder holds the rest
            self.path, file_name = self.path.parent, self.path.name
        if not self.path.is_dir():
            raise XnerError(f"{self.path}: no such export folder (export a model with xner export)")
        if not (self.path / "config.json").is_file():
            raise XnerError(f"no config.json in {self.path} (export a model with xner export)")
        self.report = self._read_report()
        self.variant = variant_file(self.report, file_name)
        onnx_file = self.path / self.variant
        if not onnx_file.exists():
            have = sorted(p.name for p in self.path.glob("model*.onnx"))
            raise XnerError(f"no {self.variant} in {self.path} (variants here: {', '.join(have) or 'none'}; export "
                            "a model with xner export)")
        gate = gate_of(self.report, self.variant)
        if gate is None and self.report and "variants" in self.report and not allow_failed:
            raise XnerError(f"{onnx_file}: the export report knows no such variant (it was not made, or was "
                            f"renamed, after the export: no parity gate covers it; variants: "
                            f"{', '.join(sorted(self.report['variants'])) or 'none'})")
        if gate is not None and not gate.get("passed", True) and not self.report.get("forced") and not allow_failed:
            raise XnerError(f"{onnx_file}: this export failed its parity gate (see export_report.json); re-export, "
                            "or export with --force to use it anyway")
        if threads is not None and threads < 1:
            raise XnerError(f"--threads must be at least 1, got {threads}")
        self.requested = provider
        providers = choose_providers(provider, ort.get_available_providers())
        wanted = (threads, parallel, disabled_fusions)
        so, disabled = self._settings(ort, providers[0] == "CPUExecutionProvider", *wanted)
        # the session is built in a thread (ONNX Runtime releases the GIL while it loads and optimises
        # the graph) while this one reads the config and loads the tokenizer; errors keep their order
        made: dict = {}

        def build() -> None:
            try:
                made["session"] = _open(ort, onnx_file, so, providers, disabled)
            except XnerError as e:
                made["error"] = e

        builder = threading.Thread(target=build, name="xner-session", daemon=True)
        # (warning filters are process-wide: set here, in this thread, around both)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            builder.start()
            try:
                self._read_config_and_tokenizer()
            finally:
                builder.join()
                if "error" in made:  # the graph's error first, as when the session was built first
                    raise made["error"] from None
        self.session = made.pop("session")
        self.provider = self.session.get_providers()[0]  # what really runs
        if self.provider != providers[0]:
            log.warning("asked for %s but onnxruntime runs %s", providers[0], self.provider)
            if self.provider == "CPUExecutionProvider":  # a GPU that did not load: the CPU's own settings
                del self.session  # (released before the second is built: not two graphs in memory)
                so, disabled = self._settings(ort, True, *wanted)
                self.session = _open(ort, onnx_file, so, ["CPUExecutionProvider"], disabled)
        self.input_names = [i.name for i in self.session.get_inputs()]
        if "input_ids" not in self.input_names:
            raise XnerError(f"{onnx_file}: the graph has no input_ids input (inputs: {self.input_names})")
        outputs = [o.name for o in self.session.get_outputs()]
        self.output_name = "logits" if "logits" in outputs else outputs[0]
        self.hidden_name = "last_hidden_state" if "last_hidden_state" in outputs else None
        cfg = self.config
        self.family = family(cfg.get("model_type"))
        limit = max_length or min(self.family.token_limit(cfg.get("max_position_embeddings", 512)), 512)
        self.encoder = WordEncoder(self.fast_tokenizer, limit, max_words=cache_words, family=self.family)
        # padded tokens per batch: on a CPU, batches whose activations stay nearer the cache run faster
        # (`xner bench --suite inference` times 1,024 against 8,192); a GPU wants large batches, and a
        # dynamically quantised graph, whose tags depend on its batch-mates, keeps the batches it was
        # gated and evaluated with (8,192), so none of its answers changed with the CPU default
        if token_budget is not None and token_budget < 1:
            raise XnerError(f"the token budget must be at least 1 padded token, got {token_budget}")
        self.token_budget = token_budget or (8192 if self.on_cuda or self.batch_dependent else
                                             CPU_BATCHES_TOKEN_BUDGET if self.workers > 1 else CPU_TOKEN_BUDGET)
        self.max_batch = max_batch
        self._stat_lock = threading.Lock()
        self.infer_seconds = 0.0  # time spent inside the session, for profiles (every thread's)
        self._thread_clock = threading.local()
        self._vector_encoder: WordEncoder | None = None
        if self.on_cuda and self.report and self.report.get("gpu_verified") is False:
            log.warning("%s: this fp16 graph was not verified on a GPU when it was exported (%s)", self.path,
                        self.report.get("note", "gated on the CPU only"))

    def _settings(self, ort, cpu: bool, threads: int | None, parallel: str, disabled_fusions) -> tuple:
        """(session options, fusions left out) for a session on the CPU or not; sets ``workers``,
        ``parallel`` (what really happens: ``batches`` only with more than one worker) and
        ``fusions_left_out``."""
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        threads = threads or omp_threads(default=0) or None  # --threads, else $OMP_NUM_THREADS when set
        # batches in parallel: each on one onnxruntime thread, as many at once as there are threads
        self.workers = (threads or available_cpus()) if cpu and parallel == "batches" else 1
        self.parallel = "batches" if self.workers > 1 else "ops"
        if self.workers > 1 or threads:
            so.intra_op_num_threads = 1 if self.workers > 1 else threads
            so.inter_op_num_threads = 1
        self.fusions_left_out = list(CPU_DISABLED_FUSIONS if disabled_fusions is None else disabled_fusions) \
            if cpu else []
        return so, self.fusions_left_out

    def _read_config_and_tokenizer(self) -> None:
        try:
            cfg = json.loads((self.path / "config.json").read_text())
        except ValueError as e:
            raise XnerError(f"{self.path / 'config.json'}: not JSON ({e})") from None
        if not isinstance(cfg, dict) or not isinstance(cfg.get("id2label"), dict):
            raise XnerError(f"{self.path / 'config.json'}: no id2label (export a token-classification model)")
        self.config = cfg
        tags = [cfg["id2label"][str(i)] for i in range(len(cfg["id2label"]))]
        self.labels = LabelSet.from_tags(tags)
        if self.labels.tags != tags:
            raise XnerError(f"{self.path}: labels {tags} do not follow the O, B-X, I-X layout")
        from xner.tokenizer import load_fast_tokenizer

        self._tokenizer = None  # the transformers tokenizer, loaded only when asked for (see .tokenizer)
        self.fast_tokenizer = load_fast_tokenizer(self.path)

    @property
    def tokenizer(self):
        """The folder's tokenizer as a transformers object (imports transformers; inference does not
        need it: the encoder runs on ``fast_tokenizer``)."""
        with self._stat_lock:
            if self._tokenizer is None:
                from xner.hf import load_tokenizer

                self._tokenizer = load_tokenizer(str(self.path))
        return self._tokenizer

    def _read_report(self) -> dict | None:
        p = self.path / "export_report.json"
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text())
        except ValueError as e:
            raise XnerError(f"{p}: not JSON ({e})") from None

    @property
    def batch_dependent(self) -> bool:
        """Whether a sentence's answer from this graph can depend on the other rows of its batch: a
        dynamically quantised graph (activation scales computed per batch).  Read from the export
        report's steps up to this variant (older exports' ``model_int8.onnx`` was dynamic)."""
        if has_dynamic_quantization(self.path / self.variant):  # the graph itself, whatever its name
            return True
        steps = (self.report or {}).get("steps") or []
        names = [s.get("variant") for s in steps]
        if self.variant in names:
            chain = steps[: names.index(self.variant) + 1]
            return any(s.get("step") == "quantize" and s.get("type") == "dynamic" for s in chain)
        return "int8-dynamic" in self.variant

    @property
    def on_cuda(self) -> bool:
        return self.provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider")

    def _feeds(self, ids: np.ndarray, mask: np.ndarray) -> dict:
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return {k: v for k, v in feeds.items() if k in self.input_names}

    def run_batch(self, ids: np.ndarray, mask: np.ndarray, output: str | None = None) -> np.ndarray:
        t0 = time.perf_counter()
        try:
            return self._run(ids, mask, output)
        finally:
            self._clock(time.perf_counter() - t0)

    def _clock(self, took: float) -> None:
        with self._stat_lock:
            self.infer_seconds += took
        self._thread_clock.seconds = getattr(self._thread_clock, "seconds", 0.0) + took

    def _run(self, ids: np.ndarray, mask: np.ndarray, output: str | None = None) -> np.ndarray:
        feeds = self._feeds(ids, mask)
        name = output or self.output_name
        if self.on_cuda:
            binding = self.session.io_binding()
            for k, v in feeds.items():
                binding.bind_cpu_input(k, v)
            binding.bind_output(name, "cpu")
            self.session.run_with_iobinding(binding)
            out = binding.copy_outputs_to_cpu()[0]
        else:
            out = self.session.run([name], feeds)[0]
        width = self.labels.num_tags if name == self.output_name else None
        if out.ndim != 3 or out.shape[:2] != ids.shape or (width is not None and out.shape[2] != width):
            raise XnerError(f"{self.path}: output {name!r} has shape {out.shape}; expected {ids.shape + (width or -1,)} "
                            f"({'one logit per label' if width else 'one vector per token'})")
        return out

    def __repr__(self) -> str:  # stable (no address): rows that name the model's vectors repeat across runs
        return f"Runtime({str(self.path)!r}, variant={self.variant!r}, provider={self.provider!r})"

    @property
    def thread_infer_seconds(self) -> float:
        """Time the calling thread has spent inside the session (a stage timed in one thread is not
        charged with inference another thread ran meanwhile)."""
        return getattr(self._thread_clock, "seconds", 0.0)

    def word_vectors(self, words: list[str]) -> np.ndarray:
        """The encoder's vector of each word alone (its first sub-token's last hidden state)."""
        if self.hidden_name is None:
            raise XnerError(f"{self.path}: the ONNX model has no last_hidden_state output; re-export it with "
                            "xner export")
        c = Corpus.from_lists([[w] for w in words], [["O"] for _ in words], self.labels)
        with self._stat_lock:
            if self._vector_encoder is None:  # its own word cache: a perturbation asking for vectors in one
                # thread never changes what the evaluated encoder has seen (and counts) in another
                self._vector_encoder = WordEncoder(self.fast_tokenizer, self.encoder.max_length, family=self.family)
            venc = self._vector_encoder
        enc = venc.encode(c)
        out = None
        for idx, got in self._each(enc, self.hidden_name):
            h = got.astype(np.float32, copy=False)
            if out is None:
                out = np.zeros((c.n_tokens, h.shape[-1]), dtype=np.float32)
            gather_first(h, idx, enc.seg_tok, enc.first_pos, out)
        return out if out is not None else np.zeros((0, 0), np.float32)

    def logits(self, corpus: Corpus, encoded: Encoded | None = None) -> np.ndarray:
        enc = encoded if encoded is not None else self.encoder.encode(corpus)
        out = np.zeros((corpus.n_tokens, self.labels.num_tags), dtype=np.float32)
        for idx, got in self._each(enc):
            gather_first(got.astype(np.float32, copy=False), idx, enc.seg_tok, enc.first_pos, out)
        return out

    def _each(self, enc: Encoded, output: str | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(segment indices, output) of each batch of ``enc``, in order; with several workers, one batch per
        thread, and the calling thread's clock is charged the wall time, once."""
        batches = enc.batches(self.token_budget, self.max_batch)
        if self.workers > 1:
            batches = list(batches)
        if self.workers < 2 or len(batches) < 2:
            for idx, ids, mask in batches:
                yield idx, self.run_batch(ids, mask, output)
            return
        from concurrent.futures import ThreadPoolExecutor

        t0 = time.perf_counter()
        pool = ThreadPoolExecutor(min(self.workers, len(batches)), thread_name_prefix="xner-batch")
        try:
            runs = pool.map(lambda b: self._run(b[1], b[2], output), batches)
            for (idx, _, _), got in zip(batches, runs, strict=True):
                yield idx, got
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self._clock(time.perf_counter() - t0)

    def predict(self, corpus: Corpus, encoded: Encoded | None = None) -> np.ndarray:
        tags = self.logits(corpus, encoded).argmax(-1).astype(np.int8)
        if corpus.labels != self.labels:  # express in the corpus's label ids
            tags = self.labels.remap_to(corpus.labels)[tags]
        return tags

    def describe(self) -> dict:
        return {"path": str(self.path), "variant": self.variant, "provider": self.provider, "requested": self.requested,
                "inputs": self.input_names, "labels": self.labels.tags, "max_length": self.encoder.max_length,
                "model_type": self.config.get("model_type"), "batch_dependent": self.batch_dependent,
                "token_budget": self.token_budget, "parallel": self.parallel, "workers": self.workers,
                "fusions_left_out": self.fusions_left_out,
                "intra_op_threads": self.session.get_session_options().intra_op_num_threads or "onnxruntime's default",
                "export": self.report}
