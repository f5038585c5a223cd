// Original file: ../../protos/session/v1/session.proto

import type { Session as _session_v1_Session, Session__Output as _session_v1_Session__Output } from '../../session/v1/Session';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';

/**
 * The same fields as RefreshResponse: the session under its new id and fresh tokens.
 */
export interface ReauthenticateResponse {
  'session'?: (_session_v1_Session | null);
  'access_token'?: (string);
  'refresh_token'?: (string);
  'access_token_expires_at'?: (_google_protobuf_Timestamp | null);
  'refresh_token_expires_at'?: (_google_protobuf_Timestamp | null);
}

/**
 * The same fields as RefreshResponse: the session under its new id and fresh tokens.
 */
export interface ReauthenticateResponse__Output {
  'session': (_session_v1_Session__Output | null);
  'access_token': (string);
  'refresh_token': (string);
  'access_token_expires_at': (_google_protobuf_Timestamp__Output | null);
  'refresh_token_expires_at': (_google_protobuf_Timestamp__Output | null);
}
