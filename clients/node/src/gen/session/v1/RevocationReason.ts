// Original file: ../../protos/session/v1/session.proto

/**
 * RevocationReason says why sessions ended (in the spirit of the OpenID CAEP
 * "session-revoked" event). Values are never renumbered or reused.
 */
export const RevocationReason = {
  /**
   * Not set: in a RevokeRequest, derived from the target; never sent in a Revocation.
   */
  REVOCATION_REASON_UNSPECIFIED: 'REVOCATION_REASON_UNSPECIFIED',
  /**
   * The user logged out of this session.
   */
  REVOCATION_REASON_LOGOUT: 'REVOCATION_REASON_LOGOUT',
  /**
   * The user logged out of all their sessions.
   */
  REVOCATION_REASON_LOGOUT_EVERYWHERE: 'REVOCATION_REASON_LOGOUT_EVERYWHERE',
  /**
   * The user logged out of all their sessions but the current one.
   */
  REVOCATION_REASON_LOGOUT_OTHER_DEVICES: 'REVOCATION_REASON_LOGOUT_OTHER_DEVICES',
  /**
   * An administrator or another service ended the sessions on the user's behalf.
   */
  REVOCATION_REASON_ADMINISTRATIVE: 'REVOCATION_REASON_ADMINISTRATIVE',
  /**
   * A rotated refresh token came back (token theft): the service ended the session.
   */
  REVOCATION_REASON_REFRESH_TOKEN_REUSE: 'REVOCATION_REASON_REFRESH_TOKEN_REUSE',
  /**
   * A new session pushed the user past the per-user limit (evict-oldest).
   */
  REVOCATION_REASON_SESSION_LIMIT_EVICTION: 'REVOCATION_REASON_SESSION_LIMIT_EVICTION',
  /**
   * Reauthenticate gave the session a new id; the old id's tokens end.
   */
  REVOCATION_REASON_SESSION_ROTATED: 'REVOCATION_REASON_SESSION_ROTATED',
  /**
   * A risk signal's configured action ended the session.
   */
  REVOCATION_REASON_RISK_POLICY: 'REVOCATION_REASON_RISK_POLICY',
  /**
   * The identity provider logged the user out (OIDC Back-Channel Logout).
   */
  REVOCATION_REASON_IDP_LOGOUT: 'REVOCATION_REASON_IDP_LOGOUT',
  /**
   * An upstream transmitter's security event (CAEP, RISC) ended the session.
   */
  REVOCATION_REASON_SHARED_SIGNAL: 'REVOCATION_REASON_SHARED_SIGNAL',
} as const;

/**
 * RevocationReason says why sessions ended (in the spirit of the OpenID CAEP
 * "session-revoked" event). Values are never renumbered or reused.
 */
export type RevocationReason =
  /**
   * Not set: in a RevokeRequest, derived from the target; never sent in a Revocation.
   */
  | 'REVOCATION_REASON_UNSPECIFIED'
  | 0
  /**
   * The user logged out of this session.
   */
  | 'REVOCATION_REASON_LOGOUT'
  | 1
  /**
   * The user logged out of all their sessions.
   */
  | 'REVOCATION_REASON_LOGOUT_EVERYWHERE'
  | 2
  /**
   * The user logged out of all their sessions but the current one.
   */
  | 'REVOCATION_REASON_LOGOUT_OTHER_DEVICES'
  | 3
  /**
   * An administrator or another service ended the sessions on the user's behalf.
   */
  | 'REVOCATION_REASON_ADMINISTRATIVE'
  | 4
  /**
   * A rotated refresh token came back (token theft): the service ended the session.
   */
  | 'REVOCATION_REASON_REFRESH_TOKEN_REUSE'
  | 5
  /**
   * A new session pushed the user past the per-user limit (evict-oldest).
   */
  | 'REVOCATION_REASON_SESSION_LIMIT_EVICTION'
  | 6
  /**
   * Reauthenticate gave the session a new id; the old id's tokens end.
   */
  | 'REVOCATION_REASON_SESSION_ROTATED'
  | 7
  /**
   * A risk signal's configured action ended the session.
   */
  | 'REVOCATION_REASON_RISK_POLICY'
  | 8
  /**
   * The identity provider logged the user out (OIDC Back-Channel Logout).
   */
  | 'REVOCATION_REASON_IDP_LOGOUT'
  | 9
  /**
   * An upstream transmitter's security event (CAEP, RISC) ended the session.
   */
  | 'REVOCATION_REASON_SHARED_SIGNAL'
  | 10

/**
 * RevocationReason says why sessions ended (in the spirit of the OpenID CAEP
 * "session-revoked" event). Values are never renumbered or reused.
 */
export type RevocationReason__Output = typeof RevocationReason[keyof typeof RevocationReason]
