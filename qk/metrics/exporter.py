"""Export a session's shared-memory metrics to Prometheus on a localhost HTTP ``/metrics``.

The supervisor runs one :class:`MetricsExporter`. At every scrape its :class:`SessionCollector`
rescans ``/dev/shm`` for the session's segments, reads every metric and yields prometheus-client
metric families:

* counters as ``<namespace>_<name>_total``; int and float gauges as ``<namespace>_<name>``;
* histograms (ns inside) in seconds as ``<namespace>_<name>_seconds`` with ``_bucket`` (exact
  cumulative counts at 1-2-5 ``le`` boundaries from 100 ns to 100 s, and ``+Inf``), ``_sum`` and
  ``_count``, plus ``<namespace>_<name>_p50_seconds``, ``_p99_seconds`` and ``_p999_seconds`` gauges;
* ``<namespace>_process_up`` (1 while the owner runs, 0 for a dead process's segment, whose last
  values are still exported until :meth:`SessionCollector.cleanup` removes it);
* ``<namespace>_metrics_snapshot_failures_total``: histograms skipped at a scrape because their
  writer changed them during every copy attempt (the previous snapshot is served instead).

Every sample carries a ``process`` label with the owning process's name.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from qk.metrics.buckets import EXPORT_BOUNDS_NS
from qk.metrics.errors import MetricsLayoutError
from qk.metrics.layout import MetricKind, validate_session
from qk.metrics.reader import (
    HistogramSnapshot,
    MetricInfo,
    SegmentReader,
    cleanup_stale,
    discover,
)

PERCENTILES = (("p50", 0.5), ("p99", 0.99), ("p999", 0.999))
"""The percentile gauges exported for every histogram."""
_LE = tuple(repr(bound / 1e9) for bound in EXPORT_BOUNDS_NS)


class SessionCollector(Collector):
    """A prometheus-client collector over every metrics segment of one session."""

    def __init__(self, session: str, namespace: str = "qk") -> None:
        self.session = validate_session(session)
        self.namespace = namespace
        self._readers: dict[str, SegmentReader] = {}
        self._last: dict[tuple[str, int], HistogramSnapshot] = {}
        self._failures: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        """Read every segment of the session and yield its metric families."""
        with self._lock:
            self._refresh()
            families: dict[str, Metric] = {}
            up = Metric(
                f"{self.namespace}_process_up",
                "1 while the process owning the metrics segment runs, 0 once it is dead",
                "gauge",
            )
            for shm_name, reader in sorted(self._readers.items()):
                process = reader.info.process
                up.add_sample(up.name, {"process": process}, 1.0 if reader.alive() else 0.0)
                for metric in reader.metrics():
                    self._export(families, shm_name, reader, metric)
            failures = Metric(
                f"{self.namespace}_metrics_snapshot_failures",
                "histograms served from an earlier snapshot because the writer kept changing them",
                "counter",
            )
            for (process, name), value in sorted(self._failures.items()):
                failures.add_sample(
                    failures.name + "_total", {"process": process, "metric": name}, value
                )
        yield up
        yield failures
        yield from families.values()

    def cleanup(self) -> list[str]:
        """Unlink the session's segments whose owner is dead; returns their names."""
        with self._lock:
            removed = cleanup_stale(self.session)
            for shm_name in removed:
                reader = self._readers.pop(shm_name, None)
                if reader is not None:
                    reader.close()
            self._last = {k: v for k, v in self._last.items() if k[0] not in removed}
            return removed

    def close(self) -> None:
        """Unmap every segment."""
        with self._lock:
            for reader in self._readers.values():
                reader.close()
            self._readers.clear()

    def _refresh(self) -> None:
        present = set(discover(self.session))
        for shm_name in list(self._readers):
            if shm_name not in present:
                self._readers.pop(shm_name).close()
                self._last = {k: v for k, v in self._last.items() if k[0] != shm_name}
        for shm_name in sorted(present - set(self._readers)):
            try:
                self._readers[shm_name] = SegmentReader.attach(shm_name)
            except (FileNotFoundError, MetricsLayoutError):
                continue
        # A segment replaced by a restarted process has a new owner: map the new one.
        for shm_name, reader in list(self._readers.items()):
            if not reader.alive():
                try:
                    fresh = SegmentReader.attach(shm_name)
                except (FileNotFoundError, MetricsLayoutError):
                    continue
                if fresh.info.created_ns != reader.info.created_ns:
                    reader.close()
                    self._readers[shm_name] = fresh
                    self._last = {k: v for k, v in self._last.items() if k[0] != shm_name}
                else:
                    fresh.close()

    def _family(self, families: dict[str, Metric], name: str, help: str, kind: str) -> Metric:
        family = families.get(name)
        if family is None:
            family = families[name] = Metric(name, help, kind)
        return family

    def _export(
        self,
        families: dict[str, Metric],
        shm_name: str,
        reader: SegmentReader,
        metric: MetricInfo,
    ) -> None:
        labels = {**metric.labels, "process": reader.info.process}
        name = f"{self.namespace}_{metric.name}"
        if metric.kind is MetricKind.COUNTER:
            base = name.removesuffix("_total")
            family = self._family(families, base, metric.help, "counter")
            family.add_sample(base + "_total", labels, float(reader.counter(metric)))
            return
        if metric.kind in (MetricKind.INT_GAUGE, MetricKind.FLOAT_GAUGE):
            family = self._family(families, name, metric.help, "gauge")
            family.add_sample(name, labels, reader.gauge(metric))
            return
        snapshot = reader.histogram(metric)
        key = (shm_name, metric.slot)
        if snapshot is None:
            failure = (reader.info.process, metric.name)
            self._failures[failure] = self._failures.get(failure, 0) + 1
            snapshot = self._last.get(key)
            if snapshot is None:
                return
        self._last[key] = snapshot
        base = f"{name}_seconds"
        family = self._family(families, base, metric.help, "histogram")
        for le, cumulative in zip(_LE, snapshot.cumulative(), strict=True):
            family.add_sample(base + "_bucket", {**labels, "le": le}, float(cumulative))
        family.add_sample(base + "_bucket", {**labels, "le": "+Inf"}, float(snapshot.count))
        family.add_sample(base + "_count", labels, float(snapshot.count))
        family.add_sample(base + "_sum", labels, snapshot.sum_ns / 1e9)
        for suffix, quantile in PERCENTILES:
            gauge_name = f"{name}_{suffix}_seconds"
            gauge = self._family(
                families,
                gauge_name,
                f"{quantile:g} quantile of {metric.name} (1 % buckets)",
                "gauge",
            )
            gauge.add_sample(gauge_name, labels, snapshot.percentile(quantile) / 1e9)


class MetricsExporter:
    """The session's ``/metrics`` endpoint: a prometheus-client HTTP server on one thread."""

    def __init__(
        self, session: str, *, host: str = "127.0.0.1", port: int = 0, namespace: str = "qk"
    ) -> None:
        self.collector = SessionCollector(session, namespace)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        self._host = host
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Start serving; returns the bound port (the ephemeral one when created with 0)."""
        if self._server is not None:
            raise RuntimeError("metrics exporter already started")
        self._server, self._thread = start_http_server(self._port, self._host, self.registry)
        return self.port

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            raise RuntimeError("metrics exporter not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port/metrics``."""
        return f"http://{self._host}:{self.port}/metrics"

    def stop(self) -> None:
        """Stop the server and unmap every segment."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None
            self._thread = None
        self.collector.close()

    def __enter__(self) -> MetricsExporter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
