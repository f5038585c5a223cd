"""Prometheus metrics of one service instance, served as text on ``:<port>/metrics``.

Each :class:`ServiceMetrics` has its own registry (never the process-wide default), so
several services in one process (tests) do not collide. Labels are bounded: ``method``
is one of the service's RPCs, ``code`` a gRPC status name, ``cause`` and ``error``
come from fixed sets. Nothing from a request ends up in a label.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)

NAMESPACE = "session_service"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """The service's counters, gauges and histograms, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        r = self.registry
        self.rpc_duration = Histogram(
            "rpc_duration_seconds",
            "Time to answer a SessionService call, by method and gRPC status code.",
            ("method", "code"),
            namespace=NAMESPACE,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rpc_in_flight = Gauge(
            "rpc_in_flight",
            "SessionService calls being handled right now.",
            ("method",),
            namespace=NAMESPACE,
            registry=r,
        )
        self.sessions_created = Counter(
            "sessions_created", "Sessions started by Create.", namespace=NAMESPACE, registry=r
        )
        self.sessions_refreshed = Counter(
            "sessions_refreshed",
            "Successful Refresh calls (including grace-window duplicates).",
            namespace=NAMESPACE,
            registry=r,
        )
        self.sessions_revoked = Counter(
            "sessions_revoked",
            "Live sessions ended: cause=revoke by Revoke, cause=refresh_token_reuse by reuse detection.",
            ("cause",),
            namespace=NAMESPACE,
            registry=r,
        )
        self.refresh_token_reuse = Counter(
            "refresh_token_reuse_detected",
            "Rotated refresh tokens presented again (the session is revoked as stolen).",
            namespace=NAMESPACE,
            registry=r,
        )
        self.redis_errors = Counter(
            "redis_errors",
            "Calls that failed because of Redis, by the Redis client's error class.",
            ("error",),
            namespace=NAMESPACE,
            registry=r,
        )


class MetricsServer:
    """The HTTP endpoint Prometheus scrapes; runs in a daemon thread."""

    def __init__(self, metrics: ServiceMetrics, host: str, port: int) -> None:
        self._httpd: WSGIServer
        self._thread: threading.Thread
        self._httpd, self._thread = start_http_server(port, host, registry=metrics.registry)

    @property
    def port(self) -> int:
        """The port it listens on."""
        port: int = self._httpd.server_address[1]
        return port

    def close(self) -> None:
        """Stops serving and releases the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
