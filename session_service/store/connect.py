"""Builds the redis-py asyncio client from settings (hiredis is used when installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.cluster import LoadBalancingStrategy

from session_service.config import Settings
from session_service.errors import ConfigError
from session_service.store.execution import ExecutionPolicy


def execution_policy(settings: Settings) -> ExecutionPolicy:
    """Retry budget and durability from the settings."""
    return ExecutionPolicy(
        retry_timeout=settings.redis_retry_timeout,
        wait_replicas=settings.redis_wait_replicas,
        wait_timeout_ms=max(1, int(settings.redis_wait_timeout * 1000)),
    )


def redis_client(settings: Settings, url: str) -> Any:
    """A standalone or cluster client for ``url`` (comma-separated seeds in cluster mode)."""
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
        "decode_responses": False,
        # No retries inside redis-py: store/execution.py decides what is safe to retry.
        "retry": Retry(NoBackoff(), 0),
    }
    if settings.redis_password_file:
        try:
            options["password"] = Path(settings.redis_password_file).read_text().strip()
        except OSError as e:
            raise ConfigError("SESSION_REDIS_PASSWORD_FILE", str(e)) from e
    if settings.redis_tls_ca_file:
        if not Path(settings.redis_tls_ca_file).is_file():
            raise ConfigError("SESSION_REDIS_TLS_CA_FILE", "file not found")
        options["ssl_ca_certs"] = settings.redis_tls_ca_file
    if settings.redis_mode == "cluster":
        if settings.redis_read_from_replicas:
            options["load_balancing_strategy"] = LoadBalancingStrategy.ROUND_ROBIN_REPLICAS
        return _cluster_client(url, options)
    try:
        return Redis.from_url(url, **options)
    except ValueError as e:
        raise ConfigError("SESSION_REDIS_URL", str(e)) from e


def _cluster_client(urls: str, options: dict[str, Any]) -> Any:
    nodes = []
    tls = False
    for raw in urls.split(","):
        parts = urlsplit(raw.strip())
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ConfigError("SESSION_REDIS_URL", f"{raw!r} is not a redis:// or rediss:// URL")
        tls = tls or parts.scheme == "rediss"
        if parts.username:
            options["username"] = parts.username
        if parts.password and "password" not in options:
            options["password"] = parts.password
        nodes.append(ClusterNode(parts.hostname, parts.port or 6379))
    if tls:
        options["ssl"] = True
    # After every few MOVED replies redis-py would otherwise close the whole client to
    # re-read the topology, cutting the replies of calls in flight on other connections
    # (a lost reply makes a Create fail, see execution.py). Patching the slot map from
    # each MOVED, which it also does, is enough during resharding.
    return RedisCluster(startup_nodes=nodes, reinitialize_steps=0, **options)
