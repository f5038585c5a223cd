"""Wiring: settings → Redis, keys, manager → grpc.aio server. The only module that knows everything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from session_wire.v1 import session_pb2, session_pb2_grpc

from session_service.config import Settings
from session_service.domain.clock import Clock, SystemClock
from session_service.domain.manager import SessionManager
from session_service.domain.ports import SessionPolicy
from session_service.domain.validation import InputLimits
from session_service.errors import SessionError
from session_service.store.connect import execution_policy, redis_client
from session_service.store.embedded import RedisServerProcess
from session_service.store.redis_store import RedisSessionStore
from session_service.store.revocations import RedisRevocationFeed
from session_service.telemetry import Telemetry
from session_service.tokens.access import JwtCodec
from session_service.tokens.keyring import Keyring
from session_service.transport.errors import ErrorInterceptor
from session_service.transport.servicer import SessionServicer

log = logging.getLogger(__name__)

SERVICE_NAME = session_pb2.DESCRIPTOR.services_by_name["SessionService"].full_name
MAX_MESSAGE_BYTES = 1 << 20
EXIT_BEFORE_RELAY_ENV = "SESSION_TEST_EXIT_BEFORE_RELAY"
"""Test hook for fault-injection tests only: "1" makes the process exit abruptly right
after a script that ended sessions, before their event is relayed to the stream."""


def policy_from(settings: Settings, limits: InputLimits) -> SessionPolicy:
    """The session policy the settings describe."""
    return SessionPolicy(
        idle_ms=settings.idle_timeout * 1000,
        absolute_ms=settings.absolute_timeout * 1000,
        refresh_grace_ms=int(settings.refresh_grace * 1000),
        reuse_memory=settings.refresh_reuse_memory,
        max_sessions=settings.max_sessions_per_user,
        reject_new=settings.limit_policy == "reject-new",
        max_data_entries=limits.max_data_entries,
        max_data_bytes=limits.max_data_bytes,
    )


def keyring_from(settings: Settings) -> Keyring:
    """Keys from SESSION_KEYS_DIR, or a generated development key."""
    if settings.keys_dir:
        return Keyring.from_dir(Path(settings.keys_dir), settings.signing_key_id)
    return Keyring.generate(settings.jwt_algorithm)


@dataclass
class Service:
    """A started service: its server, port and the parts tests may reach into."""

    settings: Settings
    server: grpc.aio.Server
    port: int
    store: RedisSessionStore
    manager: SessionManager
    health: health.aio.HealthServicer
    embedded_redis: RedisServerProcess | None = None
    telemetry: Telemetry | None = None
    revocations: RedisRevocationFeed | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def stop(self, grace: float | None = None) -> None:
        """Reports NOT_SERVING, drains in-flight calls for ``grace`` seconds, then releases Redis."""
        await self.health.enter_graceful_shutdown()
        if self.revocations is not None:
            # Watch streams never finish on their own; ending them lets their clients
            # reconnect to another replica instead of holding the drain for the full grace.
            await self.revocations.close()
        await self.server.stop(self.settings.shutdown_grace if grace is None else grace)
        # The background tasks also watch this flag: a cancellation alone can be lost.
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.store.relay.close()
        await self.store.close()
        if self.telemetry is not None:
            # Exporting the last spans blocks; the event loop must keep running meanwhile.
            await asyncio.to_thread(self.telemetry.close)
        if self.embedded_redis is not None:
            self.embedded_redis.stop()


async def start(settings: Settings, *, clock: Clock | None = None, keyring: Keyring | None = None) -> Service:
    """Builds everything from the settings and starts serving; all slow work happens here."""
    embedded = None
    url = settings.redis_url
    if settings.embedded_redis:
        embedded = RedisServerProcess(settings.redis_server_binary)
        await asyncio.to_thread(embedded.start)
        url = embedded.url
        log.warning("no SESSION_REDIS_URL set: started a private redis-server at %s (development only)", url)
    try:
        return await _start(
            settings, url, embedded, clock or SystemClock(), keyring or keyring_from(settings)
        )
    except BaseException:
        if embedded is not None:
            embedded.stop()
        raise


async def _start(
    settings: Settings, url: str, embedded: RedisServerProcess | None, clock: Clock, keyring: Keyring
) -> Service:
    telemetry = Telemetry.from_environ()
    store = RedisSessionStore(
        redis_client(settings, url),
        settings.redis_prefix,
        execution_policy(settings),
        revocation_window_ms=(settings.access_token_ttl + settings.jwt_leeway) * 1000,
        redis_timeout=settings.redis_timeout,
        exit_before_relay=os.environ.get(EXIT_BEFORE_RELAY_ENV) == "1",
    )
    # XREAD BLOCK must return before the client's socket timeout takes it for an outage.
    revocations = RedisRevocationFeed(
        store.client,
        store.keys.revocations(),
        block_s=min(0.5, settings.redis_timeout / 2),
        lagging=lambda: store.relay.lagging,
    )
    telemetry.instrument_redis(store.client, {s.sha: name for name, s in store.scripts.by_name.items()})
    try:
        await store.load_scripts()
    except SessionError as e:
        # Redis may come later; scripts are then loaded on first use (NOSCRIPT fallback).
        log.warning("Redis not reachable at start (%s); serving NOT_SERVING until it is", e)
    limits = InputLimits()
    codec = JwtCodec(
        keyring, settings.issuer, settings.audience, settings.access_token_ttl, settings.jwt_leeway
    )
    manager = SessionManager(
        store, codec, clock, policy_from(settings, limits), limits, revocations=revocations
    )

    server = grpc.aio.server(
        # The tracing interceptor (if any) comes first, so the error interceptor runs inside its span.
        interceptors=[*telemetry.server_interceptors(), ErrorInterceptor(telemetry.observer())],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    session_pb2_grpc.add_SessionServiceServicer_to_server(SessionServicer(manager), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(f"{_host(settings.host)}:{settings.port}")
    if port == 0:
        await store.close()
        telemetry.close()
        raise OSError(f"could not listen on {settings.host}:{settings.port}")
    try:
        telemetry.serve_metrics(settings.host, settings.metrics_port)
    except OSError as e:
        await store.close()
        telemetry.close()
        raise OSError(f"could not serve metrics on {settings.host}:{settings.metrics_port}: {e}") from e
    service = Service(
        settings, server, port, store, manager, health_servicer, embedded, telemetry, revocations
    )
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await _set_health(service)
    service._tasks.append(asyncio.create_task(_watch_health(service)))
    # Every replica relays: events a failed or dead replica left in outboxes still arrive.
    service._tasks.append(asyncio.create_task(store.relay.run(), name="revocation-relay"))
    await server.start()
    log.info("session-service listening on %s:%d", settings.host, port)
    if telemetry.metrics_port:
        log.info("metrics on http://%s:%d/metrics", settings.host, telemetry.metrics_port)
    log.info("tracing %s", "on: exporting spans over OTLP" if telemetry.tracing else "off")
    return service


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


async def _set_health(service: Service) -> None:
    # Only the service's own status follows Redis (readiness). The server-wide "" status
    # (liveness) stays SERVING, so a Redis outage takes pods out of rotation instead of
    # restarting them all; graceful shutdown flips both.
    try:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that arrives as the ping completes, and then stop() would wait for ever.
        async with asyncio.timeout(service.settings.redis_timeout):
            await service.store.ping()
        status = health_pb2.HealthCheckResponse.SERVING
    except (SessionError, TimeoutError):
        status = health_pb2.HealthCheckResponse.NOT_SERVING
    await service.health.set(SERVICE_NAME, status)


async def _watch_health(service: Service) -> None:
    while not service._stopping.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(service.settings.health_interval):
                await service._stopping.wait()
        if not service._stopping.is_set():
            await _set_health(service)


async def serve(settings: Settings) -> None:
    """Runs until SIGTERM or SIGINT, then drains in-flight calls and stops."""
    service = await start(settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("shutting down: draining in-flight calls for up to %.1fs", settings.shutdown_grace)
    await service.stop()
