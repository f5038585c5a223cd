// Original file: ../../protos/session/v1/session.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateRequest as _session_v1_CreateRequest, CreateRequest__Output as _session_v1_CreateRequest__Output } from '../../session/v1/CreateRequest';
import type { CreateResponse as _session_v1_CreateResponse, CreateResponse__Output as _session_v1_CreateResponse__Output } from '../../session/v1/CreateResponse';
import type { ExchangeRequest as _session_v1_ExchangeRequest, ExchangeRequest__Output as _session_v1_ExchangeRequest__Output } from '../../session/v1/ExchangeRequest';
import type { ExchangeResponse as _session_v1_ExchangeResponse, ExchangeResponse__Output as _session_v1_ExchangeResponse__Output } from '../../session/v1/ExchangeResponse';
import type { GetJwksRequest as _session_v1_GetJwksRequest, GetJwksRequest__Output as _session_v1_GetJwksRequest__Output } from '../../session/v1/GetJwksRequest';
import type { GetJwksResponse as _session_v1_GetJwksResponse, GetJwksResponse__Output as _session_v1_GetJwksResponse__Output } from '../../session/v1/GetJwksResponse';
import type { GetRequest as _session_v1_GetRequest, GetRequest__Output as _session_v1_GetRequest__Output } from '../../session/v1/GetRequest';
import type { GetResponse as _session_v1_GetResponse, GetResponse__Output as _session_v1_GetResponse__Output } from '../../session/v1/GetResponse';
import type { IntrospectBatchRequest as _session_v1_IntrospectBatchRequest, IntrospectBatchRequest__Output as _session_v1_IntrospectBatchRequest__Output } from '../../session/v1/IntrospectBatchRequest';
import type { IntrospectBatchResponse as _session_v1_IntrospectBatchResponse, IntrospectBatchResponse__Output as _session_v1_IntrospectBatchResponse__Output } from '../../session/v1/IntrospectBatchResponse';
import type { IntrospectRequest as _session_v1_IntrospectRequest, IntrospectRequest__Output as _session_v1_IntrospectRequest__Output } from '../../session/v1/IntrospectRequest';
import type { IntrospectResponse as _session_v1_IntrospectResponse, IntrospectResponse__Output as _session_v1_IntrospectResponse__Output } from '../../session/v1/IntrospectResponse';
import type { ListRequest as _session_v1_ListRequest, ListRequest__Output as _session_v1_ListRequest__Output } from '../../session/v1/ListRequest';
import type { ListResponse as _session_v1_ListResponse, ListResponse__Output as _session_v1_ListResponse__Output } from '../../session/v1/ListResponse';
import type { ReauthenticateRequest as _session_v1_ReauthenticateRequest, ReauthenticateRequest__Output as _session_v1_ReauthenticateRequest__Output } from '../../session/v1/ReauthenticateRequest';
import type { ReauthenticateResponse as _session_v1_ReauthenticateResponse, ReauthenticateResponse__Output as _session_v1_ReauthenticateResponse__Output } from '../../session/v1/ReauthenticateResponse';
import type { RefreshRequest as _session_v1_RefreshRequest, RefreshRequest__Output as _session_v1_RefreshRequest__Output } from '../../session/v1/RefreshRequest';
import type { RefreshResponse as _session_v1_RefreshResponse, RefreshResponse__Output as _session_v1_RefreshResponse__Output } from '../../session/v1/RefreshResponse';
import type { RevokeRequest as _session_v1_RevokeRequest, RevokeRequest__Output as _session_v1_RevokeRequest__Output } from '../../session/v1/RevokeRequest';
import type { RevokeResponse as _session_v1_RevokeResponse, RevokeResponse__Output as _session_v1_RevokeResponse__Output } from '../../session/v1/RevokeResponse';
import type { UpdateRequest as _session_v1_UpdateRequest, UpdateRequest__Output as _session_v1_UpdateRequest__Output } from '../../session/v1/UpdateRequest';
import type { UpdateResponse as _session_v1_UpdateResponse, UpdateResponse__Output as _session_v1_UpdateResponse__Output } from '../../session/v1/UpdateResponse';
import type { WatchRevocationsRequest as _session_v1_WatchRevocationsRequest, WatchRevocationsRequest__Output as _session_v1_WatchRevocationsRequest__Output } from '../../session/v1/WatchRevocationsRequest';
import type { WatchRevocationsResponse as _session_v1_WatchRevocationsResponse, WatchRevocationsResponse__Output as _session_v1_WatchRevocationsResponse__Output } from '../../session/v1/WatchRevocationsResponse';

/**
 * SessionService owns user sessions: server-side state in Redis, short-lived
 * JWT access tokens that any service can verify locally, and rotating opaque
 * refresh tokens with reuse (theft) detection.
 * 
 * Every failure carries a google.rpc.Status with a google.rpc.ErrorInfo
 * (domain "session.v1", a stable UPPER_SNAKE reason) and, for bad input, a
 * google.rpc.BadRequest listing the offending fields.
 */
export interface SessionServiceClient extends grpc.Client {
  /**
   * Create starts a brand-new session for an already authenticated user.
   */
  Create(argument: _session_v1_CreateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_CreateResponse__Output>): grpc.ClientUnaryCall;
  Create(argument: _session_v1_CreateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_CreateResponse__Output>): grpc.ClientUnaryCall;
  Create(argument: _session_v1_CreateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_CreateResponse__Output>): grpc.ClientUnaryCall;
  Create(argument: _session_v1_CreateRequest, callback: grpc.requestCallback<_session_v1_CreateResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Create starts a brand-new session for an already authenticated user.
   */
  create(argument: _session_v1_CreateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_CreateResponse__Output>): grpc.ClientUnaryCall;
  create(argument: _session_v1_CreateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_CreateResponse__Output>): grpc.ClientUnaryCall;
  create(argument: _session_v1_CreateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_CreateResponse__Output>): grpc.ClientUnaryCall;
  create(argument: _session_v1_CreateRequest, callback: grpc.requestCallback<_session_v1_CreateResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Exchange trades one of our access tokens for a narrower one (RFC 8693 semantics):
   * one audience, a subset of the scopes, minutes of life, an act claim naming the
   * caller, optionally bound to the caller's certificate (RFC 8705). It dies with the
   * session.
   */
  Exchange(argument: _session_v1_ExchangeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  Exchange(argument: _session_v1_ExchangeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  Exchange(argument: _session_v1_ExchangeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  Exchange(argument: _session_v1_ExchangeRequest, callback: grpc.requestCallback<_session_v1_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Exchange trades one of our access tokens for a narrower one (RFC 8693 semantics):
   * one audience, a subset of the scopes, minutes of life, an act claim naming the
   * caller, optionally bound to the caller's certificate (RFC 8705). It dies with the
   * session.
   */
  exchange(argument: _session_v1_ExchangeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  exchange(argument: _session_v1_ExchangeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  exchange(argument: _session_v1_ExchangeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  exchange(argument: _session_v1_ExchangeRequest, callback: grpc.requestCallback<_session_v1_ExchangeResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Get reads a live session and slides its idle expiry (never past the absolute expiry).
   */
  Get(argument: _session_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _session_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _session_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  Get(argument: _session_v1_GetRequest, callback: grpc.requestCallback<_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Get reads a live session and slides its idle expiry (never past the absolute expiry).
   */
  get(argument: _session_v1_GetRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _session_v1_GetRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _session_v1_GetRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  get(argument: _session_v1_GetRequest, callback: grpc.requestCallback<_session_v1_GetResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * GetJwks returns the public keys that verify access tokens (RFC 7517 JSON).
   */
  GetJwks(argument: _session_v1_GetJwksRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_GetJwksResponse__Output>): grpc.ClientUnaryCall;
  GetJwks(argument: _session_v1_GetJwksRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_GetJwksResponse__Output>): grpc.ClientUnaryCall;
  GetJwks(argument: _session_v1_GetJwksRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_GetJwksResponse__Output>): grpc.ClientUnaryCall;
  GetJwks(argument: _session_v1_GetJwksRequest, callback: grpc.requestCallback<_session_v1_GetJwksResponse__Output>): grpc.ClientUnaryCall;
  /**
   * GetJwks returns the public keys that verify access tokens (RFC 7517 JSON).
   */
  getJwks(argument: _session_v1_GetJwksRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_GetJwksResponse__Output>): grpc.ClientUnaryCall;
  getJwks(argument: _session_v1_GetJwksRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_GetJwksResponse__Output>): grpc.ClientUnaryCall;
  getJwks(argument: _session_v1_GetJwksRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_GetJwksResponse__Output>): grpc.ClientUnaryCall;
  getJwks(argument: _session_v1_GetJwksRequest, callback: grpc.requestCallback<_session_v1_GetJwksResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Introspect reports whether a token is active (RFC 7662 semantics).
   */
  Introspect(argument: _session_v1_IntrospectRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_IntrospectResponse__Output>): grpc.ClientUnaryCall;
  Introspect(argument: _session_v1_IntrospectRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_IntrospectResponse__Output>): grpc.ClientUnaryCall;
  Introspect(argument: _session_v1_IntrospectRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_IntrospectResponse__Output>): grpc.ClientUnaryCall;
  Introspect(argument: _session_v1_IntrospectRequest, callback: grpc.requestCallback<_session_v1_IntrospectResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Introspect reports whether a token is active (RFC 7662 semantics).
   */
  introspect(argument: _session_v1_IntrospectRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_IntrospectResponse__Output>): grpc.ClientUnaryCall;
  introspect(argument: _session_v1_IntrospectRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_IntrospectResponse__Output>): grpc.ClientUnaryCall;
  introspect(argument: _session_v1_IntrospectRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_IntrospectResponse__Output>): grpc.ClientUnaryCall;
  introspect(argument: _session_v1_IntrospectRequest, callback: grpc.requestCallback<_session_v1_IntrospectResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * IntrospectBatch checks up to 500 tokens in one call: one IntrospectResponse per
   * request, in the same order, each exactly what Introspect would answer.
   */
  IntrospectBatch(argument: _session_v1_IntrospectBatchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_IntrospectBatchResponse__Output>): grpc.ClientUnaryCall;
  IntrospectBatch(argument: _session_v1_IntrospectBatchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_IntrospectBatchResponse__Output>): grpc.ClientUnaryCall;
  IntrospectBatch(argument: _session_v1_IntrospectBatchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_IntrospectBatchResponse__Output>): grpc.ClientUnaryCall;
  IntrospectBatch(argument: _session_v1_IntrospectBatchRequest, callback: grpc.requestCallback<_session_v1_IntrospectBatchResponse__Output>): grpc.ClientUnaryCall;
  /**
   * IntrospectBatch checks up to 500 tokens in one call: one IntrospectResponse per
   * request, in the same order, each exactly what Introspect would answer.
   */
  introspectBatch(argument: _session_v1_IntrospectBatchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_IntrospectBatchResponse__Output>): grpc.ClientUnaryCall;
  introspectBatch(argument: _session_v1_IntrospectBatchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_IntrospectBatchResponse__Output>): grpc.ClientUnaryCall;
  introspectBatch(argument: _session_v1_IntrospectBatchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_IntrospectBatchResponse__Output>): grpc.ClientUnaryCall;
  introspectBatch(argument: _session_v1_IntrospectBatchRequest, callback: grpc.requestCallback<_session_v1_IntrospectBatchResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * List returns a user's live sessions (one per device), a page at a time.
   */
  List(argument: _session_v1_ListRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  List(argument: _session_v1_ListRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  List(argument: _session_v1_ListRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  List(argument: _session_v1_ListRequest, callback: grpc.requestCallback<_session_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  /**
   * List returns a user's live sessions (one per device), a page at a time.
   */
  list(argument: _session_v1_ListRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  list(argument: _session_v1_ListRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  list(argument: _session_v1_ListRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  list(argument: _session_v1_ListRequest, callback: grpc.requestCallback<_session_v1_ListResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Reauthenticate records a new authentication of the session's user (acr, amr,
   * auth_time) and rotates the session id and the refresh token (no fixation): the old
   * id and its access tokens end (REVOCATION_REASON_SESSION_ROTATED), the session's data,
   * device and limits carry over.
   */
  Reauthenticate(argument: _session_v1_ReauthenticateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_ReauthenticateResponse__Output>): grpc.ClientUnaryCall;
  Reauthenticate(argument: _session_v1_ReauthenticateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_ReauthenticateResponse__Output>): grpc.ClientUnaryCall;
  Reauthenticate(argument: _session_v1_ReauthenticateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_ReauthenticateResponse__Output>): grpc.ClientUnaryCall;
  Reauthenticate(argument: _session_v1_ReauthenticateRequest, callback: grpc.requestCallback<_session_v1_ReauthenticateResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Reauthenticate records a new authentication of the session's user (acr, amr,
   * auth_time) and rotates the session id and the refresh token (no fixation): the old
   * id and its access tokens end (REVOCATION_REASON_SESSION_ROTATED), the session's data,
   * device and limits carry over.
   */
  reauthenticate(argument: _session_v1_ReauthenticateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_ReauthenticateResponse__Output>): grpc.ClientUnaryCall;
  reauthenticate(argument: _session_v1_ReauthenticateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_ReauthenticateResponse__Output>): grpc.ClientUnaryCall;
  reauthenticate(argument: _session_v1_ReauthenticateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_ReauthenticateResponse__Output>): grpc.ClientUnaryCall;
  reauthenticate(argument: _session_v1_ReauthenticateRequest, callback: grpc.requestCallback<_session_v1_ReauthenticateResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Refresh exchanges a refresh token for a new access token and a new refresh token.
   */
  Refresh(argument: _session_v1_RefreshRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  Refresh(argument: _session_v1_RefreshRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  Refresh(argument: _session_v1_RefreshRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  Refresh(argument: _session_v1_RefreshRequest, callback: grpc.requestCallback<_session_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Refresh exchanges a refresh token for a new access token and a new refresh token.
   */
  refresh(argument: _session_v1_RefreshRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  refresh(argument: _session_v1_RefreshRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  refresh(argument: _session_v1_RefreshRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  refresh(argument: _session_v1_RefreshRequest, callback: grpc.requestCallback<_session_v1_RefreshResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Revoke ends one session, the session behind a token, or all of a user's sessions.
   */
  Revoke(argument: _session_v1_RevokeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_RevokeResponse__Output>): grpc.ClientUnaryCall;
  Revoke(argument: _session_v1_RevokeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_RevokeResponse__Output>): grpc.ClientUnaryCall;
  Revoke(argument: _session_v1_RevokeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_RevokeResponse__Output>): grpc.ClientUnaryCall;
  Revoke(argument: _session_v1_RevokeRequest, callback: grpc.requestCallback<_session_v1_RevokeResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Revoke ends one session, the session behind a token, or all of a user's sessions.
   */
  revoke(argument: _session_v1_RevokeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_RevokeResponse__Output>): grpc.ClientUnaryCall;
  revoke(argument: _session_v1_RevokeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_RevokeResponse__Output>): grpc.ClientUnaryCall;
  revoke(argument: _session_v1_RevokeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_RevokeResponse__Output>): grpc.ClientUnaryCall;
  revoke(argument: _session_v1_RevokeRequest, callback: grpc.requestCallback<_session_v1_RevokeResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Update atomically patches the session's data, optionally as compare-and-set.
   */
  Update(argument: _session_v1_UpdateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_UpdateResponse__Output>): grpc.ClientUnaryCall;
  Update(argument: _session_v1_UpdateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_UpdateResponse__Output>): grpc.ClientUnaryCall;
  Update(argument: _session_v1_UpdateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_UpdateResponse__Output>): grpc.ClientUnaryCall;
  Update(argument: _session_v1_UpdateRequest, callback: grpc.requestCallback<_session_v1_UpdateResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Update atomically patches the session's data, optionally as compare-and-set.
   */
  update(argument: _session_v1_UpdateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_UpdateResponse__Output>): grpc.ClientUnaryCall;
  update(argument: _session_v1_UpdateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_session_v1_UpdateResponse__Output>): grpc.ClientUnaryCall;
  update(argument: _session_v1_UpdateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_session_v1_UpdateResponse__Output>): grpc.ClientUnaryCall;
  update(argument: _session_v1_UpdateRequest, callback: grpc.requestCallback<_session_v1_UpdateResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * WatchRevocations streams the sessions that end, so that services verifying access
   * tokens locally reject a revoked session's tokens at once. It first replays every
   * retained revocation after the request's cursor (all of them without one), then
   * streams new ones as they happen, with a heartbeat while nothing happens. A
   * revocation is retained as long as an access token of its sessions can be valid.
   */
  WatchRevocations(argument: _session_v1_WatchRevocationsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_session_v1_WatchRevocationsResponse__Output>;
  WatchRevocations(argument: _session_v1_WatchRevocationsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_session_v1_WatchRevocationsResponse__Output>;
  /**
   * WatchRevocations streams the sessions that end, so that services verifying access
   * tokens locally reject a revoked session's tokens at once. It first replays every
   * retained revocation after the request's cursor (all of them without one), then
   * streams new ones as they happen, with a heartbeat while nothing happens. A
   * revocation is retained as long as an access token of its sessions can be valid.
   */
  watchRevocations(argument: _session_v1_WatchRevocationsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_session_v1_WatchRevocationsResponse__Output>;
  watchRevocations(argument: _session_v1_WatchRevocationsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_session_v1_WatchRevocationsResponse__Output>;
  
}

/**
 * SessionService owns user sessions: server-side state in Redis, short-lived
 * JWT access tokens that any service can verify locally, and rotating opaque
 * refresh tokens with reuse (theft) detection.
 * 
 * Every failure carries a google.rpc.Status with a google.rpc.ErrorInfo
 * (domain "session.v1", a stable UPPER_SNAKE reason) and, for bad input, a
 * google.rpc.BadRequest listing the offending fields.
 */
export interface SessionServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Create starts a brand-new session for an already authenticated user.
   */
  Create: grpc.handleUnaryCall<_session_v1_CreateRequest__Output, _session_v1_CreateResponse>;
  
  /**
   * Exchange trades one of our access tokens for a narrower one (RFC 8693 semantics):
   * one audience, a subset of the scopes, minutes of life, an act claim naming the
   * caller, optionally bound to the caller's certificate (RFC 8705). It dies with the
   * session.
   */
  Exchange: grpc.handleUnaryCall<_session_v1_ExchangeRequest__Output, _session_v1_ExchangeResponse>;
  
  /**
   * Get reads a live session and slides its idle expiry (never past the absolute expiry).
   */
  Get: grpc.handleUnaryCall<_session_v1_GetRequest__Output, _session_v1_GetResponse>;
  
  /**
   * GetJwks returns the public keys that verify access tokens (RFC 7517 JSON).
   */
  GetJwks: grpc.handleUnaryCall<_session_v1_GetJwksRequest__Output, _session_v1_GetJwksResponse>;
  
  /**
   * Introspect reports whether a token is active (RFC 7662 semantics).
   */
  Introspect: grpc.handleUnaryCall<_session_v1_IntrospectRequest__Output, _session_v1_IntrospectResponse>;
  
  /**
   * IntrospectBatch checks up to 500 tokens in one call: one IntrospectResponse per
   * request, in the same order, each exactly what Introspect would answer.
   */
  IntrospectBatch: grpc.handleUnaryCall<_session_v1_IntrospectBatchRequest__Output, _session_v1_IntrospectBatchResponse>;
  
  /**
   * List returns a user's live sessions (one per device), a page at a time.
   */
  List: grpc.handleUnaryCall<_session_v1_ListRequest__Output, _session_v1_ListResponse>;
  
  /**
   * Reauthenticate records a new authentication of the session's user (acr, amr,
   * auth_time) and rotates the session id and the refresh token (no fixation): the old
   * id and its access tokens end (REVOCATION_REASON_SESSION_ROTATED), the session's data,
   * device and limits carry over.
   */
  Reauthenticate: grpc.handleUnaryCall<_session_v1_ReauthenticateRequest__Output, _session_v1_ReauthenticateResponse>;
  
  /**
   * Refresh exchanges a refresh token for a new access token and a new refresh token.
   */
  Refresh: grpc.handleUnaryCall<_session_v1_RefreshRequest__Output, _session_v1_RefreshResponse>;
  
  /**
   * Revoke ends one session, the session behind a token, or all of a user's sessions.
   */
  Revoke: grpc.handleUnaryCall<_session_v1_RevokeRequest__Output, _session_v1_RevokeResponse>;
  
  /**
   * Update atomically patches the session's data, optionally as compare-and-set.
   */
  Update: grpc.handleUnaryCall<_session_v1_UpdateRequest__Output, _session_v1_UpdateResponse>;
  
  /**
   * WatchRevocations streams the sessions that end, so that services verifying access
   * tokens locally reject a revoked session's tokens at once. It first replays every
   * retained revocation after the request's cursor (all of them without one), then
   * streams new ones as they happen, with a heartbeat while nothing happens. A
   * revocation is retained as long as an access token of its sessions can be valid.
   */
  WatchRevocations: grpc.handleServerStreamingCall<_session_v1_WatchRevocationsRequest__Output, _session_v1_WatchRevocationsResponse>;
  
}

export interface SessionServiceDefinition extends grpc.ServiceDefinition {
  Create: MethodDefinition<_session_v1_CreateRequest, _session_v1_CreateResponse, _session_v1_CreateRequest__Output, _session_v1_CreateResponse__Output>
  Exchange: MethodDefinition<_session_v1_ExchangeRequest, _session_v1_ExchangeResponse, _session_v1_ExchangeRequest__Output, _session_v1_ExchangeResponse__Output>
  Get: MethodDefinition<_session_v1_GetRequest, _session_v1_GetResponse, _session_v1_GetRequest__Output, _session_v1_GetResponse__Output>
  GetJwks: MethodDefinition<_session_v1_GetJwksRequest, _session_v1_GetJwksResponse, _session_v1_GetJwksRequest__Output, _session_v1_GetJwksResponse__Output>
  Introspect: MethodDefinition<_session_v1_IntrospectRequest, _session_v1_IntrospectResponse, _session_v1_IntrospectRequest__Output, _session_v1_IntrospectResponse__Output>
  IntrospectBatch: MethodDefinition<_session_v1_IntrospectBatchRequest, _session_v1_IntrospectBatchResponse, _session_v1_IntrospectBatchRequest__Output, _session_v1_IntrospectBatchResponse__Output>
  List: MethodDefinition<_session_v1_ListRequest, _session_v1_ListResponse, _session_v1_ListRequest__Output, _session_v1_ListResponse__Output>
  Reauthenticate: MethodDefinition<_session_v1_ReauthenticateRequest, _session_v1_ReauthenticateResponse, _session_v1_ReauthenticateRequest__Output, _session_v1_ReauthenticateResponse__Output>
  Refresh: MethodDefinition<_session_v1_RefreshRequest, _session_v1_RefreshResponse, _session_v1_RefreshRequest__Output, _session_v1_RefreshResponse__Output>
  Revoke: MethodDefinition<_session_v1_RevokeRequest, _session_v1_RevokeResponse, _session_v1_RevokeRequest__Output, _session_v1_RevokeResponse__Output>
  Update: MethodDefinition<_session_v1_UpdateRequest, _session_v1_UpdateResponse, _session_v1_UpdateRequest__Output, _session_v1_UpdateResponse__Output>
  WatchRevocations: MethodDefinition<_session_v1_WatchRevocationsRequest, _session_v1_WatchRevocationsResponse, _session_v1_WatchRevocationsRequest__Output, _session_v1_WatchRevocationsResponse__Output>
}
