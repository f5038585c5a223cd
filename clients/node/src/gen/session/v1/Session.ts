// Original file: ../../protos/session/v1/session.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { ClientInfo as _session_v1_ClientInfo, ClientInfo__Output as _session_v1_ClientInfo__Output } from '../../session/v1/ClientInfo';
import type { Confirmation as _session_v1_Confirmation, Confirmation__Output as _session_v1_Confirmation__Output } from '../../session/v1/Confirmation';
import type { IdpSession as _session_v1_IdpSession, IdpSession__Output as _session_v1_IdpSession__Output } from '../../session/v1/IdpSession';
import type { Long } from '@grpc/proto-loader';

/**
 * Session is the server-side state of one login.
 */
export interface Session {
  'session_id'?: (string);
  'user_id'?: (string);
  'created_at'?: (_google_protobuf_Timestamp | null);
  'last_active_at'?: (_google_protobuf_Timestamp | null);
  /**
   * The session ends at this time unless it is used before (sliding expiry).
   */
  'idle_expires_at'?: (_google_protobuf_Timestamp | null);
  /**
   * The session ends at this time at the latest, however active it is.
   */
  'absolute_expires_at'?: (_google_protobuf_Timestamp | null);
  /**
   * Incremented by every Update; the value to pass as expected_version.
   */
  'version'?: (number | string | Long);
  'data'?: ({[key: string]: Buffer | Uint8Array | string});
  /**
   * Extra claims copied into every access token of this session.
   */
  'claims'?: ({[key: string]: string});
  'scopes'?: (string)[];
  'client'?: (_session_v1_ClientInfo | null);
  /**
   * The application the session was created for (the access token's client_id claim).
   */
  'client_id'?: (string);
  /**
   * The key the session is bound to (DPoP, RFC 9449): its access tokens carry it as
   * their cnf claim and every Refresh needs a proof by that key. Unset: bearer tokens.
   */
  'cnf'?: (_session_v1_Confirmation | null);
  /**
   * The operator acting as the user in an impersonation session; empty otherwise.
   */
  'impersonator'?: (string);
  /**
   * How the user last authenticated: Authentication Context Class Reference.
   */
  'acr'?: (string);
  /**
   * Authentication Methods References (RFC 8176), e.g. "pwd", "otp", "hwk".
   */
  'amr'?: (string)[];
  /**
   * When the user last authenticated.
   */
  'auth_time'?: (_google_protobuf_Timestamp | null);
  /**
   * The client the session was last used from (Refresh or a gateway request).
   */
  'last_client'?: (_session_v1_ClientInfo | null);
  /**
   * The identity provider's session this one was created from (single sign-on).
   */
  'idp'?: (_session_v1_IdpSession | null);
}

/**
 * Session is the server-side state of one login.
 */
export interface Session__Output {
  'session_id': (string);
  'user_id': (string);
  'created_at': (_google_protobuf_Timestamp__Output | null);
  'last_active_at': (_google_protobuf_Timestamp__Output | null);
  /**
   * The session ends at this time unless it is used before (sliding expiry).
   */
  'idle_expires_at': (_google_protobuf_Timestamp__Output | null);
  /**
   * The session ends at this time at the latest, however active it is.
   */
  'absolute_expires_at': (_google_protobuf_Timestamp__Output | null);
  /**
   * Incremented by every Update; the value to pass as expected_version.
   */
  'version': (string);
  'data': ({[key: string]: Buffer});
  /**
   * Extra claims copied into every access token of this session.
   */
  'claims': ({[key: string]: string});
  'scopes': (string)[];
  'client': (_session_v1_ClientInfo__Output | null);
  /**
   * The application the session was created for (the access token's client_id claim).
   */
  'client_id': (string);
  /**
   * The key the session is bound to (DPoP, RFC 9449): its access tokens carry it as
   * their cnf claim and every Refresh needs a proof by that key. Unset: bearer tokens.
   */
  'cnf': (_session_v1_Confirmation__Output | null);
  /**
   * The operator acting as the user in an impersonation session; empty otherwise.
   */
  'impersonator': (string);
  /**
   * How the user last authenticated: Authentication Context Class Reference.
   */
  'acr': (string);
  /**
   * Authentication Methods References (RFC 8176), e.g. "pwd", "otp", "hwk".
   */
  'amr': (string)[];
  /**
   * When the user last authenticated.
   */
  'auth_time': (_google_protobuf_Timestamp__Output | null);
  /**
   * The client the session was last used from (Refresh or a gateway request).
   */
  'last_client': (_session_v1_ClientInfo__Output | null);
  /**
   * The identity provider's session this one was created from (single sign-on).
   */
  'idp': (_session_v1_IdpSession__Output | null);
}
