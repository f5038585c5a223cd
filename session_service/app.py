"""Wiring: settings → Redis, keys, manager → grpc.aio server. The only module that knows everything."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc
from session_wire.ext_authz import external_auth_pb2_grpc
from session_wire.tasks import stop_tasks
from session_wire.v1 import session_pb2, session_pb2_grpc

from session_service.audit import AuditLog
from session_service.config import DEPRECATED_REUSE_MEMORY, Settings
from session_service.domain.activity import ActivityWatch
from session_service.domain.clock import Clock, SystemClock
from session_service.domain.delegation import ExchangeLimits
from session_service.domain.dpop import DpopCheck
from session_service.domain.gateway import GatewayCheck, RevokedSessions
from session_service.domain.manager import SessionManager
from session_service.domain.ports import SessionPolicy
from session_service.domain.risk import Detected, RiskAction, RiskPolicy, RiskSignal
from session_service.domain.upstream import UpstreamSessions
from session_service.domain.validation import InputLimits
from session_service.errors import ConfigError, KeyringError, SessionError
from session_service.security.caller import CallerTokenVerifier
from session_service.security.policy import RPC_NAMES, PolicyFile
from session_service.security.tls import ServerTls
from session_service.security.upstream import (
    LOGOUT_ISSUERS_SETTING,
    SSF_TRANSMITTERS_SETTING,
    SignalVerifier,
    load_issuers,
)
from session_service.store.connect import execution_policy, redis_client, script_lane
from session_service.store.embedded import RedisServerProcess
from session_service.store.outbox import RevocationRelay
from session_service.store.receiver_positions import ReceiverPositions
from session_service.store.redis_store import RedisSessionStore
from session_service.store.revocations import RedisRevocationFeed
from session_service.telemetry import Telemetry
from session_service.tokens.access import JwtCodec
from session_service.tokens.dpop_nonces import StatelessNonces
from session_service.tokens.keyring import Keyring
from session_service.tokens.refresh import KEYS_FILE_SETTING, RefreshTokenCodec, RefreshTokenKeys
from session_service.tokens.security_events import SecurityEventSigner
from session_service.transport import ext_authz
from session_service.transport.admission import Admission
from session_service.transport.backchannel_logout import BackchannelLogout
from session_service.transport.caller_guard import REFLECTION_RPC, CallerGuard, current_caller
from session_service.transport.forward_auth import ForwardAuthServer
from session_service.transport.gateway_http import GatewayDoor, IdentityHeaders
from session_service.transport.pipeline import CallWrapper, WrappingRegistrar
from session_service.transport.servicer import SessionServicer
from session_service.transport.signals_http import SignalRoute, SignalsServer
from session_service.transport.ssf_receiver import SsfReceiver
from session_service.transport.ssf_transmitter import SsfTransmitter, TransmitterOptions, transmitter_routes
from session_service.transport.ssf_transmitter_receivers import Receiver, load_receivers

log = logging.getLogger(__name__)

SERVICE_NAME = session_pb2.DESCRIPTOR.services_by_name["SessionService"].full_name
SERVICE_METHODS = RPC_NAMES
MAX_MESSAGE_BYTES = 1 << 20


def policy_from(settings: Settings, limits: InputLimits) -> SessionPolicy:
    """The session policy the settings describe."""
    return SessionPolicy(
        idle_ms=settings.idle_timeout * 1000,
        absolute_ms=settings.absolute_timeout * 1000,
        refresh_grace_ms=int(settings.refresh_grace * 1000),
        max_sessions=settings.max_sessions_per_user,
        reject_new=settings.limit_policy == "reject-new",
        max_data_entries=limits.max_data_entries,
        max_data_bytes=limits.max_data_bytes,
        create_rate=settings.create_rate_per_user,
        create_burst=settings.create_burst_per_user,
        refresh_rate=settings.refresh_rate_per_user,
        refresh_burst=settings.refresh_burst_per_user,
    )


def risk_policy_from(settings: Settings) -> RiskPolicy:
    """The risk signals' actions and parameters the settings describe."""
    return RiskPolicy(
        actions={
            RiskSignal.NETWORK_CHANGE: RiskAction(settings.risk_network_change),
            RiskSignal.USER_AGENT_CHANGE: RiskAction(settings.risk_user_agent_change),
            RiskSignal.CONCURRENT_NETWORKS: RiskAction(settings.risk_concurrent_networks),
            RiskSignal.ROTATION_BURST: RiskAction(settings.risk_rotation_burst),
        },
        concurrent_window_ms=int(settings.risk_concurrent_window * 1000),
        rotation_burst_limit=settings.risk_rotation_burst_limit,
    )


def _risk_detected(audit: AuditLog, telemetry: Telemetry, d: Detected, session_id: str, user_id: str) -> None:
    audit.session_risk(user_id, session_id, d.signal.value, d.action.value, d.previous, d.current)
    telemetry.metrics.risk_detected(d.signal.value, d.action.value)


def keyring_from(settings: Settings) -> Keyring:
    """Keys from SESSION_KEYS_DIR, or a generated key where that is safe (development)."""
    if settings.keys_dir:
        return Keyring.from_dir(Path(settings.keys_dir), settings.signing_key_id)
    if not settings.embedded_redis and not settings.dev:
        # A key generated per process means every replica rejects the others' tokens and
        # every restart logs everybody out: never what a deployment wants.
        raise KeyringError(
            "must be set when SESSION_REDIS_URL is (generate keys with `session-service generate-key`); "
            "set SESSION_DEV=true to use a throwaway key for development"
        )
    return Keyring.generate(settings.jwt_algorithm)


def refresh_token_keys_from(settings: Settings) -> RefreshTokenKeys:
    """Keys from SESSION_REFRESH_TOKEN_KEYS_FILE, or a generated key where that is safe
    (development), as :func:`keyring_from` decides for the signing keys."""
    if settings.refresh_token_keys_file:
        return RefreshTokenKeys.from_file(Path(settings.refresh_token_keys_file))
    if not settings.embedded_redis and not settings.dev:
        # Each replica would refuse the others' refresh tokens, and a restart every token.
        raise ConfigError(
            KEYS_FILE_SETTING,
            "must be set when SESSION_REDIS_URL is (a line of `openssl rand -base64 32` makes a key); "
            "set SESSION_DEV=true to use a throwaway key for development",
        )
    return RefreshTokenKeys.generate()


class _Security:
    """The caller-facing security parts the settings ask for, released in reverse order."""

    def __init__(self, settings: Settings, audit: AuditLog) -> None:
        self.tls = (
            ServerTls(
                Path(settings.tls_cert_file),
                Path(settings.tls_key_file),
                Path(settings.tls_client_ca_file) if settings.tls_client_ca_file else None,
            )
            if settings.tls
            else None
        )
        self.tokens = (
            CallerTokenVerifier(
                Path(settings.caller_jwks_file),
                issuer=settings.caller_issuer,
                audience=settings.caller_audience,
            )
            if settings.caller_jwks_file
            else None
        )
        self.policy = (
            PolicyFile(
                Path(settings.authz_policy_file),
                rpc_names=(*SERVICE_METHODS, *ext_authz.METHODS, REFLECTION_RPC),
            )
            if settings.authz_policy_file
            else None
        )
        self.guard = CallerGuard(
            mutual_tls=self.tls is not None and self.tls.mutual,
            tokens=self.tokens,
            policy=self.policy,
            audit=audit,
        )

    async def start(self, stack: contextlib.AsyncExitStack) -> None:
        """Starts watching the files; ``stack`` stops the watches again."""
        for part in (self.tls, self.tokens, self.policy):
            if part is not None:
                await part.start()
                stack.push_async_callback(part.close)


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
    health_server: grpc.aio.Server | None = None
    health_port: int = 0
    gateway: GatewayCheck | None = None
    forward_auth_port: int = 0
    signals_port: int = 0
    transmitter: SsfTransmitter | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _resources: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    _gateway_resources: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def stop(self, grace: float | None = None) -> None:
        """Reports NOT_SERVING, drains in-flight calls for ``grace`` seconds, then releases Redis."""
        await self.health.enter_graceful_shutdown()
        if self.revocations is not None:
            # Watch streams never finish on their own; ending them lets their clients
            # reconnect to another replica instead of holding the drain for the full grace.
            await self.revocations.close()
        await self.server.stop(self.settings.shutdown_grace if grace is None else grace)
        if self.health_server is not None:
            await self.health_server.stop(0)
        # The background tasks also watch this flag: a cancellation alone can be lost.
        self._stopping.set()
        await stop_tasks(self._tasks, within=self.settings.redis_timeout + 1, what="stop")
        # Forward-auth and the gateway's revocation follower read the store: they stop before it.
        await self._gateway_resources.aclose()
        await self.store.relay.close()
        await self.store.close()
        await self._resources.aclose()
        if self.telemetry is not None:
            # Exporting the last spans blocks; the event loop must keep running meanwhile.
            await asyncio.to_thread(self.telemetry.close)
        if self.embedded_redis is not None:
            self.embedded_redis.stop()


async def start(
    settings: Settings,
    *,
    clock: Clock | None = None,
    keyring: Keyring | None = None,
    refresh_keys: RefreshTokenKeys | None = None,
    reuse_port: bool = False,
) -> Service:
    """Builds everything from the settings and starts serving; all slow work happens here.

    ``keyring`` and ``refresh_keys`` replace the keys the settings name (worker processes
    share the supervisor's); ``reuse_port`` lets several worker processes listen on the
    same ports (session_service.workers)."""
    # Both before the embedded Redis starts: a missing key is a ConfigError that starts nothing.
    keyring = keyring or keyring_from(settings)
    refresh_keys = refresh_keys or refresh_token_keys_from(settings)
    embedded = None
    url = settings.redis_url
    if settings.embedded_redis:
        embedded = RedisServerProcess(settings.redis_server_binary)
        await asyncio.to_thread(embedded.start)
        url = embedded.url
        log.warning("no SESSION_REDIS_URL set: started a private redis-server at %s (development only)", url)
    try:
        return await _start(
            settings,
            url,
            embedded,
            clock or SystemClock(),
            keyring,
            refresh_keys,
            reuse_port,
        )
    except BaseException:
        if embedded is not None:
            embedded.stop()
        raise


async def _start(
    settings: Settings,
    url: str,
    embedded: RedisServerProcess | None,
    clock: Clock,
    keyring: Keyring,
    refresh_keys: RefreshTokenKeys,
    reuse_port: bool,
) -> Service:
    # Everything acquired is released, in reverse, if a later step fails; once the service
    # is up, Service.stop releases it instead.
    async with contextlib.AsyncExitStack() as cleanup:
        service = await _build(settings, url, embedded, clock, keyring, refresh_keys, reuse_port, cleanup)
        cleanup.pop_all()
    return service


async def _build(
    settings: Settings,
    url: str,
    embedded: RedisServerProcess | None,
    clock: Clock,
    keyring: Keyring,
    refresh_keys: RefreshTokenKeys,
    reuse_port: bool,
    cleanup: contextlib.AsyncExitStack,
) -> Service:
    """Builds and starts the service, registering on ``cleanup`` how to release each part."""
    telemetry = Telemetry.from_environ()
    cleanup.callback(telemetry.close)
    audit = AuditLog(clock)
    security = _Security(settings, audit)  # ConfigError on a bad file: before anything starts
    receivers = (
        load_receivers(Path(settings.ssf_receivers_file), dev=settings.dev)
        if settings.ssf_receivers_file
        else ()
    )
    if settings.refresh_reuse_memory != DEPRECATED_REUSE_MEMORY:
        log.warning(
            "SESSION_REFRESH_REUSE_MEMORY is deprecated and ignored: a rotated refresh token is "
            "recognised after any number of rotations; remove the setting"
        )
    store = RedisSessionStore(
        redis_client(settings, url),
        settings.redis_prefix,
        execution_policy(settings),
        lane=script_lane(settings, url, telemetry.round_trip_spans()),
        revocation_window_ms=(settings.access_token_ttl + settings.jwt_leeway) * 1000,
        redis_timeout=settings.redis_timeout,
        compact=settings.redis_compact_sessions,
    )
    cleanup.push_async_callback(store.close)
    # XREAD BLOCK must return before the client's socket timeout takes it for an outage.
    revocations = RedisRevocationFeed(
        store.client,
        store.keys.revocations(),
        block_s=min(0.5, settings.redis_timeout / 2),
        lagging=lambda: store.relay.lagging,
        # The gateway check follows this feed too, and trusts it only while it hears from it.
        heartbeat_s=min(1.0, settings.gateway_freshness / 3),
    )
    telemetry.instrument_redis(store.client, {s.sha: name for name, s in store.scripts.by_name.items()})
    telemetry.watch_relay(store.relay)
    try:
        await store.load_scripts()
    except SessionError as e:
        # Redis may come later; scripts are then loaded on first use (NOSCRIPT fallback).
        log.warning("Redis not reachable at start (%s); serving NOT_SERVING until it is", e)
    limits = InputLimits()
    codec = JwtCodec(
        keyring, settings.issuer, settings.audience, settings.access_token_ttl, settings.jwt_leeway
    )
    dpop = DpopCheck(
        store,
        clock,
        max_age_s=settings.dpop_proof_max_age,
        leeway_s=settings.jwt_leeway,
        algorithms=settings.dpop_algorithm_list,
        nonces=StatelessNonces.from_keyring(keyring, settings.dpop_proof_max_age)
        if settings.dpop_nonces
        else None,
    )
    manager = SessionManager(
        store,
        codec,
        clock,
        policy_from(settings, limits),
        limits,
        refresh_tokens=RefreshTokenCodec(refresh_keys),
        revocations=revocations,
        on_ended=lambda ended: audit.sessions_ended(ended, current_caller.get()),
        verified_tokens=settings.gateway_cache_size,
        dpop=dpop,
        exchange_limits=ExchangeLimits(settings.exchange_max_ttl, settings.exchange_max_depth),
        impersonation_max_ttl_s=settings.impersonation_max_ttl,
        activity=ActivityWatch(
            store,
            risk_policy_from(settings),
            on_risk=lambda d, session_id, user_id: _risk_detected(audit, telemetry, d, session_id, user_id),
            on_ended=lambda ended: audit.sessions_ended(ended, current_caller.get()),
        ),
    )

    # No interceptor: every handler is registered already wrapped (errors mapped, caller
    # guarded and admitted, outcome observed, the span of a sampled call started), so that
    # work costs no interceptor's per-call coroutine.
    observer = telemetry.observer()
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            # Off unless workers share the port: a port picked as free must fail loudly if taken.
            ("grpc.so_reuseport", 1 if reuse_port else 0),
        ],
    )
    wrapped = WrappingRegistrar(
        server,
        CallWrapper(
            observer,
            security.guard if security.guard.active else None,
            Admission(
                max_concurrent_rpcs=settings.max_concurrent_rpcs,
                max_watchers=settings.max_watchers,
                max_watchers_per_caller=settings.max_watchers_per_caller,
                caller_rate_limit=settings.caller_rate_limit,
            ),
        ),
    ).as_server()
    servicer = SessionServicer(
        manager,
        audit,
        session_callers=security.guard.session_callers if settings.bind_sessions_to_caller else None,
        exchange_grants=security.guard.exchange_grant,
        may_impersonate=security.guard.may_impersonate,
    )
    session_pb2_grpc.add_SessionServiceServicer_to_server(servicer, wrapped)
    gateway = _gateway_check(settings, manager, revocations, store.relay, clock, limits, dpop)
    door = GatewayDoor(
        gateway,
        IdentityHeaders(*settings.gateway_headers),
        settings.forward_auth_cookie,
        telemetry.metrics.gateway_decided,
        trusted_proxies=settings.gateway_trusted_proxies,
    )
    external_auth_pb2_grpc.add_AuthorizationServicer_to_server(ext_authz.ExtAuthzServicer(door), wrapped)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, wrapped)
    # enable_server_reflection picks the asyncio servicer only for a real grpc.aio.Server.
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        reflection.aio.ReflectionServicer(
            (SERVICE_NAME, ext_authz.SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME)
        ),
        wrapped,
    )
    address = f"{_host(settings.host)}:{settings.port}"
    if security.tls is not None:
        port = server.add_secure_port(address, security.tls.server_credentials())
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not listen on {settings.host}:{settings.port}")
    observer.listening(settings.host, port)
    health_server, health_port = None, 0
    if settings.health_port:
        # Kubernetes gRPC probes speak plaintext only: health alone gets a plaintext port.
        health_server = grpc.aio.server(options=[("grpc.so_reuseport", 1 if reuse_port else 0)])
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, health_server)
        health_port = health_server.add_insecure_port(f"{_host(settings.host)}:{settings.health_port}")
        if health_port == 0:
            raise OSError(f"could not listen on {settings.host}:{settings.health_port}")
    try:
        telemetry.serve_metrics(settings.host, settings.metrics_port)
    except OSError as e:
        raise OSError(f"could not serve metrics on {settings.host}:{settings.metrics_port}: {e}") from e
    service = Service(
        settings,
        server,
        port,
        store,
        manager,
        health_servicer,
        embedded,
        telemetry,
        revocations,
        health_server,
        health_port,
    )
    service.gateway = gateway
    cleanup.push_async_callback(service._resources.aclose)
    await security.start(service._resources)
    cleanup.push_async_callback(service._gateway_resources.aclose)
    try:
        service.forward_auth_port = await _start_gateway(
            settings, gateway, door, service._gateway_resources, reuse_port
        )
    except OSError as e:
        raise OSError(
            f"could not serve forward-auth on {settings.host}:{settings.forward_auth_port}: {e}"
        ) from e
    try:
        service.signals_port = await _start_signals(
            settings,
            _signal_routes(settings, store, clock, audit) + _transmitter_routes(settings, keyring, receivers),
            security.tls,
            service._gateway_resources,
            reuse_port,
        )
    except OSError as e:
        raise OSError(f"could not serve signals on {settings.host}:{settings.signals_port}: {e}") from e
    for key in keyring.keys.values():
        audit.signing_key_loaded(key.kid, key.algorithm)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await _set_health(service)
    service._tasks.append(asyncio.create_task(_watch_health(service)))
    # Every replica relays: events a failed or dead replica left in outboxes still arrive.
    service._tasks.append(asyncio.create_task(store.relay.run(service._stopping), name="revocation-relay"))
    if receivers:
        service.transmitter = _transmitter(settings, receivers, store, revocations, keyring, clock, telemetry)
        await service.transmitter.start()
        # Closed before the store (and the feed it follows) with the signals door.
        service._gateway_resources.push_async_callback(service.transmitter.close)
    await server.start()
    if health_server is not None:
        await health_server.start()
        log.info("plaintext health checks on %s:%d", settings.host, health_port)
    log.info(
        "session-service listening on %s:%d (%s)",
        settings.host,
        port,
        "mTLS" if security.tls and security.tls.mutual else "TLS" if security.tls else "plaintext",
    )
    if security.policy is None:
        # Settings refuse this outside development unless it was asked for in words.
        log.warning(
            "INSECURE: no authorization policy: any process that reaches port %d can create "
            "sessions for any user and revoke anyone's. Set SESSION_TLS_CLIENT_CA_FILE or "
            "SESSION_CALLER_JWKS_FILE, and SESSION_AUTHZ_POLICY_FILE, for production.",
            port,
        )
    if telemetry.metrics_port:
        log.info("metrics on http://%s:%d/metrics", settings.host, telemetry.metrics_port)
    log.info("tracing %s", "on: exporting spans over OTLP" if telemetry.tracing else "off")
    return service


def _gateway_check(
    settings: Settings,
    manager: SessionManager,
    revocations: RedisRevocationFeed,
    relay: RevocationRelay,
    clock: Clock,
    limits: InputLimits,
    dpop: DpopCheck,
) -> GatewayCheck:
    """The check behind Envoy's Check and forward-auth: local (following the server's own
    revocation feed, as WatchRevocations does) or authoritative, as SESSION_GATEWAY_MODE says."""
    revoked = None
    if settings.gateway_mode == "local":
        revoked = RevokedSessions(
            revocations,
            clock,
            max_silence_s=settings.gateway_freshness,
            leeway_s=settings.jwt_leeway,
            relay_lagging=lambda: relay.lagging,
        )
    return GatewayCheck(
        manager.access,
        clock,
        revoked=revoked,
        max_token=limits.max_token,
        dpop=dpop,
        activity=manager.activity,
    )


async def _start_gateway(
    settings: Settings,
    gateway: GatewayCheck,
    door: GatewayDoor,
    stack: contextlib.AsyncExitStack,
    reuse_port: bool = False,
) -> int:
    """Starts the forward-auth endpoint; returns its port. Both stop with ``stack``.

    Local checks follow the revocation feed from the first check on and read the store
    until it has caught up: serving need not wait."""
    if gateway.revoked is not None:
        stack.push_async_callback(gateway.revoked.close)
    port = 0
    if settings.forward_auth_port:
        forward_auth = ForwardAuthServer(door, settings.forward_auth_client_cert_header)
        port = await forward_auth.start(settings.host, settings.forward_auth_port, reuse_port=reuse_port)
        stack.push_async_callback(forward_auth.close)
        log.info("forward-auth on http://%s:%d/auth", settings.host, port)
    return port


def _signal_routes(
    settings: Settings, store: RedisSessionStore, clock: Clock, audit: AuditLog
) -> list[SignalRoute]:
    """The routes of every feature the settings turn on, served together on the signals door."""
    routes: list[SignalRoute] = []
    upstream = UpstreamSessions(
        store,
        clock,
        lambda issuer, ended, event: audit.upstream_sessions_ended(issuer, ended, event),
    )
    max_age_s = settings.signals_max_token_age
    if settings.oidc_logout_issuers_file:
        issuers = load_issuers(Path(settings.oidc_logout_issuers_file), LOGOUT_ISSUERS_SETTING)
        verifier = SignalVerifier(issuers, LOGOUT_ISSUERS_SETTING, max_age_s=max_age_s, clock=clock)
        routes += BackchannelLogout(verifier, upstream).routes()
    if settings.ssf_transmitters_file:
        transmitters = load_issuers(
            Path(settings.ssf_transmitters_file), SSF_TRANSMITTERS_SETTING, transmitters=True
        )
        verifier = SignalVerifier(transmitters, SSF_TRANSMITTERS_SETTING, max_age_s=max_age_s, clock=clock)
        routes += SsfReceiver(verifier, upstream).routes()
    return routes


def _transmitter_routes(
    settings: Settings, keyring: Keyring, receivers: tuple[Receiver, ...]
) -> list[SignalRoute]:
    """The SSF transmitter's metadata and JWK Set, when it has receivers."""
    if not receivers:
        return []
    return transmitter_routes(settings.issuer, SecurityEventSigner(keyring), settings.ssf_public_url)


def _transmitter(
    settings: Settings,
    receivers: tuple[Receiver, ...],
    store: RedisSessionStore,
    revocations: RedisRevocationFeed,
    keyring: Keyring,
    clock: Clock,
    telemetry: Telemetry,
) -> SsfTransmitter:
    """The SSF transmitter pushing every revocation to the receivers, one replica each."""
    positions = ReceiverPositions(store.client, store.keys, store.scripts, store.runner)
    options = TransmitterOptions(
        issuer=settings.issuer,
        max_concurrent_pushes=settings.ssf_max_concurrent_pushes,
        max_backoff=settings.ssf_max_backoff,
        push_timeout=settings.ssf_push_timeout,
        lease_ttl=settings.ssf_lease_ttl,
    )
    return SsfTransmitter(
        receivers, revocations, positions, SecurityEventSigner(keyring), clock, options, telemetry.metrics
    )


async def _start_signals(
    settings: Settings,
    routes: list[SignalRoute],
    tls: ServerTls | None,
    stack: contextlib.AsyncExitStack,
    reuse_port: bool = False,
) -> int:
    """Starts the signals door when SESSION_SIGNALS_PORT is set; returns its port (0: off).
    It stops with ``stack``, before the store its handlers use."""
    if not settings.signals_port:
        return 0
    door = SignalsServer(routes, tls=tls, cert_file=settings.tls_cert_file, key_file=settings.tls_key_file)
    port = await door.start(settings.host, settings.signals_port, reuse_port=reuse_port)
    stack.push_async_callback(door.close)
    log.info(
        "signals on %s://%s:%d (%s)", door.scheme, settings.host, port, ", ".join(door.paths) or "no routes"
    )
    return port


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


async def serve(
    settings: Settings,
    *,
    keyring: Keyring | None = None,
    refresh_keys: RefreshTokenKeys | None = None,
    reuse_port: bool = False,
) -> None:
    """Runs until SIGTERM or SIGINT, then drains in-flight calls and stops."""
    service = await start(settings, keyring=keyring, refresh_keys=refresh_keys, reuse_port=reuse_port)
    # What start-up built lives as long as the process: moving it out of the collected
    # generations keeps every later full collection (a pause of the event loop) short.
    gc.collect()
    gc.freeze()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("shutting down: draining in-flight calls for up to %.1fs", settings.shutdown_grace)
    await service.stop()


def run_event_loop(coro: object) -> None:
    """Runs ``coro`` to completion on uvloop when it is installed, else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)  # type: ignore[arg-type]
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(coro)  # type: ignore[arg-type]
