"""The server's Prometheus metrics (``GET /metrics``, text exposition format), one registry per app."""

from __future__ import annotations

__all__ = ["ServerMetrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServerMetrics:
    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("xner_requests", "Requests to /predict by HTTP status", ["status"],
                                registry=self.registry)
        self.items = Counter("xner_items", "Texts or sentences tagged", registry=self.registry)
        self.latency = Histogram("xner_request_seconds", "Latency of answered /predict requests",
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_sentences = Histogram("xner_batch_sentences", "Sentences per model call",
                                         buckets=SIZE_BUCKETS, registry=self.registry)
        self.batch_requests = Histogram("xner_batch_requests", "Requests sharing one model call",
                                        buckets=SIZE_BUCKETS, registry=self.registry)
        self.batch_seconds = Histogram("xner_batch_seconds", "Seconds per model call", buckets=LATENCY_BUCKETS,
                                       registry=self.registry)
        self.queue = Gauge("xner_queue_depth", "Requests waiting for the model", registry=self.registry)

    def on_batch(self, sentences: int, requests: int, seconds: float) -> None:
        self.batch_sentences.observe(sentences)
        self.batch_requests.observe(requests)
        self.batch_seconds.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
