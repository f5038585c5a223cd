"""Envoy external authorization over gRPC: ``envoy.service.auth.v3.Authorization/Check``.

A thin door over :class:`~session_service.transport.gateway_http.GatewayDoor`: it reads
the request headers Envoy sends (the ``headers`` map, or ``header_map`` with Envoy's
``encode_raw_headers``), and answers with a ``CheckResponse``:

- allowed: status OK and an ``ok_response`` that sets the identity headers (overwriting
  any the client sent) and removes the identity headers that have no value, so no
  client-supplied copy reaches the upstream;
- refused: status UNAUTHENTICATED and a ``denied_response`` 401 with
  ``WWW-Authenticate: Bearer`` (RFC 6750) or, for ``Authorization: DPoP``, ``DPoP``
  (RFC 9449; the proof is checked against the method, scheme, host and path of the
  request's attributes); UNAVAILABLE and 503 when the store could not be read.

A route serving another audience than ``SESSION_AUDIENCE`` names it in its per-route
ext_authz ``context_extensions`` (``aud: orders-api``), which only Envoy's configuration
sets. A token bound to a client certificate (RFC 8705) passes only with the certificate
the client presented to Envoy, the request's ``source.certificate`` attribute (the
filter's ``include_peer_certificate: true``).

A route's requirements (RFC 9470, RFC 6750) are ``context_extensions`` too: ``max_age``
(seconds), ``acr_values`` and ``scope`` (space-separated). Unmet, the answer is a
``denied_response`` 401 with an ``insufficient_user_authentication`` challenge or 403
``insufficient_scope`` (status PERMISSION_DENIED); a malformed one is a 500
(FAILED_PRECONDITION), never a pass.

The call itself goes through the same interceptor as every RPC: the caller (Envoy, the
Istio sidecar, Envoy Gateway) must be allowed ``Check`` by the authorization policy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.rpc import status_pb2
from session_wire.assurance import Requirement
from session_wire.ext_authz import attribute_context_pb2, base_pb2, external_auth_pb2, external_auth_pb2_grpc
from session_wire.ext_authz import http_status_pb2 as http_status

from session_service.transport.gateway_http import GatewayDoor, HttpAnswer, misconfigured_route

Context = grpc.aio.ServicerContext[Any, Any]

SERVICE_NAME = external_auth_pb2.DESCRIPTOR.services_by_name["Authorization"].full_name
"""``envoy.service.auth.v3.Authorization``."""
METHODS = tuple(m.name for m in external_auth_pb2.DESCRIPTOR.services_by_name["Authorization"].methods)
"""``("Check",)``: the names the authorization policy accepts for this service."""

AUDIENCE_EXTENSION = "aud"
"""The route's ``context_extensions`` key naming the audience its tokens must be for."""

DOOR = "envoy"
"""This transport's name in the gateway_checks_total metric."""

_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
_STATUS_FOR_HTTP = {
    200: (grpc.StatusCode.OK, http_status.OK),
    401: (grpc.StatusCode.UNAUTHENTICATED, http_status.Unauthorized),
    403: (grpc.StatusCode.PERMISSION_DENIED, http_status.Forbidden),
    500: (grpc.StatusCode.FAILED_PRECONDITION, http_status.InternalServerError),
    503: (grpc.StatusCode.UNAVAILABLE, http_status.ServiceUnavailable),
}


class ExtAuthzServicer(external_auth_pb2_grpc.AuthorizationServicer):
    """Serves Envoy's ``Check`` from the gateway check."""

    def __init__(self, door: GatewayDoor) -> None:
        self._door = door

    async def Check(
        self, request: external_auth_pb2.CheckRequest, context: Context
    ) -> external_auth_pb2.CheckResponse:
        """Allows a request with a valid access token, with the identity headers set upstream."""
        attributes = request.attributes
        http = attributes.request.http
        extensions = attributes.context_extensions
        try:
            requirement = Requirement.parse(lambda name: [extensions[name]] if name in extensions else [])
        except ValueError as e:
            return check_response(misconfigured_route(f"ext_authz context_extensions: {e}"))
        answer = await self._door.answer(
            _header_lookup(http),
            DOOR,
            _client_request(http),
            audience=attributes.context_extensions.get(AUDIENCE_EXTENSION, ""),
            peer_certificate=attributes.source.certificate or None,
            requirement=requirement,
            # Envoy (use_remote_address: true) appends its downstream peer to X-Forwarded-For.
            peer=None,
        )
        return check_response(answer)


def check_response(answer: HttpAnswer) -> external_auth_pb2.CheckResponse:
    """The CheckResponse of a gateway answer."""
    code, http = _STATUS_FOR_HTTP[answer.status]
    status = status_pb2.Status(code=code.value[0])
    if answer.allowed:
        return external_auth_pb2.CheckResponse(
            status=status,
            ok_response=external_auth_pb2.OkHttpResponse(
                headers=[_option(name, value) for name, value in answer.upstream_headers],
                headers_to_remove=answer.upstream_headers_to_remove,
            ),
        )
    status.message = answer.body.strip()
    return external_auth_pb2.CheckResponse(
        status=status,
        denied_response=external_auth_pb2.DeniedHttpResponse(
            status=http_status.HttpStatus(code=http),
            headers=[_option(name, value) for name, value in answer.client_headers],
            body=answer.body,
        ),
    )


def _option(name: str, value: str) -> base_pb2.HeaderValueOption:
    return base_pb2.HeaderValueOption(
        header=base_pb2.HeaderValue(key=name, value=value), append_action=_OVERWRITE
    )


def _client_request(http: attribute_context_pb2.AttributeContext.HttpRequest) -> tuple[str, str] | None:
    """The method and absolute URI of the request Envoy asks about (what a DPoP proof is for)."""
    if not (http.method and http.host and http.path):
        return None
    return http.method, f"{http.scheme or 'http'}://{http.host}{http.path}"


def _header_lookup(http: attribute_context_pb2.AttributeContext.HttpRequest) -> Callable[[str], str | None]:
    if http.headers:
        # Envoy lower-cases the names; the copy also covers other senders of CheckRequests.
        return {k.lower(): v for k, v in http.headers.items()}.get
    found: dict[str, str] = {}
    for h in http.header_map.headers:
        # The first of repeated headers counts, as in the map form's first value.
        found.setdefault(h.key.lower(), h.value or h.raw_value.decode("utf-8", "replace"))
    return found.get
