// Original file: ../../protos/session/v1/session.proto


/**
 * DpopProof is a DPoP proof (RFC 9449) a client sent with an HTTP request, forwarded by
 * the service that received it, with that request's method and URI.
 */
export interface DpopProof {
  /**
   * The compact JWS of the DPoP header.
   */
  'proof'?: (string);
  /**
   * The HTTP method of the request the proof came with ("POST").
   */
  'http_method'?: (string);
  /**
   * The URI of that request; query and fragment are ignored.
   */
  'http_uri'?: (string);
}

/**
 * DpopProof is a DPoP proof (RFC 9449) a client sent with an HTTP request, forwarded by
 * the service that received it, with that request's method and URI.
 */
export interface DpopProof__Output {
  /**
   * The compact JWS of the DPoP header.
   */
  'proof': (string);
  /**
   * The HTTP method of the request the proof came with ("POST").
   */
  'http_method': (string);
  /**
   * The URI of that request; query and fragment are ignored.
   */
  'http_uri': (string);
}
