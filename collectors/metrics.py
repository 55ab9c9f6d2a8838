"""Prometheus metrics of the server: ingest counters, queue depth and the system sample."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ServerMetrics:
    """One registry per server, so tests can run several servers in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "vigil_ingest_accepted", "Records stored", ["model", "kind"], registry=self.registry
        )
        self.duplicates = Counter(
            "vigil_ingest_duplicates",
            "Prediction records already stored (same event_id)",
            ["model"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "vigil_ingest_rejected",
            "Requests or records refused, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "vigil_write_queue_depth", "Write batches waiting", registry=self.registry
        )
        self.predictions = Gauge(
            "vigil_model_predictions",
            "Stored predictions per model",
            ["model"],
            registry=self.registry,
        )
        self.system = Gauge(
            "vigil_system",
            "Latest system sample, by metric",
            ["host", "metric"],
            registry=self.registry,
        )
        self.gpu = Gauge(
            "vigil_gpu",
            "Latest GPU sample, by device and metric",
            ["host", "gpu", "metric"],
            registry=self.registry,
        )
