// Original file: ../../protos/session/v1/errors.proto

/**
 * ErrorReason is the one declaration of every reason session-service puts in the
 * google.rpc.ErrorInfo of a failed call (domain "session.v1"). The ErrorInfo carries
 * the value's name as a string ("SESSION_NOT_FOUND"), as googleapis does with
 * google.api.ErrorReason; callers branch on that string, so names never change.
 * Values are never renumbered or reused.
 */
export const ErrorReason = {
  /**
   * Not a reason; never sent.
   */
  ERROR_REASON_UNSPECIFIED: 'ERROR_REASON_UNSPECIFIED',
  /**
   * INVALID_ARGUMENT: a field is missing or malformed, an input limit is broken, or the
   * request bytes do not parse. A google.rpc.BadRequest lists the offending fields.
   */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /**
   * NOT_FOUND: the session does not exist, has expired or was revoked.
   */
  SESSION_NOT_FOUND: 'SESSION_NOT_FOUND',
  /**
   * UNAUTHENTICATED: the refresh token is malformed, unknown or expired, or its session ended.
   */
  REFRESH_TOKEN_INVALID: 'REFRESH_TOKEN_INVALID',
  /**
   * UNAUTHENTICATED: an already rotated refresh token came back; the session has been revoked.
   */
  REFRESH_TOKEN_REUSED: 'REFRESH_TOKEN_REUSED',
  /**
   * ABORTED: Update named an expected_version the session is no longer at.
   */
  VERSION_MISMATCH: 'VERSION_MISMATCH',
  /**
   * RESOURCE_EXHAUSTED: the user's session limit is reached and the policy is reject-new.
   */
  SESSION_LIMIT_REACHED: 'SESSION_LIMIT_REACHED',
  /**
   * RESOURCE_EXHAUSTED: an Update would push the session data past its limits.
   */
  SESSION_DATA_TOO_LARGE: 'SESSION_DATA_TOO_LARGE',
  /**
   * UNAVAILABLE: Redis is unreachable or did not answer in time.
   */
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  /**
   * UNAUTHENTICATED: the caller (the calling service) presented no credentials, or
   * credentials that do not verify.
   */
  CALLER_UNAUTHENTICATED: 'CALLER_UNAUTHENTICATED',
  /**
   * PERMISSION_DENIED: the authorization policy does not allow this caller this RPC.
   */
  CALLER_NOT_ALLOWED: 'CALLER_NOT_ALLOWED',
  /**
   * RESOURCE_EXHAUSTED: a rate limit was hit (Create or Refresh for this user, or calls
   * from this caller). A google.rpc.RetryInfo says when to try again.
   */
  RATE_LIMITED: 'RATE_LIMITED',
  /**
   * RESOURCE_EXHAUSTED: this replica is at its cap of concurrent calls or revocation
   * watchers. A google.rpc.RetryInfo suggests a delay; another replica may have room.
   */
  OVERLOADED: 'OVERLOADED',
  /**
   * RESOURCE_EXHAUSTED: Redis is out of memory (maxmemory with noeviction) and refuses
   * to store more. Nothing was written; logging out (Revoke) still works.
   */
  STORE_FULL: 'STORE_FULL',
  /**
   * PERMISSION_DENIED: a refresh token was presented by a caller other than the one
   * that created its session (or one the policy lets share its sessions).
   */
  SESSION_CLIENT_MISMATCH: 'SESSION_CLIENT_MISMATCH',
  /**
   * UNAUTHENTICATED: a DPoP proof is missing, malformed, replayed, for another request
   * or by another key than the session is bound to. The ErrorInfo may carry a
   * "dpop_nonce" to sign into the next proof.
   */
  DPOP_PROOF_INVALID: 'DPOP_PROOF_INVALID',
  /**
   * UNAUTHENTICATED: Exchange's subject token is not an active access token of ours.
   */
  SUBJECT_TOKEN_INVALID: 'SUBJECT_TOKEN_INVALID',
  /**
   * PERMISSION_DENIED: the policy does not let this caller obtain that audience or those
   * scopes, the scopes exceed the subject token's, the act chain is too deep, or the
   * subject token's may_act names another actor.
   */
  EXCHANGE_NOT_ALLOWED: 'EXCHANGE_NOT_ALLOWED',
  /**
   * UNAUTHENTICATED: the session must be re-authenticated (Reauthenticate) before it can
   * be refreshed again (a risk signal's step_up action).
   */
  REAUTHENTICATION_REQUIRED: 'REAUTHENTICATION_REQUIRED',
} as const;

/**
 * ErrorReason is the one declaration of every reason session-service puts in the
 * google.rpc.ErrorInfo of a failed call (domain "session.v1"). The ErrorInfo carries
 * the value's name as a string ("SESSION_NOT_FOUND"), as googleapis does with
 * google.api.ErrorReason; callers branch on that string, so names never change.
 * Values are never renumbered or reused.
 */
export type ErrorReason =
  /**
   * Not a reason; never sent.
   */
  | 'ERROR_REASON_UNSPECIFIED'
  | 0
  /**
   * INVALID_ARGUMENT: a field is missing or malformed, an input limit is broken, or the
   * request bytes do not parse. A google.rpc.BadRequest lists the offending fields.
   */
  | 'INVALID_ARGUMENT'
  | 1
  /**
   * NOT_FOUND: the session does not exist, has expired or was revoked.
   */
  | 'SESSION_NOT_FOUND'
  | 2
  /**
   * UNAUTHENTICATED: the refresh token is malformed, unknown or expired, or its session ended.
   */
  | 'REFRESH_TOKEN_INVALID'
  | 3
  /**
   * UNAUTHENTICATED: an already rotated refresh token came back; the session has been revoked.
   */
  | 'REFRESH_TOKEN_REUSED'
  | 4
  /**
   * ABORTED: Update named an expected_version the session is no longer at.
   */
  | 'VERSION_MISMATCH'
  | 5
  /**
   * RESOURCE_EXHAUSTED: the user's session limit is reached and the policy is reject-new.
   */
  | 'SESSION_LIMIT_REACHED'
  | 6
  /**
   * RESOURCE_EXHAUSTED: an Update would push the session data past its limits.
   */
  | 'SESSION_DATA_TOO_LARGE'
  | 7
  /**
   * UNAVAILABLE: Redis is unreachable or did not answer in time.
   */
  | 'STORE_UNAVAILABLE'
  | 8
  /**
   * UNAUTHENTICATED: the caller (the calling service) presented no credentials, or
   * credentials that do not verify.
   */
  | 'CALLER_UNAUTHENTICATED'
  | 9
  /**
   * PERMISSION_DENIED: the authorization policy does not allow this caller this RPC.
   */
  | 'CALLER_NOT_ALLOWED'
  | 10
  /**
   * RESOURCE_EXHAUSTED: a rate limit was hit (Create or Refresh for this user, or calls
   * from this caller). A google.rpc.RetryInfo says when to try again.
   */
  | 'RATE_LIMITED'
  | 11
  /**
   * RESOURCE_EXHAUSTED: this replica is at its cap of concurrent calls or revocation
   * watchers. A google.rpc.RetryInfo suggests a delay; another replica may have room.
   */
  | 'OVERLOADED'
  | 12
  /**
   * RESOURCE_EXHAUSTED: Redis is out of memory (maxmemory with noeviction) and refuses
   * to store more. Nothing was written; logging out (Revoke) still works.
   */
  | 'STORE_FULL'
  | 13
  /**
   * PERMISSION_DENIED: a refresh token was presented by a caller other than the one
   * that created its session (or one the policy lets share its sessions).
   */
  | 'SESSION_CLIENT_MISMATCH'
  | 14
  /**
   * UNAUTHENTICATED: a DPoP proof is missing, malformed, replayed, for another request
   * or by another key than the session is bound to. The ErrorInfo may carry a
   * "dpop_nonce" to sign into the next proof.
   */
  | 'DPOP_PROOF_INVALID'
  | 15
  /**
   * UNAUTHENTICATED: Exchange's subject token is not an active access token of ours.
   */
  | 'SUBJECT_TOKEN_INVALID'
  | 16
  /**
   * PERMISSION_DENIED: the policy does not let this caller obtain that audience or those
   * scopes, the scopes exceed the subject token's, the act chain is too deep, or the
   * subject token's may_act names another actor.
   */
  | 'EXCHANGE_NOT_ALLOWED'
  | 17
  /**
   * UNAUTHENTICATED: the session must be re-authenticated (Reauthenticate) before it can
   * be refreshed again (a risk signal's step_up action).
   */
  | 'REAUTHENTICATION_REQUIRED'
  | 18

/**
 * ErrorReason is the one declaration of every reason session-service puts in the
 * google.rpc.ErrorInfo of a failed call (domain "session.v1"). The ErrorInfo carries
 * the value's name as a string ("SESSION_NOT_FOUND"), as googleapis does with
 * google.api.ErrorReason; callers branch on that string, so names never change.
 * Values are never renumbered or reused.
 */
export type ErrorReason__Output = typeof ErrorReason[keyof typeof ErrorReason]
