// Original file: ../../protos/session/v1/session.proto


export interface IntrospectRequest {
  'token'?: (string);
  /**
   * "access_token" or "refresh_token"; empty means try both (RFC 7662 section 2.1).
   */
  'token_type_hint'?: (string);
  /**
   * The audience the token must be for; empty means SESSION_AUDIENCE. A token for
   * another audience is inactive.
   */
  'audience'?: (string);
}

export interface IntrospectRequest__Output {
  'token': (string);
  /**
   * "access_token" or "refresh_token"; empty means try both (RFC 7662 section 2.1).
   */
  'token_type_hint': (string);
  /**
   * The audience the token must be for; empty means SESSION_AUDIENCE. A token for
   * another audience is inactive.
   */
  'audience': (string);
}
