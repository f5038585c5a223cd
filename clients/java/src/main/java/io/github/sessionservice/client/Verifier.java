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
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.SignedJWT;
import io.github.sessionservice.v1.Revocation;
import io.github.sessionservice.v1.RevocationReason;
import io.github.sessionservice.v1.WatchRevocationsRequest;
import io.github.sessionservice.v1.WatchRevocationsResponse;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.spec.X509EncodedKeySpec;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Verifies access tokens locally and refuses those of revoked sessions.
 *
 * <p>{@link #start} fetches the keys (GetJwks), follows WatchRevocations in the background from
 * its cursor, and returns once the stream has caught up; {@link #verify} then needs no network.
 * Never fail-open: while the view of the revocations is staler than {@code maxStaleness}, or for
 * tokens issued before a point from which revocations may have been missed, {@link #verify}
 * throws {@link TokenException.Kind#REVOCATIONS_STALE}.
 *
 * <p>Bound tokens pass only with what binds them ({@link #verify(String, HttpProof,
 * X509Certificate)}). DPoP (RFC 9449): a token bound to a key ({@code cnf.jkt}) needs a proof by
 * that key, over the token's hash, for the request's method and URI, at most {@code dpopMaxAge}
 * old, and not seen before by this Verifier (an in-process cache: run one Verifier per resource,
 * or a proof replayed to another process passes there once). RFC 8705: a token bound to a client
 * certificate ({@code cnf.x5t#S256}) needs the certificate the peer presented on the connection.
 */
public final class Verifier implements AutoCloseable {
  /** The typ header of an access token (RFC 9068). */
  public static final String TOKEN_TYPE = "at+jwt";

  /** The algorithms a key of the service may have; the algorithm is taken from the key. */
  public static final List<String> SUPPORTED_ALGORITHMS = List.of("EdDSA", "ES256", "RS256");

  /** The claims every access token carries and the Verifier requires. */
  public static final List<String> REQUIRED_CLAIMS =
      List.of("iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp");

  /** Clock skew tolerated on exp, nbf and iat by default. */
  public static final Duration DEFAULT_LEEWAY = Duration.ofSeconds(5);

  /**
   * The asymmetric algorithms a DPoP proof may use (the {@code algs} of a DPoP challenge); never
   * {@code none} or a MAC. {@code Ed25519} is the fully specified name of EdDSA over Ed25519.
   */
  public static final List<String> DPOP_ALGORITHMS =
      List.of("ES256", "ES384", "EdDSA", "Ed25519", "PS256", "RS256");

  private static final Logger LOG = Logger.getLogger(Verifier.class.getName());
  // DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): followed by the 32-byte key.
  private static final byte[] ED25519_SPKI_PREFIX = {
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00
  };
  private static final Duration FIRST_BACKOFF = Duration.ofMillis(50);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(5);

  private final SessionClient client;
  private final Options options;
  private final RevocationView view;
  private final DpopProofs dpopProofs;
  private final ScheduledExecutorService scheduler;
  private final CountDownLatch caughtUp = new CountDownLatch(1);
  private volatile Map<String, Key> keys = Map.of();
  private long jwksFetchedAtNanos;
  private boolean refetching;
  private Duration backoff = FIRST_BACKOFF;
  private Watch current;
  private boolean closed;
  private boolean staleLogged;

  /** Tunes a Verifier; each setter returns this. */
  public static final class Options {
    private String issuer = "session-service";
    private String audience = "internal";
    private Duration leeway = DEFAULT_LEEWAY;
    private Duration maxStaleness = Duration.ofSeconds(5);
    private Duration maxSilence = Duration.ofSeconds(10);
    private Duration jwksRefreshInterval = Duration.ofMinutes(5);
    private Duration jwksRefetchInterval = Duration.ofSeconds(30);
    private Clock clock = Clock.systemUTC();
    private Duration dpopMaxAge = Duration.ofSeconds(60);
    private int dpopReplayCacheSize = 100_000;

    /** The expected iss (default "session-service"). */
    public Options issuer(String issuer) {
      this.issuer = issuer;
      return this;
    }

    /** The audience aud must name (default "internal"). */
    public Options audience(String audience) {
      this.audience = audience;
      return this;
    }

    /** Clock skew tolerated on exp, nbf and iat (default 5 s). */
    public Options leeway(Duration leeway) {
      this.leeway = leeway;
      return this;
    }

    /** A view of the revocations older than this refuses every token (default 5 s). */
    public Options maxStaleness(Duration maxStaleness) {
      this.maxStaleness = maxStaleness;
      return this;
    }

    /** The stream silent this long is reconnected; heartbeats come every second (default 10 s). */
    public Options maxSilence(Duration maxSilence) {
      this.maxSilence = maxSilence;
      return this;
    }

    /** The keys are refetched this often (default 5 min). */
    public Options jwksRefreshInterval(Duration interval) {
      this.jwksRefreshInterval = interval;
      return this;
    }

    /** An unknown kid refetches the keys at most this often (default 30 s). */
    public Options jwksRefetchInterval(Duration interval) {
      this.jwksRefetchInterval = interval;
      return this;
    }

    /** The time tokens and revocations are judged at (default the system clock). */
    public Options clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** How old a DPoP proof's iat may be, beyond the leeway (default 60 s). */
    public Options dpopMaxAge(Duration dpopMaxAge) {
      this.dpopMaxAge = dpopMaxAge;
      return this;
    }

    /** The most DPoP proofs remembered against replay, each while it could pass (default 100000). */
    public Options dpopReplayCacheSize(int size) {
      this.dpopReplayCacheSize = size;
      return this;
    }
  }

  private record Key(String algorithm, Object verifier) {}

  /** A Verifier that gets its keys and revocations through {@code client}. */
  public Verifier(SessionClient client, Options options) {
    this.client = client;
    this.options = options;
    this.view = new RevocationView(options.leeway, options.maxStaleness, options.clock);
    this.dpopProofs =
        new DpopProofs(DPOP_ALGORITHMS, options.dpopMaxAge, options.leeway, options.dpopReplayCacheSize);
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(
            runnable -> {
              Thread thread = new Thread(runnable, "session-verifier");
              thread.setDaemon(true);
              return thread;
            });
  }

  /**
   * Fetches the keys and catches up with the revocation stream. Throws {@link
   * SessionServiceException} when the keys cannot be fetched, {@link TimeoutException} when the
   * stream has not caught up within {@code catchUpWithin} (the Verifier is then closed).
   */
  public void start(Duration catchUpWithin) throws TimeoutException, InterruptedException {
    fetchJwks();
    long refresh = options.jwksRefreshInterval.toNanos();
    scheduler.scheduleWithFixedDelay(this::fetchJwksLogged, refresh, refresh, TimeUnit.NANOSECONDS);
    scheduler.execute(this::connect);
    if (!caughtUp.await(catchUpWithin.toNanos(), TimeUnit.NANOSECONDS)) {
      close();
      throw new TimeoutException("the revocation stream did not catch up within " + catchUpWithin);
    }
  }

  /** Stops the background work. */
  @Override
  public void close() {
    synchronized (this) {
      closed = true;
      if (current != null) {
        current.cancel();
      }
    }
    scheduler.shutdownNow();
  }

  /** Whether the view of the revocations is older than maxStaleness (every token is refused). */
  public boolean stale() {
    Duration staleness = view.staleness();
    return staleness == null || staleness.compareTo(options.maxStaleness) > 0;
  }

  /** Whether a revocation of the session is known (and still matters). */
  public boolean isRevoked(String sessionId) {
    return view.revokedReason(sessionId) != null;
  }

  /**
   * Set after the stream could not resume from the Verifier's cursor: revocations of tokens
   * issued before it may be unknown (null when none may have been missed).
   */
  public Instant revocationsPossiblyMissedBefore() {
    return view.missedBefore();
  }

  /**
   * Checks a token presented as a bearer token, with no network call: the signature with the key
   * named by kid and only that key's algorithm, typ at+jwt, iss, aud, exp, nbf and iat (with the
   * leeway), the required claims, that its session has not been revoked, that the view of the
   * revocations is fresh, and that the token is bound neither to a DPoP key nor to a client
   * certificate.
   */
  public VerifiedToken verify(String token) throws TokenException {
    return verify(token, null, null);
  }

  /**
   * {@link #verify(String)} for a token presented with what may bind it: {@code dpop}, the
   * request's proof when it used the DPoP scheme (null for the Bearer scheme), and {@code
   * peerCertificate}, the client certificate of the mTLS connection the token came on, verified by
   * the handshake (null without one). A DPoP-bound token without a proof, or an unbound one with a
   * proof, throws {@link TokenException.Kind#DPOP_BINDING_MISMATCH}; a proof that fails {@link
   * TokenException.Kind#INVALID_DPOP_PROOF}; a certificate-bound token without its certificate
   * {@link TokenException.Kind#CERTIFICATE_BINDING_MISMATCH}.
   */
  public VerifiedToken verify(String token, HttpProof dpop, X509Certificate peerCertificate)
      throws TokenException {
    VerifiedToken verified = verifyLocally(token);
    String reason = view.revokedReason(verified.sessionId());
    if (reason != null) {
      throw new TokenException(TokenException.Kind.SESSION_REVOKED, "session revoked", reason);
    }
    if (!view.fresh(verified.issuedAt())) {
      logStale();
      throw new TokenException(TokenException.Kind.REVOCATIONS_STALE, "revocation view stale");
    }
    checkDpop(token, verified, dpop);
    checkCertificate(verified, peerCertificate);
    return verified;
  }

  /** RFC 9449 section 7.1: a token bound to a key needs a valid, unseen proof by that key. */
  private void checkDpop(String token, VerifiedToken verified, HttpProof dpop) throws TokenException {
    if (dpop == null && verified.cnfJkt().isEmpty()) {
      return;
    }
    if (dpop == null) {
      throw new TokenException(
          TokenException.Kind.DPOP_BINDING_MISMATCH, "the token is DPoP-bound: it needs the DPoP scheme and a proof");
    }
    if (verified.cnfJkt().isEmpty()) {
      throw new TokenException(
          TokenException.Kind.DPOP_BINDING_MISMATCH, "the token is not DPoP-bound: present it as a bearer token");
    }
    dpopProofs.check(dpop, token, verified.cnfJkt(), options.clock.instant());
  }

  /** RFC 8705 section 3: a certificate-bound token only from the peer with that certificate. */
  private static void checkCertificate(VerifiedToken verified, X509Certificate peer) throws TokenException {
    if (verified.cnfX5t().isEmpty()) {
      return;
    }
    if (peer == null) {
      throw new TokenException(
          TokenException.Kind.CERTIFICATE_BINDING_MISMATCH, "no client certificate was presented");
    }
    String presented;
    try {
      presented = Base64.getUrlEncoder().withoutPadding().encodeToString(DpopProofs.sha256(peer.getEncoded()));
    } catch (java.security.cert.CertificateEncodingException e) {
      throw new TokenException(
          TokenException.Kind.CERTIFICATE_BINDING_MISMATCH, "the client certificate does not encode");
    }
    if (!DpopProofs.constantTimeEquals(presented, verified.cnfX5t())) {
      throw new TokenException(
          TokenException.Kind.CERTIFICATE_BINDING_MISMATCH, "the token is bound to another client certificate");
    }
  }

  private VerifiedToken verifyLocally(String token) throws TokenException {
    SignedJWT jwt;
    Map<String, Object> claims;
    try {
      jwt = SignedJWT.parse(token);
      claims = jwt.getPayload().toJSONObject();
    } catch (ParseException | IllegalStateException e) {
      throw new TokenException(TokenException.Kind.MALFORMED, String.valueOf(e.getMessage()));
    }
    if (claims == null) {
      throw new TokenException(TokenException.Kind.MALFORMED, "the payload is not a JSON object");
    }
    JWSHeader header = jwt.getHeader();
    if (!new JOSEObjectType(TOKEN_TYPE).equals(header.getType())) {
      throw new TokenException(TokenException.Kind.INVALID_TOKEN_TYPE, "typ " + header.getType());
    }
    Key key = keys.get(String.valueOf(header.getKeyID()));
    if (key == null) {
      refetchSoon();
      throw new TokenException(TokenException.Kind.UNKNOWN_SIGNING_KEY, "kid " + header.getKeyID());
    }
    if (!key.algorithm().equals(header.getAlgorithm().getName())) {
      throw new TokenException(
          TokenException.Kind.DISALLOWED_ALGORITHM,
          header.getAlgorithm() + " for a " + key.algorithm() + " key");
    }
    if (!signatureVerifies(jwt, key)) {
      throw new TokenException(TokenException.Kind.INVALID_SIGNATURE, "the signature does not verify");
    }
    return checkClaims(claims);
  }

  private static boolean signatureVerifies(SignedJWT jwt, Key key) {
    try {
      if (key.verifier() instanceof PublicKey ed25519) {
        return ed25519Verifies(ed25519, jwt);
      }
      return jwt.verify((com.nimbusds.jose.JWSVerifier) key.verifier());
    } catch (JOSEException | GeneralSecurityException | IllegalStateException e) {
      return false;
    }
  }

  /** Nimbus verifies Ed25519 only with Tink; the JDK (15+) has it built in. */
  static boolean ed25519Verifies(PublicKey key, JWSObject jws) throws GeneralSecurityException {
    Signature signature = Signature.getInstance("Ed25519");
    signature.initVerify(key);
    signature.update(jws.getSigningInput());
    return signature.verify(jws.getSignature().decode());
  }

  /** The JDK's public key of an Ed25519 JWK. */
  static PublicKey ed25519PublicKey(OctetKeyPair okp) throws GeneralSecurityException {
    byte[] raw = okp.getDecodedX();
    byte[] spki = Arrays.copyOf(ED25519_SPKI_PREFIX, ED25519_SPKI_PREFIX.length + raw.length);
    System.arraycopy(raw, 0, spki, ED25519_SPKI_PREFIX.length, raw.length);
    return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
  }

  VerifiedToken checkClaims(Map<String, Object> claims) throws TokenException {
    for (String name : REQUIRED_CLAIMS) {
      if (!claims.containsKey(name)) {
        throw new TokenException(TokenException.Kind.MISSING_CLAIM, name);
      }
    }
    if (!options.issuer.equals(claims.get("iss"))) {
      throw new TokenException(TokenException.Kind.INVALID_ISSUER, String.valueOf(claims.get("iss")));
    }
    Object aud = claims.get("aud");
    boolean audienceOk =
        aud instanceof String s
            ? s.equals(options.audience)
            : aud instanceof Collection<?> list && list.contains(options.audience);
    if (!audienceOk) {
      throw new TokenException(TokenException.Kind.INVALID_AUDIENCE, String.valueOf(aud));
    }
    Instant iat = numericDate(claims, "iat");
    Instant nbf = numericDate(claims, "nbf");
    Instant exp = numericDate(claims, "exp");
    Instant now = options.clock.instant();
    // The same boundaries as the issuer's checks (PyJWT): expired once exp <= now - leeway.
    if (!exp.isAfter(now.minus(options.leeway))) {
      throw new TokenException(TokenException.Kind.EXPIRED, "expired at " + exp);
    }
    if (nbf.isAfter(now.plus(options.leeway)) || iat.isAfter(now.plus(options.leeway))) {
      throw new TokenException(TokenException.Kind.NOT_YET_VALID, "nbf " + nbf + ", iat " + iat);
    }
    if (!(claims.get("sub") instanceof String sub)
        || !(claims.get("sid") instanceof String sid)
        || sid.isEmpty()) {
      throw new TokenException(TokenException.Kind.MALFORMED, "sub and sid must be strings");
    }
    String scope = claims.get("scope") instanceof String s ? s.strip() : "";
    Map<?, ?> cnf = claims.get("cnf") instanceof Map<?, ?> m ? m : Map.of();
    return new VerifiedToken(
        sub,
        sid,
        scope.isEmpty() ? List.of() : List.of(scope.split("\\s+")),
        claims.get("client_id") instanceof String c ? c : "",
        String.valueOf(claims.get("jti")),
        iat,
        exp,
        claims,
        cnf.get("jkt") instanceof String jkt ? jkt : "",
        cnf.get("x5t#S256") instanceof String x5t ? x5t : "");
  }

  private static Instant numericDate(Map<String, Object> claims, String name) throws TokenException {
    if (!(claims.get(name) instanceof Number n)) {
      throw new TokenException(TokenException.Kind.MALFORMED, name + " is not a NumericDate");
    }
    double seconds = n.doubleValue();
    long whole = (long) Math.floor(seconds);
    return Instant.ofEpochSecond(whole, (long) ((seconds - whole) * 1e9));
  }

  // Keys.

  private void fetchJwks() {
    String json = client.getJwks().getJwksJson();
    Map<String, Key> fetched = new HashMap<>();
    try {
      for (JWK jwk : JWKSet.parse(json).getKeys()) {
        String algorithm = jwk.getAlgorithm() == null ? "" : jwk.getAlgorithm().getName();
        // Only public signature keys of a supported algorithm: never a key that names none.
        if (jwk.isPrivate()
            || (jwk.getKeyUse() != null && !KeyUse.SIGNATURE.equals(jwk.getKeyUse()))
            || !SUPPORTED_ALGORITHMS.contains(algorithm)) {
          continue;
        }
        Object verifier = verifierFor(jwk, algorithm);
        if (verifier != null) {
          fetched.put(jwk.getKeyID(), new Key(algorithm, verifier));
        }
      }
    } catch (ParseException | JOSEException | GeneralSecurityException e) {
      throw new IllegalStateException("the service's JWKS does not parse", e);
    }
    keys = Map.copyOf(fetched);
    synchronized (this) {
      jwksFetchedAtNanos = System.nanoTime();
    }
  }

  private static Object verifierFor(JWK jwk, String algorithm)
      throws JOSEException, GeneralSecurityException {
    if (algorithm.equals("ES256") && jwk instanceof ECKey ec && Curve.P_256.equals(ec.getCurve())) {
      return new ECDSAVerifier(ec);
    }
    if (algorithm.equals("RS256") && jwk instanceof RSAKey rsa) {
      return new RSASSAVerifier(rsa);
    }
    if (algorithm.equals("EdDSA") && jwk instanceof OctetKeyPair okp && Curve.Ed25519.equals(okp.getCurve())) {
      return ed25519PublicKey(okp);
    }
    return null;
  }

  private void fetchJwksLogged() {
    try {
      fetchJwks();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "could not refetch the JWKS", e);
    } finally {
      synchronized (this) {
        refetching = false;
      }
    }
  }

  private synchronized void refetchSoon() {
    if (closed
        || refetching
        || System.nanoTime() - jwksFetchedAtNanos < options.jwksRefetchInterval.toNanos()) {
      return;
    }
    refetching = true;
    jwksFetchedAtNanos = System.nanoTime();
    scheduler.execute(this::fetchJwksLogged);
  }

  // Revocations.

  private synchronized void connect() {
    if (closed) {
      return;
    }
    view.reconnecting();
    current = new Watch();
    client
        .stub()
        .watchRevocations(WatchRevocationsRequest.newBuilder().setCursor(view.cursor()).build(), current);
  }

  private synchronized void reconnectLater(Object why) {
    if (closed) {
      return;
    }
    // Jitter in [0.5, 1.5) so that many verifiers do not reconnect in step.
    long delay = (long) (backoff.toNanos() * (0.5 + ThreadLocalRandom.current().nextDouble()));
    backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
    LOG.log(Level.WARNING, "revocation stream ended ({0}); reconnecting", String.valueOf(why));
    scheduler.schedule(this::connect, delay, TimeUnit.NANOSECONDS);
  }

  private void apply(WatchRevocationsResponse response) {
    if (response.getCursorReset()) {
      LOG.warning("revocation stream could not resume from its cursor; some may have been missed");
    }
    List<RevocationView.Event> events = new ArrayList<>();
    for (Revocation r : response.getRevocationsList()) {
      String reason =
          r.getReason() == RevocationReason.REVOCATION_REASON_UNSPECIFIED
                  || r.getReason() == RevocationReason.UNRECOGNIZED
              ? ""
              : r.getReason().name().replaceFirst("^REVOCATION_REASON_", "");
      Instant expiresAt =
          Instant.ofEpochSecond(r.getExpiresAt().getSeconds(), r.getExpiresAt().getNanos());
      events.add(new RevocationView.Event(r.getSessionIdsList(), expiresAt, reason));
    }
    view.apply(events, response.getCursor(), response.getCursorReset(), response.getCaughtUp());
    if (response.getCaughtUp()) {
      caughtUp.countDown();
    }
    synchronized (this) {
      backoff = FIRST_BACKOFF;
      if (staleLogged && !stale()) {
        staleLogged = false;
        LOG.info("revocation view fresh again");
      }
    }
  }

  private synchronized void logStale() {
    if (!staleLogged) {
      staleLogged = true;
      LOG.warning("revocation view stale: refusing tokens");
    }
  }

  /** One WatchRevocations call, cancelled when silent for maxSilence. */
  private final class Watch
      implements ClientResponseObserver<WatchRevocationsRequest, WatchRevocationsResponse> {
    private ClientCallStreamObserver<WatchRevocationsRequest> call;
    private ScheduledFuture<?> silence;

    @Override
    public void beforeStart(ClientCallStreamObserver<WatchRevocationsRequest> requestStream) {
      call = requestStream;
      armSilence();
    }

    private synchronized void armSilence() {
      if (silence != null) {
        silence.cancel(false);
      }
      if (!scheduler.isShutdown()) {
        silence =
            scheduler.schedule(
                () -> call.cancel("silent for " + options.maxSilence, null),
                options.maxSilence.toNanos(),
                TimeUnit.NANOSECONDS);
      }
    }

    synchronized void cancel() {
      if (silence != null) {
        silence.cancel(false);
      }
      if (call != null) {
        call.cancel("verifier closed", null);
      }
    }

    @Override
    public void onNext(WatchRevocationsResponse response) {
      armSilence();
      apply(response);
    }

    @Override
    public void onError(Throwable error) {
      end(error);
    }

    @Override
    public void onCompleted() {
      end(null);
    }

    private void end(Throwable why) {
      synchronized (this) {
        if (silence != null) {
          silence.cancel(false);
        }
      }
      reconnectLater(why == null ? "the service ended the stream" : (Object) why);
    }
  }
}
