"""A SessionService whose handlers return an empty response at once: no Redis, no tokens.

It is the baseline of ``rpc_throughput.py``: what grpc.aio itself costs per call on this
machine, the ceiling our service is measured against. Run as
``python bench/empty_server.py --port P``; stops on SIGTERM or SIGINT.

With ``--one-script`` every unary handler first runs exactly one EVALSHA (a script that
reads a small session-like hash) against a private redis-server it starts like our
service does (unix socket, same redis-py client with hiredis, inheriting the same CPU
pinning): the truer ceiling for an RPC that needs one Redis round trip. With
``--redis-url`` it runs that EVALSHA on the Redis named instead, and with
``--redis-mode cluster`` on a Redis Cluster (seed URLs, comma-separated) through redis-py's
cluster client, so the ceiling is measured on the topology our service runs on. With
``--client lane`` that EVALSHA goes through our service's own lane
(``session_service/store/lane.py``) instead: what one round trip costs the service itself,
before any of its own work (``cost_breakdown.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import Any
from urllib.parse import urlsplit

import grpc
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

from session_service.store.scripts import pack_command

Context = grpc.aio.ServicerContext[Any, Any]


ONE_SCRIPT = "return redis.call('HGETALL', KEYS[1])"
"""The one script of ``--one-script``: as small as a read can be, one round trip."""
ONE_SCRIPT_KEY = "bench:{s}:one"


class OneScript:
    """Runs ONE_SCRIPT once per call when a Redis client is set; does nothing otherwise.

    With a ``lane`` (session_service.store.lane, what our service sends its scripts
    through), the per-call EVALSHA goes through it instead of redis-py; ``client`` still
    loads the script and writes the hash."""

    def __init__(self, client: Any = None, lane: Any = None) -> None:
        self.client = client
        self.lane = lane
        self.sha = ""

    async def load(self) -> None:
        """Registers the script and writes the hash it reads."""
        if self.client is not None:
            self.sha = await self.client.script_load(ONE_SCRIPT)
            await self.client.hset(
                ONE_SCRIPT_KEY, mapping={"u": "bench-user", "c": "1", "a": "1", "i": "2", "x": "3", "v": "1"}
            )

    async def __call__(self) -> None:
        if self.lane is not None:
            command = pack_command("EVALSHA", self.sha, 1, ONE_SCRIPT_KEY)
            await self.lane.call(command, ONE_SCRIPT_KEY, "EVALSHA")
        elif self.client is not None:
            await self.client.evalsha(self.sha, 1, ONE_SCRIPT_KEY)


class EmptySessionServicer(session_pb2_grpc.SessionServiceServicer):
    """Answers every SessionService call with the empty response message."""

    def __init__(self, script: OneScript | None = None) -> None:
        self._script = script or OneScript()

    async def Create(self, request: pb.CreateRequest, context: Context) -> pb.CreateResponse:
        """Returns an empty CreateResponse."""
        await self._script()
        return pb.CreateResponse()

    async def Get(self, request: pb.GetRequest, context: Context) -> pb.GetResponse:
        """Returns an empty GetResponse."""
        await self._script()
        return pb.GetResponse()

    async def Refresh(self, request: pb.RefreshRequest, context: Context) -> pb.RefreshResponse:
        """Returns an empty RefreshResponse."""
        await self._script()
        return pb.RefreshResponse()

    async def Revoke(self, request: pb.RevokeRequest, context: Context) -> pb.RevokeResponse:
        """Returns an empty RevokeResponse."""
        await self._script()
        return pb.RevokeResponse()

    async def Introspect(self, request: pb.IntrospectRequest, context: Context) -> pb.IntrospectResponse:
        """Returns an empty IntrospectResponse."""
        await self._script()
        return pb.IntrospectResponse()

    async def IntrospectBatch(
        self, request: pb.IntrospectBatchRequest, context: Context
    ) -> pb.IntrospectBatchResponse:
        """Returns an empty IntrospectBatchResponse."""
        return pb.IntrospectBatchResponse()

    async def Update(self, request: pb.UpdateRequest, context: Context) -> pb.UpdateResponse:
        """Returns an empty UpdateResponse."""
        await self._script()
        return pb.UpdateResponse()

    async def List(self, request: pb.ListRequest, context: Context) -> pb.ListResponse:
        """Returns an empty ListResponse."""
        await self._script()
        return pb.ListResponse()

    async def Reauthenticate(
        self, request: pb.ReauthenticateRequest, context: Context
    ) -> pb.ReauthenticateResponse:
        """Returns an empty ReauthenticateResponse."""
        await self._script()
        return pb.ReauthenticateResponse()

    async def Exchange(self, request: pb.ExchangeRequest, context: Context) -> pb.ExchangeResponse:
        """Returns an empty ExchangeResponse."""
        await self._script()
        return pb.ExchangeResponse()

    async def GetJwks(self, request: pb.GetJwksRequest, context: Context) -> pb.GetJwksResponse:
        """Returns an empty GetJwksResponse."""
        return pb.GetJwksResponse()

    async def WatchRevocations(
        self, request: pb.WatchRevocationsRequest, context: Context
    ) -> AsyncIterator[pb.WatchRevocationsResponse]:
        """Sends one empty, caught-up response and ends."""
        yield pb.WatchRevocationsResponse(caught_up=True)


def _lane(redis_url: str, redis_mode: str) -> Any:
    # The lane our service builds for the same URL, with its default settings (the
    # bench's Redis has no credentials or TLS).
    from session_service.config import Settings
    from session_service.store.connect import script_lane

    return script_lane(Settings(redis_url=redis_url, redis_mode=redis_mode, dev=True), redis_url)


async def serve(
    host: str,
    port: int,
    one_script: bool = False,
    redis_url: str = "",
    redis_mode: str = "standalone",
    client_kind: str = "redis-py",
) -> None:
    """Serves until SIGTERM or SIGINT."""
    script = OneScript()
    embedded = None
    if one_script:
        from redis.asyncio import Redis
        from redis.asyncio.cluster import ClusterNode, RedisCluster
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        from session_service.store.embedded import RedisServerProcess

        if not redis_url:
            embedded = RedisServerProcess()
            embedded.start()
            redis_url = embedded.url
        # The options of session_service.store.connect.redis_client.
        options: dict[str, Any] = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0}
        if redis_mode == "cluster":
            seeds = [urlsplit(u.strip()) for u in redis_url.split(",")]
            nodes = [ClusterNode(u.hostname or "127.0.0.1", u.port or 6379) for u in seeds]
            client: Any = RedisCluster(startup_nodes=nodes, reinitialize_steps=0, **options)
        else:
            client = Redis.from_url(redis_url, retry=Retry(NoBackoff(), 0), **options)
        script = OneScript(client, _lane(redis_url, redis_mode) if client_kind == "lane" else None)
        await script.load()
    try:
        await _serve(host, port, script)
    finally:
        if embedded is not None:
            embedded.stop()


async def _serve(host: str, port: int, script: OneScript) -> None:
    # No SO_REUSEPORT, as in our service: a port picked as free must fail loudly if taken.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    session_pb2_grpc.add_SessionServiceServicer_to_server(EmptySessionServicer(script), server)
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise OSError(f"could not listen on {host}:{port}")
    await server.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await server.stop(0)


def _run(coro: Coroutine[Any, Any, None]) -> None:
    # The same event loop our service picks, so the comparison is like for like.
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(coro)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument(
        "--one-script", action="store_true", help="run one EVALSHA per unary call on a private redis-server"
    )
    parser.add_argument("--redis-url", default="", help="--one-script on this Redis instead of a private one")
    parser.add_argument("--redis-mode", choices=("standalone", "cluster"), default="standalone")
    parser.add_argument(
        "--client",
        choices=("redis-py", "lane"),
        default="redis-py",
        help="what runs --one-script's EVALSHA: redis-py (the anchor) or our service's lane",
    )
    args = parser.parse_args(argv)
    _run(serve(args.host, args.port, args.one_script, args.redis_url, args.redis_mode, args.client))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
