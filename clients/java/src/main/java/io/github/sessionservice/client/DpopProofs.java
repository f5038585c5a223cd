package io.github.sessionservice.client;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The checks of DPoP proofs (RFC 9449 section 4.3) by the rules of the wire contract's
 * session_wire/dpop.py, which the service and the Python Verifier use; and the in-process jti
 * replay cache.
 */
final class DpopProofs {
  /** The typ header every proof carries (RFC 9449 section 4.2). */
  static final String PROOF_TYPE = "dpop+jwt";

  private static final int MAX_PROOF_CHARS = 8192;
  private static final int MAX_JTI_CHARS = 256;
  private static final int MIN_RSA_BITS = 2048;
  private static final Map<String, Integer> DEFAULT_PORTS = Map.of("http", 80, "https", 443);
  private static final Base64.Encoder B64URL = Base64.getUrlEncoder().withoutPadding();

  private final List<String> algorithms;
  private final Duration maxAge;
  private final Duration leeway;
  private final Map<String, Instant> seen;
  private final Duration window;

  DpopProofs(List<String> algorithms, Duration maxAge, Duration leeway, int replayCacheSize) {
    this.algorithms = List.copyOf(algorithms);
    this.maxAge = maxAge;
    this.leeway = leeway;
    // A proof's jti is remembered as long as its iat keeps it acceptable: up to the leeway
    // ahead, then maxAge and the leeway behind.
    this.window = maxAge.plus(leeway).plus(leeway);
    // The least recently seen go first: only holders of a bound token's key get this far, so a
    // flood can push out only their own.
    this.seen =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, Instant> eldest) {
            return size() > replayCacheSize;
          }
        };
  }

  /**
   * Checks {@code request}'s proof at {@code now}: over {@code accessToken} (ath), by the key
   * whose thumbprint is {@code jkt}, and not seen before; throws INVALID_DPOP_PROOF.
   */
  void check(HttpProof request, String accessToken, String jkt, Instant now) throws TokenException {
    String proof = request.proof() == null ? "" : request.proof();
    if (proof.isEmpty() || proof.length() > MAX_PROOF_CHARS) {
      throw invalid("the proof is empty or too long");
    }
    String[] segments = proof.split("\\.", -1);
    if (segments.length != 3) {
      throw invalid("the proof is not a compact JWS");
    }
    for (String segment : segments) {
      // One proof, one spelling: no padding, no non-zero trailing bits (Nimbus is lenient).
      if (!canonicalBase64Url(segment)) {
        throw invalid("the proof is not canonical base64url");
      }
    }
    JWSObject jws;
    Map<String, Object> claims;
    try {
      jws = JWSObject.parse(proof);
      claims = jws.getPayload().toJSONObject();
    } catch (ParseException | IllegalStateException e) {
      throw invalid("the proof does not parse: " + e.getMessage());
    }
    JWSHeader header = jws.getHeader();
    if (!new JOSEObjectType(PROOF_TYPE).equals(header.getType())) {
      throw invalid("the proof's typ is not " + PROOF_TYPE);
    }
    String alg = header.getAlgorithm().getName();
    if (!algorithms.contains(alg)) {
      throw invalid("the proof's alg is not an allowed asymmetric algorithm");
    }
    if (header.getCriticalParams() != null && !header.getCriticalParams().isEmpty()) {
      throw invalid("the proof names critical extensions");
    }
    JWK jwk = header.getJWK();
    if (jwk == null) {
      throw invalid("the proof carries no jwk");
    }
    if (jwk.isPrivate()) {
      throw invalid("the proof's jwk contains private key material");
    }
    if (!signatureVerifies(jws, jwk, alg)) {
      throw invalid("the proof's signature does not verify");
    }

    if (claims == null) {
      throw invalid("the proof's payload is not a JSON object");
    }
    if (!(claims.get("jti") instanceof String jti) || jti.isEmpty() || jti.length() > MAX_JTI_CHARS) {
      throw invalid("the proof has no valid jti");
    }
    if (!(claims.get("htm") instanceof String htm) || !(claims.get("htu") instanceof String htu)) {
      throw invalid("the proof has no htm or htu");
    }
    if (!(claims.get("iat") instanceof Number iatNumber)) {
      throw invalid("the proof has no numeric iat");
    }
    if (!htm.equals(request.method())) {
      throw invalid("the proof's htm is not the request's method");
    }
    if (!normalizeHtu(htu).equals(normalizeHtu(request.uri()))) {
      throw invalid("the proof's htu is not the request's URI");
    }
    double iat = iatNumber.doubleValue();
    double seconds = now.getEpochSecond() + now.getNano() / 1e9;
    if (iat > seconds + leeway.toMillis() / 1e3
        || iat < seconds - maxAge.toMillis() / 1e3 - leeway.toMillis() / 1e3) {
      throw invalid("the proof's iat is outside the accepted window");
    }
    String ath = claims.get("ath") instanceof String s ? s : "";
    if (!constantTimeEquals(ath, accessTokenHash(accessToken))) {
      throw invalid("the proof's ath is not the access token's hash");
    }
    String thumbprint;
    try {
      thumbprint = jwk.computeThumbprint().toString();
    } catch (JOSEException e) {
      throw invalid("the proof's jwk has no thumbprint");
    }
    if (!constantTimeEquals(thumbprint, jkt)) {
      throw invalid("the proof is signed by another key than the token is bound to");
    }
    if (!firstUse(thumbprint + " " + jti, now)) {
      throw invalid("the proof's jti was used before");
    }
  }

  private synchronized boolean firstUse(String key, Instant now) {
    Instant until = seen.get(key);
    if (until != null && now.isBefore(until)) {
      return false;
    }
    seen.put(key, now.plus(window));
    return true;
  }

  /** The signature, by the proof's own key, which must be of the kind alg names. */
  private static boolean signatureVerifies(JWSObject jws, JWK jwk, String alg) throws TokenException {
    try {
      if (jwk instanceof ECKey ec) {
        Curve curve = alg.equals("ES256") ? Curve.P_256 : alg.equals("ES384") ? Curve.P_384 : null;
        if (curve == null || !curve.equals(ec.getCurve())) {
          throw invalid("the proof's jwk does not fit alg " + alg);
        }
        return jws.verify(new ECDSAVerifier(ec));
      }
      if (jwk instanceof RSAKey rsa && (alg.equals("PS256") || alg.equals("RS256"))) {
        if (rsa.size() < MIN_RSA_BITS) {
          throw invalid("the proof's RSA key is shorter than " + MIN_RSA_BITS + " bits");
        }
        return jws.verify(new RSASSAVerifier(rsa));
      }
      if (jwk instanceof OctetKeyPair okp
          && Curve.Ed25519.equals(okp.getCurve())
          && (alg.equals("EdDSA") || alg.equals("Ed25519"))) {
        return Verifier.ed25519Verifies(Verifier.ed25519PublicKey(okp), jws);
      }
    } catch (JOSEException | GeneralSecurityException | IllegalStateException e) {
      return false;
    }
    throw invalid("the proof's jwk does not fit alg " + alg);
  }

  /**
   * The URI as proofs are compared (RFC 9449 section 4.3): no query or fragment, scheme and host
   * in lower case, the scheme's default port dropped, an empty path as "/".
   */
  static String normalizeHtu(String uri) throws TokenException {
    URI parsed;
    try {
      parsed = new URI(uri == null ? "" : uri.strip());
    } catch (URISyntaxException e) {
      throw invalid("htu is not a valid URI");
    }
    String scheme = parsed.getScheme() == null ? "" : parsed.getScheme().toLowerCase(Locale.ROOT);
    String host = parsed.getHost() == null ? "" : parsed.getHost().toLowerCase(Locale.ROOT);
    if (!DEFAULT_PORTS.containsKey(scheme) || host.isEmpty()) {
      throw invalid("htu is not an absolute http(s) URI");
    }
    int port = parsed.getPort();
    if (port > 65535) {
      throw invalid("htu is not a valid URI");
    }
    String authority = port < 0 || port == DEFAULT_PORTS.get(scheme) ? host : host + ":" + port;
    String path = parsed.getRawPath() == null || parsed.getRawPath().isEmpty() ? "/" : parsed.getRawPath();
    return scheme + "://" + authority + path;
  }

  /** The ath a proof carries for an access token: base64url SHA-256 of its ASCII. */
  static String accessTokenHash(String accessToken) {
    return B64URL.encodeToString(sha256(accessToken.getBytes(StandardCharsets.US_ASCII)));
  }

  static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  static boolean constantTimeEquals(String a, String b) {
    return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }

  private static boolean canonicalBase64Url(String segment) {
    try {
      return B64URL.encodeToString(Base64.getUrlDecoder().decode(segment)).equals(segment);
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static TokenException invalid(String message) {
    return new TokenException(TokenException.Kind.INVALID_DPOP_PROOF, message);
  }

}
