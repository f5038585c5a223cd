// Original file: ../../protos/session/v1/session.proto


/**
 * Confirmation names the key a token is bound to (RFC 7800 cnf).
 */
export interface Confirmation {
  /**
   * JWK SHA-256 thumbprint (RFC 7638) of a DPoP key, base64url.
   */
  'jkt'?: (string);
  /**
   * SHA-256 thumbprint of a client certificate (RFC 8705), base64url.
   */
  'x5t_s256'?: (string);
}

/**
 * Confirmation names the key a token is bound to (RFC 7800 cnf).
 */
export interface Confirmation__Output {
  /**
   * JWK SHA-256 thumbprint (RFC 7638) of a DPoP key, base64url.
   */
  'jkt': (string);
  /**
   * SHA-256 thumbprint of a client certificate (RFC 8705), base64url.
   */
  'x5t_s256': (string);
}
