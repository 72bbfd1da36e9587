"""HTTP service over an exported model: ``/predict`` (batched across clients), ``/health``,
``/metadata``, ``/metrics`` (Prometheus).

FastAPI/uvicorn.  Request bodies are bounded (413 past the limit, whether or not a Content-Length
is sent); bad input gets a 4xx with ``{"error": ...}`` and the server keeps serving.  With an API
key, ``/predict`` and ``/metadata`` check it before the body is read (401 for a request without it,
however malformed its body); an empty key is refused.  Each request waits at most
``request_timeout_s`` for its batch (504 past it); ``/health`` answers 503 when the batch worker is
not running, and the app closes its batcher when the server stops.
"""

from __future__ import annotations

import hmac
import threading
import time

from pydantic import BaseModel, ConfigDict, Field

from xner.errors import XnerError
from xner.io import dumps

from .pipeline import NerPipeline


class PredictRequest(BaseModel):
    """Exactly one of ``text``, ``texts`` or ``words``."""

    model_config = ConfigDict(extra="forbid", strict=True)
    text: str | None = Field(None, description="one raw text")
    texts: list[str] | None = Field(None, description="several raw texts, run as one batch")
    words: list[list[str]] | None = Field(None, description="pre-split sentences")


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes with 413."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for k, v in scope.get("headers", []):
            if k == b"content-length" and v.isdigit() and int(v) > self.limit:
                return await _json(send, 413, {"error": f"request body over {self.limit} bytes"})
        # read the body up to the limit (chunked bodies have no Content-Length), then replay it
        body = bytearray()
        more = True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
            if len(body) > self.limit:
                return await _json(send, 413, {"error": f"request body over {self.limit} bytes"})
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class Auth:
    """ASGI middleware: the API key is checked on the request line and headers, before the body is
    read or validated, for every path but ``/health`` and ``/metrics``."""

    OPEN = ("/health", "/metrics")

    def __init__(self, app, key: str, on_refuse=None):
        self.app = app
        self.key = key
        self.on_refuse = on_refuse  # told of every refused request (metrics)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("path") not in self.OPEN:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            if not _authorised(headers, self.key):
                if self.on_refuse is not None:
                    self.on_refuse()
                return await _json(send, 401, {"error": "missing or wrong API key (send 'Authorization: Bearer KEY' "
                                                        "or 'X-API-Key: KEY')"})
        return await self.app(scope, receive, send)


def check_api_key(api_key: str | None) -> str | None:
    """None (no authentication) or a non-empty key; an empty or blank key (an unset shell variable
    in ``--api-key "$KEY"``) is an error, never a silent "no authentication"."""
    if api_key is None:
        return None
    if not str(api_key).strip():
        raise XnerError("the API key is empty (an unset variable?): give a non-empty key, or none for no "
                        "authentication")
    if not str(api_key).isascii() or not str(api_key).isprintable() or str(api_key) != str(api_key).strip():
        raise XnerError("the API key must be printable ASCII without spaces around it: HTTP carries no other "
                        "characters reliably and strips a header's surrounding spaces, so a client could never send it")
    return str(api_key)


async def _json(send, status: int, body: dict) -> None:
    data = dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


#: distinct words the server's encoder caches before it starts afresh (memory stays bounded)
CACHE_WORDS = 200_000


def public_metadata(description: dict) -> dict:
    """What ``/metadata`` shows by default: the model's interface, never local paths, the command line
    or the host (``--full-metadata`` opts in to the whole description)."""
    export = description.get("export") or {}
    return {k: description.get(k) for k in ("variant", "provider", "inputs", "labels", "max_length", "model_type")} | {
        "export": {"passed": export.get("passed"), "forced": export.get("forced"),
                   "steps": [{k: v for k, v in st.items() if k in ("step", "exporter", "level", "type", "dtype")}
                             for st in export.get("steps", [])]} if export else None}


def create_app(model_dir: str, provider: str = "auto", threads: int | None = None, max_body: int = 1_000_000,
               max_items: int = 256, max_chars: int = 20_000, cache_words: int = CACHE_WORDS,
               full_metadata: bool = False, variant: str | None = None, api_key: str | None = None,
               batch_tokens: int = 8192, batch_wait_ms: float = 5.0, max_queue: int = 1024,
               request_timeout_s: float = 60.0, allow_batch_dependent: bool = False):
    """The service: ``/predict`` (requests batched across clients), ``/health``, ``/metadata``, ``/metrics``."""
    import asyncio
    import contextlib

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response

    from .batcher import Batcher, BatcherClosed, QueueFull
    from .metrics import ServerMetrics
    from .runtime import Runtime

    api_key = check_api_key(api_key)
    for name, value in (("max_body", max_body), ("max_items", max_items), ("max_chars", max_chars),
                        ("batch_tokens", batch_tokens), ("max_queue", max_queue)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise XnerError(f"{name.replace('_', '-')} must be a whole number of at least 1, got {value!r}")
    if not request_timeout_s > 0:
        raise XnerError(f"request-timeout must be positive, got {request_timeout_s!r}")

    pipe = NerPipeline(Runtime(model_dir, provider=provider, threads=threads, cache_words=cache_words,
                               file_name=variant))
    if pipe.runtime.batch_dependent:
        msg = (f"{model_dir}: variant {pipe.runtime.variant} is dynamically quantised, so a request's answer would "
               "depend on the other requests batched with it")
        if not allow_batch_dependent:
            raise XnerError(msg + "; serve a float or static int8 variant (export --quantize int8), or pass "
                            "--allow-batch-dependent")
        import logging

        logging.getLogger("xner").warning("%s (allowed by --allow-batch-dependent)", msg)
    metrics = ServerMetrics()
    batcher = Batcher(pipe.predict_words, batch_tokens, batch_wait_ms, max_queue, metrics.on_batch)
    started = time.time()
    stats = {"requests": 0, "items": 0}
    stats_lock = threading.Lock()

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        batcher.close()  # the worker thread and its waiting requests do not outlive the server

    app = FastAPI(title="xner", description="Cross-lingual NER over ONNX Runtime", lifespan=lifespan)
    app.state.pipeline = pipe
    app.state.batcher = batcher

    def _error(status: int, message: str) -> JSONResponse:
        metrics.requests.labels(str(status)).inc()
        return JSONResponse(status_code=status, content={"error": message})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        msgs = [f"{'.'.join(str(x) for x in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()]
        return _error(422, "; ".join(msgs) or "invalid request")

    @app.exception_handler(XnerError)
    async def _bad(request: Request, exc: XnerError):
        return _error(400, str(exc))

    @app.get("/health")
    def health():
        with stats_lock:
            counts = dict(stats)
        if not batcher.alive:
            return JSONResponse(status_code=503, content={"status": "down", "error": "the batch worker is not running",
                                                          "provider": pipe.runtime.provider, **counts})
        return {"status": "ok", "provider": pipe.runtime.provider, "uptime_s": round(time.time() - started, 1),
                **counts}

    @app.get("/metadata")
    def metadata():
        d = pipe.runtime.describe()
        return {**(d if full_metadata else public_metadata(d)),
                "limits": {"max_body_bytes": max_body, "max_items": max_items, "max_chars": max_chars,
                           "cache_words": cache_words, "batch_tokens": batch_tokens, "batch_wait_ms": batch_wait_ms,
                           "max_queue": max_queue}, "auth": api_key is not None}

    @app.get("/metrics")
    def prometheus():
        metrics.queue.set(batcher.jobs.qsize())
        body, kind = metrics.render()
        return Response(content=body, media_type=kind)

    async def predict(req: PredictRequest, request: Request):
        t0 = time.perf_counter()
        items = _items(req, max_items, max_chars)
        if req.words is not None:
            words, spans = items, [None] * len(items)
        else:
            split = pipe.split_texts(items)
            words, spans = [[w for w, _, _ in sp] for sp in split], [[(a, b) for _, a, b in sp] for sp in split]
        try:
            future = batcher.submit(words)
        except (QueueFull, BatcherClosed) as e:
            return _error(503, str(e))
        try:  # inference runs off the event loop; a request never waits past its timeout
            tagged = await asyncio.wait_for(asyncio.wrap_future(future), request_timeout_s)
        except TimeoutError:
            future.cancel()
            return _error(504, f"no answer within {request_timeout_s:g} s (the server is overloaded or stuck)")
        except BatcherClosed as e:
            return _error(503, str(e))
        ents = [[e.to_json() for e in pipe.entities(ws, sp, tg, it if sp is not None else None)]
                for ws, sp, tg, it in zip(words, spans, tagged, items, strict=True)]
        with stats_lock:
            stats["requests"] += 1
            stats["items"] += len(items)
        metrics.requests.labels("200").inc()
        metrics.items.inc(len(items))
        metrics.latency.observe(time.perf_counter() - t0)
        return {"entities": ents[0]} if req.text is not None else {"entities": ents}

    # the annotations are strings here (postponed evaluation) and Request is imported locally:
    # hand FastAPI the classes themselves
    predict.__annotations__.update(req=PredictRequest, request=Request)
    app.post("/predict")(predict)
    limited = BodyLimit(app, max_body)
    if api_key is None:
        return limited
    return Auth(limited, api_key, lambda: metrics.requests.labels("401").inc())


def _authorised(headers: dict, key: str) -> bool:
    got = headers.get("x-api-key") or ""
    auth = headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        got = got or auth[7:].strip()
    return hmac.compare_digest(got.encode(), key.encode())


def _items(req: PredictRequest, max_items: int, max_chars: int) -> list:
    given = [k for k in ("text", "texts", "words") if getattr(req, k) is not None]
    if len(given) != 1:
        raise XnerError("give exactly one of 'text', 'texts' or 'words'")
    items = [req.text] if req.text is not None else req.texts if req.texts is not None else req.words
    if not items:
        raise XnerError(f"'{given[0]}' is empty")
    if len(items) > max_items:
        raise XnerError(f"at most {max_items} items per request, got {len(items)}")
    for i, it in enumerate(items):
        if isinstance(it, str):
            size = len(it)
            if not it.strip():
                raise XnerError(f"item {i}: empty text")
        else:
            if not it:
                raise XnerError(f"item {i}: empty input: every sentence needs at least one word")
            # every word counts at least one character (a separator), so 200,000 empty strings cannot
            # pass a 20,000-character limit; empty or blank words have no token to tag
            size = sum(len(w) for w in it) + len(it) - 1
            blank = next((j for j, w in enumerate(it) if not w.strip()), None)
            if blank is not None:
                raise XnerError(f"item {i}, word {blank}: empty or blank word (words are non-empty strings)")
        if size > max_chars:
            raise XnerError(f"item {i} has {size} characters; the limit is {max_chars}")
    return items


def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0, timeout: float = 30.0):
    """Run ``app`` with uvicorn in a background thread (tests, benchmarks, embedding); returns
    ``(server, thread, base_url)``; stop it with ``server.should_exit = True; thread.join()``."""
    import socket

    import uvicorn

    if not port:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="error"))
    thread = threading.Thread(target=server.run, name="xner-server", daemon=True)
    thread.start()
    deadline = time.time() + timeout
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise XnerError(f"the server did not start on {host}:{port}")
        time.sleep(0.05)
    return server, thread, f"http://{host}:{port}"


def serve(model_dir: str, host: str = "127.0.0.1", port: int = 8000, provider: str = "auto",
          threads: int | None = None, max_body: int = 1_000_000, cache_words: int = CACHE_WORDS,
          full_metadata: bool = False, variant: str | None = None, api_key: str | None = None,
          batch_tokens: int = 8192, batch_wait_ms: float = 5.0, max_queue: int = 1024,
          request_timeout_s: float = 60.0, allow_batch_dependent: bool = False) -> None:
    import uvicorn

    app = create_app(model_dir, provider, threads, max_body, cache_words=cache_words, full_metadata=full_metadata,
                     variant=variant, api_key=api_key, batch_tokens=batch_tokens, batch_wait_ms=batch_wait_ms,
                     max_queue=max_queue, request_timeout_s=request_timeout_s,
                     allow_batch_dependent=allow_batch_dependent)
    uvicorn.run(app, host=host, port=port, log_level="info")
