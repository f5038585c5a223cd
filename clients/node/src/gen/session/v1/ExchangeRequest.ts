// Original file: ../../protos/session/v1/session.proto


export interface ExchangeRequest {
  /**
   * One of our access tokens; inactive → UNAUTHENTICATED SUBJECT_TOKEN_INVALID.
   */
  'subject_token'?: (string);
  /**
   * The one audience the new token is for.
   */
  'audience'?: (string);
  /**
   * A subset of the subject token's scopes; empty means all of them.
   */
  'scopes'?: (string)[];
  /**
   * Requested lifetime; capped by SESSION_EXCHANGE_MAX_TTL and the subject's own.
   */
  'ttl_seconds'?: (number);
  /**
   * Bind the new token to the calling service's client certificate (cnf x5t#S256).
   */
  'bind_to_caller_certificate'?: (boolean);
}

export interface ExchangeRequest__Output {
  /**
   * One of our access tokens; inactive → UNAUTHENTICATED SUBJECT_TOKEN_INVALID.
   */
  'subject_token': (string);
  /**
   * The one audience the new token is for.
   */
  'audience': (string);
  /**
   * A subset of the subject token's scopes; empty means all of them.
   */
  'scopes': (string)[];
  /**
   * Requested lifetime; capped by SESSION_EXCHANGE_MAX_TTL and the subject's own.
   */
  'ttl_seconds': (number);
  /**
   * Bind the new token to the calling service's client certificate (cnf x5t#S256).
   */
  'bind_to_caller_certificate': (boolean);
}
