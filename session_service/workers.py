"""``--workers N``: N server processes sharing one port, so every core serves.

Python serves one core per process. The parent forks N workers before any of them starts
gRPC; each runs the whole service (:func:`session_service.app.serve`) with SO_REUSEPORT on
the same gRPC, health and forward-auth ports, its own Redis pool, outbox relay and
revocation feed, and metrics on ``metrics_port + i``. The kernel spreads new connections
over the workers. What must be the same in every worker is decided once, in the parent:
the port (a free one when 0 is asked for), the signing keys and refresh-token keys (a
generated development key would otherwise differ per worker, and each would reject the
others' tokens) and, without SESSION_REDIS_URL, the one private redis-server they share.

The parent forwards SIGTERM and SIGINT to the workers, waits for them to drain and exits
with them. A worker that dies on its own takes the others down, so the orchestrator sees a
failed process and restarts it rather than a replica quietly serving with fewer cores.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import multiprocessing.connection
import signal
import socket
import sys
from types import FrameType

from session_service.config import Settings
from session_service.errors import ConfigError
from session_service.store.embedded import RedisServerProcess, die_with_parent
from session_service.tokens.keyring import Keyring
from session_service.tokens.refresh import RefreshTokenKeys

log = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run(settings: Settings) -> int:
    """Runs ``settings.workers`` worker processes until they exit; the exit code."""
    from session_service.app import keyring_from, refresh_token_keys_from

    # Before the shared Redis replaces the embedded one, which allows generated keys.
    keyring, refresh_keys = keyring_from(settings), refresh_token_keys_from(settings)
    embedded = None
    if settings.embedded_redis:
        embedded = RedisServerProcess(settings.redis_server_binary)
        embedded.start()
        log.warning(
            "no SESSION_REDIS_URL set: started a private redis-server at %s for %d workers "
            "(development only)",
            embedded.url,
            settings.workers,
        )
    try:
        shared = dataclasses.replace(
            settings,
            workers=1,
            port=settings.port or _free_port(settings.host),
            redis_url=embedded.url if embedded is not None else settings.redis_url,
            # Judged at start with the embedded Redis (development); naming its URL must
            # not make the workers' settings look like production.
            allow_unauthenticated_callers=settings.allow_unauthenticated_callers or embedded is not None,
        )
        return _supervise(shared, settings.workers, keyring, refresh_keys)
    finally:
        if embedded is not None:
            embedded.stop()


def worker_settings(shared: Settings, index: int) -> Settings:
    """Worker ``index``'s settings: the shared ones, with its own metrics port."""
    return dataclasses.replace(shared, metrics_port=shared.metrics_port + index if shared.metrics_port else 0)


def _supervise(shared: Settings, count: int, keyring: Keyring, refresh_keys: RefreshTokenKeys) -> int:
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in _STOP_SIGNALS}
    # Forked before anything in this process started gRPC or an event loop (fork-safe).
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(
            target=_worker,
            args=(worker_settings(shared, i), keyring, refresh_keys),
            name=f"session-worker-{i}",
        )
        for i in range(count)
    ]
    try:
        for worker in workers:
            worker.start()
        log.info("serving on port %d with %d worker processes", shared.port, count)
        while not stopping and all(w.is_alive() for w in workers):
            multiprocessing.connection.wait([w.sentinel for w in workers], timeout=0.2)
        if not stopping:
            died = next(w for w in workers if not w.is_alive())
            log.error("worker %s exited with %s: stopping the others", died.name, died.exitcode)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()  # SIGTERM: the worker drains its calls, as a single process does
        for worker in workers:
            worker.join(shared.shutdown_grace + 5)
            if worker.is_alive():
                worker.kill()
                worker.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stopping:
        return 0
    codes = {abs(w.exitcode or 0) for w in workers}
    return 2 if 2 in codes else max(1, *codes)


def _worker(settings: Settings, keyring: Keyring, refresh_keys: RefreshTokenKeys) -> None:
    die_with_parent()
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)  # app.serve installs its own in the event loop
    from session_service.app import run_event_loop, serve

    try:
        run_event_loop(serve(settings, keyring=keyring, refresh_keys=refresh_keys, reuse_port=True))
    except KeyboardInterrupt:
        sys.exit(0)
    except ConfigError as e:
        # A file the worker loads itself (TLS, caller keys, policy) is invalid: the same clean
        # message and exit status 2 as the single-process start, which the parent passes on.
        print(f"session-service: invalid configuration: {e}", file=sys.stderr)
        sys.exit(2)


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port
