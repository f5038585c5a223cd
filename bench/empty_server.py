"""A SessionService whose handlers return an empty response at once: no Redis, no tokens.

It is the baseline of ``rpc_throughput.py``: what grpc.aio itself costs per call on this
machine, the ceiling our service is measured against. Run as
``python bench/empty_server.py --port P``; stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import Any

import grpc
from session_wire.v1 import session_pb2 as pb
from session_wire.v1 import session_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]


class EmptySessionServicer(session_pb2_grpc.SessionServiceServicer):
    """Answers every SessionService call with the empty response message."""

    async def Create(self, request: pb.CreateRequest, context: Context) -> pb.CreateResponse:
        """Returns an empty CreateResponse."""
        return pb.CreateResponse()

    async def Get(self, request: pb.GetRequest, context: Context) -> pb.GetResponse:
        """Returns an empty GetResponse."""
        return pb.GetResponse()

    async def Refresh(self, request: pb.RefreshRequest, context: Context) -> pb.RefreshResponse:
        """Returns an empty RefreshResponse."""
        return pb.RefreshResponse()

    async def Revoke(self, request: pb.RevokeRequest, context: Context) -> pb.RevokeResponse:
        """Returns an empty RevokeResponse."""
        return pb.RevokeResponse()

    async def Introspect(self, request: pb.IntrospectRequest, context: Context) -> pb.IntrospectResponse:
        """Returns an empty IntrospectResponse."""
        return pb.IntrospectResponse()

    async def IntrospectBatch(
        self, request: pb.IntrospectBatchRequest, context: Context
    ) -> pb.IntrospectBatchResponse:
        """Returns an empty IntrospectBatchResponse."""
        return pb.IntrospectBatchResponse()

    async def Update(self, request: pb.UpdateRequest, context: Context) -> pb.UpdateResponse:
        """Returns an empty UpdateResponse."""
        return pb.UpdateResponse()

    async def List(self, request: pb.ListRequest, context: Context) -> pb.ListResponse:
        """Returns an empty ListResponse."""
        return pb.ListResponse()

    async def GetJwks(self, request: pb.GetJwksRequest, context: Context) -> pb.GetJwksResponse:
        """Returns an empty GetJwksResponse."""
        return pb.GetJwksResponse()

    async def WatchRevocations(
        self, request: pb.WatchRevocationsRequest, context: Context
    ) -> AsyncIterator[pb.WatchRevocationsResponse]:
        """Sends one empty, caught-up response and ends."""
        yield pb.WatchRevocationsResponse(caught_up=True)


async def serve(host: str, port: int) -> None:
    """Serves until SIGTERM or SIGINT."""
    # No SO_REUSEPORT, as in our service: a port picked as free must fail loudly if taken.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    session_pb2_grpc.add_SessionServiceServicer_to_server(EmptySessionServicer(), server)
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
    args = parser.parse_args(argv)
    _run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
