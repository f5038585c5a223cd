package io.github.sessionservice.client;

/** Why {@link Verifier#verify} refused a token: {@link #kind()} says which check failed. */
public final class TokenException extends Exception {
  /** The check a token failed. */
  public enum Kind {
    /** Not a compact JWS with JSON header and claims, or a claim of the wrong type. */
    MALFORMED,
    /** The signature does not verify with the key named by {@code kid}. */
    INVALID_SIGNATURE,
    /** No key of the service has that {@code kid} (a refetch of the keys has been started). */
    UNKNOWN_SIGNING_KEY,
    /** The header's {@code alg} is not the key's, or not one the service signs with. */
    DISALLOWED_ALGORITHM,
    /** The {@code typ} header is not {@code at+jwt}: not an access token. */
    INVALID_TOKEN_TYPE,
    /** A required claim is missing. */
    MISSING_CLAIM,
    /** {@code iss} is not the expected issuer. */
    INVALID_ISSUER,
    /** {@code aud} does not name the expected audience. */
    INVALID_AUDIENCE,
    /** {@code exp} has passed (beyond the leeway). */
    EXPIRED,
    /** {@code nbf} or {@code iat} is in the future (beyond the leeway). */
    NOT_YET_VALID,
    /** The token's session has been revoked; {@link #revocationReason()} says why when known. */
    SESSION_REVOKED,
    /**
     * The view of the revocations is not fresh enough to vouch for the token (the stream is
     * behind, silent or cut, or could not resume from its cursor before the token was issued).
     * The token may be fine: ask Introspect, or refuse it.
     */
    REVOCATIONS_STALE,
    /**
     * The DPoP proof is missing, malformed, replayed, not for this request or not by the key the
     * token is bound to (RFC 9449 section 4.3): answer with a DPoP challenge, error {@code
     * invalid_dpop_proof}.
     */
    INVALID_DPOP_PROOF,
    /**
     * A DPoP-bound token presented as a bearer token, or an unbound token presented with a DPoP
     * proof (RFC 9449 section 7.1).
     */
    DPOP_BINDING_MISMATCH,
    /**
     * A token bound to a client certificate (RFC 8705 {@code cnf.x5t#S256}) presented by a peer
     * without that certificate.
     */
    CERTIFICATE_BINDING_MISMATCH,
  }

  private final Kind kind;
  private final String revocationReason;

  TokenException(Kind kind, String message) {
    this(kind, message, "");
  }

  TokenException(Kind kind, String message, String revocationReason) {
    super(kind + ": " + message);
    this.kind = kind;
    this.revocationReason = revocationReason;
  }

  /** The check that failed. */
  public Kind kind() {
    return kind;
  }

  /** For SESSION_REVOKED: why the session ended ("LOGOUT", ...; "" when unknown). */
  public String revocationReason() {
    return revocationReason;
  }
}
