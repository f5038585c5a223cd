// Original file: ../../protos/session/v1/session.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp';
import type { RevocationReason as _session_v1_RevocationReason, RevocationReason__Output as _session_v1_RevocationReason__Output } from '../../session/v1/RevocationReason';

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
  /**
   * Why these sessions ended.
   */
  'reason'?: (_session_v1_RevocationReason);
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
  /**
   * Why these sessions ended.
   */
  'reason': (_session_v1_RevocationReason__Output);
}
