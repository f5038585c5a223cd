"""Envoy external authorization (``envoy.service.auth.v3.Authorization/Check``) stubs,
generated from the wire-compatible subset in ``protos/envoy`` (see its README.md):
``external_auth_pb2``/``_grpc``, ``attribute_context_pb2``, ``base_pb2`` (headers) and
``http_status_pb2``. Not Envoy's own generated code, so they do not collide with
``opentelemetry-proto`` as ``xds-protos`` does."""
