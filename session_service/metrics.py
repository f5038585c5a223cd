"""Prometheus metrics of one service instance, served as text on ``:<port>/metrics``.

Each :class:`ServiceMetrics` has its own registry (never the process-wide default), so
several services in one process (tests) do not collide. Labels are bounded: ``method``
is one of the service's RPCs, ``code`` a gRPC status name, ``cause`` and ``error``
come from fixed sets. Nothing from a request ends up in a label.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    start_http_server,
)
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric

NAMESPACE = "session_service"
_DECISIONS = {200: "allowed", 401: "denied", 403: "denied", 503: "unavailable"}
"""gateway_checks_total's decision label by the answer's HTTP status."""
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """The service's counters, gauges and histograms, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        r = self.registry
        self.rpcs = RpcStats()
        r.register(self.rpcs)
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
        # Resolved once: a label look-up takes a lock and a dictionary walk on every call.
        self.revoked_by_revoke = self.sessions_revoked.labels("revoke")
        self.revoked_by_reuse = self.sessions_revoked.labels("refresh_token_reuse")
        self.refresh_token_reuse = Counter(
            "refresh_token_reuse_detected",
            "Rotated refresh tokens presented again (the session is revoked as stolen).",
            namespace=NAMESPACE,
            registry=r,
        )
        self.gateway_checks = Counter(
            "gateway_checks",
            "Gateway checks by door (envoy: ext_authz Check; forward_auth: HTTP /auth) and "
            "decision (allowed, denied, unavailable).",
            ("door", "decision"),
            namespace=NAMESPACE,
            registry=r,
        )
        self.relay_lagging = Gauge(
            "revocation_relay_lagging",
            "1 while revocation events wait in outboxes for over a second (the stream's shard "
            "away), else 0: local verification is not complete then.",
            namespace=NAMESPACE,
            registry=r,
        )
        self.events_recovered = Counter(
            "revocation_events_recovered",
            "Revocation events the relay's recovery pass moved to the stream (left in an outbox "
            "by a failed publish or a replica that died after its script).",
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

        self.risk_signals = Counter(
            "session_risk_signals",
            "Risk signals of sessions at Refresh and the gateways, by signal (network_change, "
            "user_agent_change, concurrent_networks, rotation_burst) and the action taken "
            "(record, step_up, revoke).",
            ("signal", "action"),
            namespace=NAMESPACE,
            registry=r,
        )

        # SSF transmitter: the receiver label is a name from SESSION_SSF_RECEIVERS_FILE.
        self.ssf_events_delivered = Counter(
            "ssf_events_delivered",
            "CAEP events an SSF receiver accepted (202), by receiver.",
            ("receiver",),
            namespace=NAMESPACE,
            registry=r,
        )
        self.ssf_events_rejected = Counter(
            "ssf_events_rejected",
            "CAEP events an SSF receiver refused for good (400 with an RFC 8935 error code), by "
            "receiver and error (other for a code outside RFC 8935); they are not sent again.",
            ("receiver", "error"),
            namespace=NAMESPACE,
            registry=r,
        )
        self.ssf_push_failures = Counter(
            "ssf_push_failures",
            "Pushes to an SSF receiver that failed and will be tried again (another status, no "
            "connection, a timeout), by receiver.",
            ("receiver",),
            namespace=NAMESPACE,
            registry=r,
        )
        self.ssf_delivery_lag = Gauge(
            "ssf_delivery_lag_seconds",
            "Seconds since the session of the oldest event this replica still has to deliver to an "
            "SSF receiver ended; 0 when none waits. Take the max over replicas.",
            ("receiver",),
            namespace=NAMESPACE,
            registry=r,
        )
        self.ssf_delivering = Gauge(
            "ssf_delivering",
            "1 on the replica that holds an SSF receiver's delivery lease, else 0; the sum over "
            "replicas is 1 while deliveries run.",
            ("receiver",),
            namespace=NAMESPACE,
            registry=r,
        )

    def risk_detected(self, signal: str, action: str) -> None:
        """Counts one risk signal by kind and the action taken."""
        self.risk_signals.labels(signal, action).inc()

    def gateway_decided(self, door: str, status: int) -> None:
        """Counts one gateway answer (a GatewayDoor's ``decided``) by door and decision."""
        self.gateway_checks.labels(door, _DECISIONS.get(status, "error")).inc()


class Latency:
    """One (method, code) latency histogram: plain numbers, updated on the event loop."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # per bucket, not cumulative; last: +Inf
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        """Counts one call that took ``seconds``."""
        self.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.sum += seconds


class InFlight:
    """Calls of one method being handled right now."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class RpcStats:
    """``rpc_duration_seconds`` and ``rpc_in_flight``, kept without locks and exported at scrape time.

    Every call updates them, so they cost what a few additions cost: prometheus_client's
    Histogram and Gauge take a lock per update, which on the hot path cost more than the
    rest of the bookkeeping together. Updates happen on the event loop's thread only; a
    scrape (the HTTP server's thread) reads the numbers as they are, and the +Inf bucket
    and the count are derived from the same list, so they always agree."""

    def __init__(self) -> None:
        self._latency: dict[tuple[str, str], Latency] = {}
        self._in_flight: dict[str, InFlight] = {}

    def latency(self, method: str, code: str) -> Latency:
        """The histogram of ``method`` calls that ended with ``code`` (a gRPC status name)."""
        found = self._latency.get((method, code))
        if found is None:
            found = self._latency[(method, code)] = Latency()
        return found

    def in_flight(self, method: str) -> InFlight:
        """The in-flight count of ``method``."""
        found = self._in_flight.get(method)
        if found is None:
            found = self._in_flight[method] = InFlight()
        return found

    def collect(self) -> Iterator[Metric]:
        """The two metric families, as a prometheus_client collector."""
        duration = HistogramMetricFamily(
            f"{NAMESPACE}_rpc_duration_seconds",
            "Time to answer a SessionService call, by method and gRPC status code.",
            labels=("method", "code"),
        )
        for (method, code), latency in list(self._latency.items()):
            total, buckets = 0, []
            for bound, n in zip((*map(str, LATENCY_BUCKETS), "+Inf"), list(latency.counts), strict=True):
                total += n
                buckets.append((bound, total))
            duration.add_metric([method, code], buckets, latency.sum)
        yield duration
        in_flight = GaugeMetricFamily(
            f"{NAMESPACE}_rpc_in_flight", "SessionService calls being handled right now.", labels=("method",)
        )
        for method, calls in list(self._in_flight.items()):
            in_flight.add_metric([method], calls.value)
        yield in_flight


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
