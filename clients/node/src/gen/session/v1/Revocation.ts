// Original file: ../../protos/session/v1/session.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';

/**
 * Revocation is one event: sessions that ended together.
 */
export interface Revocation {
  'session_ids'?: (string)[];
  'revoked_at'?: (_google_protobuf_Timestamp | null);
  /**
   * No access token of these sessions is valid after this time (the longest access-token
   * lifetime, plus the issuer's clock leeway): a subscriber may forget them then.
   */
  'expires_at'?: (_google_protobuf_Timestamp | null);
}

/**
 * Revocation is one event: sessions that ended together.
 */
export interface Revocation__Output {
  'session_ids': (string)[];
  'revoked_at': (_google_protobuf_Timestamp__Output | null);
  /**
   * No access token of these sessions is valid after this time (the longest access-token
   * lifetime, plus the issuer's clock leeway): a subscriber may forget them then.
   */
  'expires_at': (_google_protobuf_Timestamp__Output | null);
}
