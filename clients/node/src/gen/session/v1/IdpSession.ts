// Original file: ../../protos/session/v1/session.proto


/**
 * IdpSession names a session at an upstream identity provider: the iss, sub and sid of
 * the ID token the login service received.
 */
export interface IdpSession {
  'issuer'?: (string);
  'subject'?: (string);
  'session_id'?: (string);
}

/**
 * IdpSession names a session at an upstream identity provider: the iss, sub and sid of
 * the ID token the login service received.
 */
export interface IdpSession__Output {
  'issuer': (string);
  'subject': (string);
  'session_id': (string);
}
