"""An OTLP/gRPC trace receiver that counts the spans it gets and discards them.

The span sink of ``rpc_throughput.py --tracing``: our service exports to it as to a
collector, and the benchmark reads how many spans arrived. Run as
``python bench/span_sink.py --port P --count-file F``; after every export it rewrites F
with the total number of spans received so far. Stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class CountingReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    """Counts the spans of each export request; keeps nothing else."""

    def __init__(self, count_file: Path) -> None:
        self.spans = 0
        self._count_file = count_file

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        """Counts and discards the request's spans."""
        self.spans += sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        # Written whole and renamed, so a reader never sees half a number.
        partial = self._count_file.with_suffix(".partial")
        partial.write_text(str(self.spans))
        partial.replace(self._count_file)
        return trace_service_pb2.ExportTraceServiceResponse()


async def serve(host: str, port: int, count_file: Path) -> None:
    """Receives spans until SIGTERM or SIGINT."""
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        CountingReceiver(count_file), server
    )
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise OSError(f"could not listen on {host}:{port}")
    await server.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    await server.stop(0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--count-file", type=Path, required=True, help="where the span count is kept")
    args = parser.parse_args(argv)
    args.count_file.write_text("0")
    asyncio.run(serve(args.host, args.port, args.count_file))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
