// Original file: ../../protos/session/v1/session.proto

import type { RevocationReason as _session_v1_RevocationReason, RevocationReason__Output as _session_v1_RevocationReason__Output } from '../../session/v1/RevocationReason';

export interface RevokeRequest {
  'session_id'?: (string);
  'refresh_token'?: (string);
  'access_token'?: (string);
  /**
   * All sessions of this user ("log out everywhere").
   */
  'user_id'?: (string);
  /**
   * With user_id: keep this session ("log out other devices").
   */
  'except_session_id'?: (string);
  /**
   * Why the sessions end, as subscribers of WatchRevocations will see it. Unspecified
   * derives it from the target: session or token → LOGOUT, user_id →
   * LOGOUT_EVERYWHERE, user_id with except_session_id → LOGOUT_OTHER_DEVICES. A caller
   * ending sessions on a user's behalf (support, security) sets ADMINISTRATIVE. The
   * reasons the service decides itself (REFRESH_TOKEN_REUSE, SESSION_LIMIT_EVICTION)
   * are INVALID_ARGUMENT here.
   */
  'reason'?: (_session_v1_RevocationReason);
  'target'?: "session_id"|"refresh_token"|"access_token"|"user_id";
}

export interface RevokeRequest__Output {
  'session_id'?: (string);
  'refresh_token'?: (string);
  'access_token'?: (string);
  /**
   * All sessions of this user ("log out everywhere").
   */
  'user_id'?: (string);
  /**
   * With user_id: keep this session ("log out other devices").
   */
  'except_session_id': (string);
  /**
   * Why the sessions end, as subscribers of WatchRevocations will see it. Unspecified
   * derives it from the target: session or token → LOGOUT, user_id →
   * LOGOUT_EVERYWHERE, user_id with except_session_id → LOGOUT_OTHER_DEVICES. A caller
   * ending sessions on a user's behalf (support, security) sets ADMINISTRATIVE. The
   * reasons the service decides itself (REFRESH_TOKEN_REUSE, SESSION_LIMIT_EVICTION)
   * are INVALID_ARGUMENT here.
   */
  'reason': (_session_v1_RevocationReason__Output);
  'target'?: "session_id"|"refresh_token"|"access_token"|"user_id";
}
