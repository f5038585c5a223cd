"""Client side of session-service: the generated stubs and the ``sessionctl`` command."""

from session_client._gen.session.v1 import session_pb2, session_pb2_grpc
from session_client.status import ErrorDetails, error_details

__all__ = ["ErrorDetails", "error_details", "session_pb2", "session_pb2_grpc"]
