package io.github.sessionservice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.Payload;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import io.github.sessionservice.examples.AccessTokenInterceptor;
import io.github.sessionservice.v1.CreateRequest;
import io.github.sessionservice.v1.CreateResponse;
import io.github.sessionservice.v1.DpopProof;
import io.github.sessionservice.v1.ErrorReason;
import io.github.sessionservice.v1.ExchangeRequest;
import io.github.sessionservice.v1.GetJwksRequest;
import io.github.sessionservice.v1.GetJwksResponse;
import io.github.sessionservice.v1.GetRequest;
import io.github.sessionservice.v1.IntrospectRequest;
import io.github.sessionservice.v1.RefreshRequest;
import io.github.sessionservice.v1.RefreshResponse;
import io.github.sessionservice.v1.RevokeRequest;
import io.github.sessionservice.v1.SessionServiceGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Against a real service: the test suite (tests/client/test_java_client.py) starts the services
 * with Redis and names them in environment variables; without them these tests are skipped.
 */
class ServiceTest {
  private final List<AutoCloseable> opened = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = opened.size() - 1; i >= 0; i--) {
      opened.get(i).close();
    }
  }

  private static String target(String variable) {
    String value = System.getenv(variable);
    Assumptions.assumeTrue(value != null && !value.isEmpty(), variable + " is not set");
    return value;
  }

  private SessionClient connect(String target) {
    SessionClient client = SessionClient.builder(target).build();
    opened.add(client);
    return client;
  }

  private Verifier startVerifier(String target, Verifier.Options options) throws Exception {
    Verifier verifier = new Verifier(connect(target), options);
    verifier.start(Duration.ofSeconds(10));
    opened.add(verifier);
    return verifier;
  }

  private static CreateResponse create(SessionClient client, String user) {
    return client.create(CreateRequest.newBuilder().setUserId(user).addScopes("read").build());
  }

  private static RevokeRequest revokeSession(CreateResponse created) {
    return RevokeRequest.newBuilder().setSessionId(created.getSession().getSessionId()).build();
  }

  /** The service behind SESSION_TARGET has a refresh grace of one second. */
  @Test
  void callsAndTypedErrors() throws Exception {
    SessionClient client = connect(target("SESSION_TARGET"));
    CreateResponse created = create(client, "java-alice");
    String sid = created.getSession().getSessionId();
    assertEquals("java-alice", client.get(GetRequest.newBuilder().setSessionId(sid).build()).getSession().getUserId());
    RefreshRequest first = RefreshRequest.newBuilder().setRefreshToken(created.getRefreshToken()).build();
    RefreshResponse refreshed = client.refresh(first);
    // A duplicate within the grace (two tabs, a retry) gets the same successor.
    assertEquals(refreshed.getRefreshToken(), client.refresh(first).getRefreshToken());
    var introspected = client.introspect(IntrospectRequest.newBuilder().setToken(refreshed.getAccessToken()).build());
    assertTrue(introspected.getActive());
    assertEquals(sid, introspected.getSid());

    Thread.sleep(1100); // past the grace: the old token is now reuse
    SessionServiceException reused = assertThrows(SessionServiceException.class, () -> client.refresh(first));
    assertEquals(ErrorReason.REFRESH_TOKEN_REUSED, reused.reason());
    assertEquals(Status.Code.UNAUTHENTICATED, reused.code());
    SessionServiceException gone =
        assertThrows(SessionServiceException.class, () -> client.get(GetRequest.newBuilder().setSessionId(sid).build()));
    assertEquals(ErrorReason.SESSION_NOT_FOUND, gone.reason());
    assertEquals(Status.Code.NOT_FOUND, gone.code());
    SessionServiceException invalid =
        assertThrows(SessionServiceException.class, () -> client.create(CreateRequest.getDefaultInstance()));
    assertEquals(ErrorReason.INVALID_ARGUMENT, invalid.reason());
    assertTrue(invalid.fieldViolations().containsKey("user_id"), invalid.fieldViolations().toString());

    CreateResponse other = create(client, "java-alice");
    assertEquals(1, client.revoke(revokeSession(other)).getRevokedCount());
    assertFalse(client.introspect(IntrospectRequest.newBuilder().setToken(other.getAccessToken()).build()).getActive());
  }

  @Test
  void verifierAcceptsEverySupportedAlgorithmAndRefusesAForgedSignature() throws Exception {
    for (String variable : List.of("SESSION_TARGET", "SESSION_TARGET_ES256", "SESSION_TARGET_RS256")) {
      String address = target(variable);
      CreateResponse created = create(connect(address), "java-algo");
      Verifier verifier = startVerifier(address, new Verifier.Options());
      VerifiedToken verified = verifier.verify(created.getAccessToken());
      assertEquals("java-algo", verified.subject(), variable);
      assertEquals(created.getSession().getSessionId(), verified.sessionId());
      assertEquals(List.of("read"), verified.scopes());
      assertEquals(created.getAccessTokenExpiresAt().getSeconds(), verified.expiresAt().getEpochSecond());
      String[] parts = created.getAccessToken().split("\\.");
      byte[] signature = Base64.getUrlDecoder().decode(parts[2]);
      signature[signature.length / 2] ^= 1;
      String forged = parts[0] + "." + parts[1] + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(signature);
      TokenException e = assertThrows(TokenException.class, () -> verifier.verify(forged));
      assertEquals(TokenException.Kind.INVALID_SIGNATURE, e.kind(), variable);
      e = assertThrows(TokenException.class, () -> verifier.verify(parts[0] + "." + parts[1]));
      assertEquals(TokenException.Kind.MALFORMED, e.kind());
    }
  }

  @Test
  void verifierRefusesARevokedSessionWithinASecond() throws Exception {
    String address = target("SESSION_TARGET");
    SessionClient client = connect(address);
    CreateResponse before = create(client, "java-bob");
    client.revoke(revokeSession(before));
    Verifier verifier = startVerifier(address, new Verifier.Options());
    // Revoked before the verifier started: the replay told it.
    TokenException e = assertThrows(TokenException.class, () -> verifier.verify(before.getAccessToken()));
    assertEquals(TokenException.Kind.SESSION_REVOKED, e.kind());

    CreateResponse created = create(client, "java-bob");
    verifier.verify(created.getAccessToken());
    client.revoke(revokeSession(created));
    long revokedAt = System.nanoTime();
    while (true) {
      try {
        verifier.verify(created.getAccessToken());
      } catch (TokenException refused) {
        assertEquals(TokenException.Kind.SESSION_REVOKED, refused.kind());
        assertEquals("LOGOUT", refused.revocationReason());
        break;
      }
      if (System.nanoTime() - revokedAt > 1_000_000_000L) {
        fail("the revoked session's token was still accepted after a second");
      }
      Thread.sleep(2);
    }
    System.out.printf("revoked token refused %d ms after Revoke returned%n", (System.nanoTime() - revokedAt) / 1_000_000);
  }

  @Test
  void verifierRefusesAnExpiredTokenOnTime() throws Exception {
    String address = target("SESSION_TARGET");
    CreateResponse created = create(connect(address), "java-carol");
    AtomicReference<Instant> now = new AtomicReference<>(Instant.now());
    Clock clock =
        new Clock() {
          @Override
          public Instant instant() {
            return now.get();
          }

          @Override
          public ZoneId getZone() {
            return ZoneOffset.UTC;
          }

          @Override
          public Clock withZone(ZoneId zone) {
            return this;
          }
        };
    Verifier verifier = startVerifier(address, new Verifier.Options().clock(clock).leeway(Duration.ofSeconds(5)));
    Instant exp = Instant.ofEpochSecond(created.getAccessTokenExpiresAt().getSeconds(), created.getAccessTokenExpiresAt().getNanos());
    verifier.verify(created.getAccessToken());
    now.set(exp.plusSeconds(5).minusMillis(1)); // within the leeway: still valid
    verifier.verify(created.getAccessToken());
    now.set(exp.plusSeconds(5));
    TokenException e = assertThrows(TokenException.class, () -> verifier.verify(created.getAccessToken()));
    assertEquals(TokenException.Kind.EXPIRED, e.kind());
  }

  @Test
  void verifierWithAStaleFeedRefusesWithinTheBound() throws Exception {
    String address = target("SESSION_TARGET");
    CreateResponse created = create(connect(address), "java-dave");
    // The verifier reaches the service through a TCP proxy that the test cuts: the revocation
    // stream goes silent, as behind a dead link.
    Proxy proxy = new Proxy(address);
    opened.add(proxy);
    Verifier verifier =
        startVerifier(
            "127.0.0.1:" + proxy.port(),
            new Verifier.Options().maxStaleness(Duration.ofMillis(500)).maxSilence(Duration.ofMillis(300)));
    verifier.verify(created.getAccessToken());
    proxy.cut();
    long cut = System.nanoTime();
    while (true) {
      try {
        verifier.verify(created.getAccessToken());
      } catch (TokenException refused) {
        assertEquals(TokenException.Kind.REVOCATIONS_STALE, refused.kind());
        break;
      }
      if (System.nanoTime() - cut > 1_000_000_000L) {
        fail("a stale verifier still accepted tokens past the bound");
      }
      Thread.sleep(5);
    }
    assertTrue(verifier.stale());
    System.out.printf("feed cut: token refused after %d ms (bound 500 ms)%n", (System.nanoTime() - cut) / 1_000_000);
  }

  @Test
  void verifierWithoutItsServiceDoesNotStart() {
    // Nothing listens there: the keys cannot be fetched, and start fails instead of opening.
    Verifier verifier = new Verifier(connect("127.0.0.1:1"), new Verifier.Options());
    assertThrows(SessionServiceException.class, () -> verifier.start(Duration.ofSeconds(1)));
    verifier.close();
  }

  @Test
  void mutualTls() throws Exception {
    String address = target("SESSION_TLS_TARGET");
    File ca = new File(System.getenv("SESSION_CA_FILE"));
    File cert = new File(System.getenv("SESSION_CLIENT_CERT_FILE"));
    File key = new File(System.getenv("SESSION_CLIENT_KEY_FILE"));
    try (SessionClient client =
        SessionClient.builder(address).tlsFromFiles(ca, cert, key).serverName("localhost").build()) {
      assertNotEquals("", create(client, "java-tls").getAccessToken());
    }
    try (SessionClient client = SessionClient.builder(address).tlsFromFiles(ca, null, null).serverName("localhost").build()) {
      SessionServiceException e = assertThrows(SessionServiceException.class, client::getJwks);
      assertEquals(Status.Code.UNAVAILABLE, e.code());
    }
  }

  @Test
  void accessTokenInterceptorPutsTheVerifiedUserInTheContext() throws Exception {
    String address = target("SESSION_TARGET");
    CreateResponse created = create(connect(address), "java-interceptor");
    Verifier verifier = startVerifier(address, new Verifier.Options());
    // A service of our own behind the interceptor; GetJwks stands for any RPC and answers
    // with the subject its handler read from the Context.
    SessionServiceGrpc.SessionServiceImplBase echo =
        new SessionServiceGrpc.SessionServiceImplBase() {
          @Override
          public void getJwks(GetJwksRequest request, StreamObserver<GetJwksResponse> response) {
            response.onNext(GetJwksResponse.newBuilder().setJwksJson(AccessTokenInterceptor.TOKEN.get().subject()).build());
            response.onCompleted();
          }
        };
    Server server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(ServerInterceptors.intercept(echo, new AccessTokenInterceptor(verifier)))
            .build()
            .start();
    opened.add(() -> server.shutdownNow().awaitTermination());
    String ours = "127.0.0.1:" + server.getPort();
    try (SessionClient caller = SessionClient.builder(ours).callerToken(created.getAccessToken()).build()) {
      assertEquals("java-interceptor", caller.getJwks().getJwksJson());
    }
    try (SessionClient caller = SessionClient.builder(ours).callerToken("not-a-token").build()) {
      assertEquals(Status.Code.UNAUTHENTICATED, assertThrows(SessionServiceException.class, caller::getJwks).code());
    }
  }

  @Test
  void accessTokenInterceptorChecksTheDpopProofOfTheCall() throws Exception {
    String address = target("SESSION_TARGET");
    ECKey key = new ECKeyGenerator(Curve.P_256).generate();
    CreateResponse created = connect(address).create(CreateRequest.newBuilder()
        .setUserId("java-interceptor-dpop")
        .setDpop(DpopProof.newBuilder()
            .setProof(proof(key, "POST", LOGIN, null, Instant.now())).setHttpMethod("POST").setHttpUri(LOGIN))
        .build());
    String token = created.getAccessToken();
    Verifier verifier = startVerifier(address, new Verifier.Options());
    SessionServiceGrpc.SessionServiceImplBase echo =
        new SessionServiceGrpc.SessionServiceImplBase() {
          @Override
          public void getJwks(GetJwksRequest request, StreamObserver<GetJwksResponse> response) {
            response.onNext(GetJwksResponse.newBuilder().setJwksJson(AccessTokenInterceptor.TOKEN.get().subject()).build());
            response.onCompleted();
          }
        };
    Server server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(ServerInterceptors.intercept(echo, new AccessTokenInterceptor(verifier)))
            .build()
            .start();
    opened.add(() -> server.shutdownNow().awaitTermination());
    String ours = "127.0.0.1:" + server.getPort();
    // The call's HTTP/2 request: POST to the method's path on the channel's authority.
    String uri = "http://" + ours + "/session.v1.SessionService/GetJwks";
    String valid = proof(key, "POST", uri, token, Instant.now());
    for (String[] c : new String[][] {
        {"DPoP " + token, valid, "java-interceptor-dpop"},
        {"DPoP " + token, valid, "INVALID_DPOP_PROOF"}, // replayed
        {"DPoP " + token, proof(key, "GET", uri, token, Instant.now()), "INVALID_DPOP_PROOF"},
        {"Bearer " + token, "", "DPOP_BINDING_MISMATCH"},
    }) {
      ManagedChannel channel = Grpc.newChannelBuilder(ours, InsecureChannelCredentials.create()).build();
      opened.add(() -> channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
      Metadata metadata = new Metadata();
      metadata.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), c[0]);
      if (!c[1].isEmpty()) {
        metadata.put(Metadata.Key.of("dpop", Metadata.ASCII_STRING_MARSHALLER), c[1]);
      }
      var stub = SessionServiceGrpc.newBlockingStub(channel)
          .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(metadata));
      try {
        assertEquals(c[2], stub.getJwks(GetJwksRequest.getDefaultInstance()).getJwksJson());
      } catch (StatusRuntimeException e) {
        assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
        assertEquals(c[2], e.getStatus().getDescription());
      }
    }
  }

  private static final String LOGIN = "https://login.example.com/session";
  private static final String API = "https://api.example.com/orders";

  /** A DPoP proof by {@code key} for method and uri, made at iat, over token (null: no ath). */
  private static String proof(ECKey key, String method, String uri, String token, Instant iat) throws Exception {
    Map<String, Object> claims = new HashMap<>(
        Map.of("jti", UUID.randomUUID().toString(), "htm", method, "htu", uri, "iat", iat.getEpochSecond()));
    if (token != null) {
      claims.put("ath", DpopProofs.accessTokenHash(token));
    }
    JWSHeader header =
        new JWSHeader.Builder(JWSAlgorithm.ES256).type(new JOSEObjectType("dpop+jwt")).jwk(key.toPublicJWK()).build();
    JWSObject jws = new JWSObject(header, new Payload(claims));
    jws.sign(new ECDSASigner(key));
    return jws.serialize();
  }

  /** A proof whose header names alg, with the given signature (none: empty). */
  private static String proofNamingAlg(String alg, String token, byte[] signature) throws Exception {
    String jwk = new ECKeyGenerator(Curve.P_256).generate().toPublicJWK().toJSONString();
    String header = "{\"typ\":\"dpop+jwt\",\"alg\":\"" + alg + "\",\"jwk\":" + jwk + "}";
    String payload = "{\"jti\":\"" + UUID.randomUUID() + "\",\"htm\":\"GET\",\"htu\":\"" + API
        + "\",\"iat\":" + Instant.now().getEpochSecond() + ",\"ath\":\"" + DpopProofs.accessTokenHash(token) + "\"}";
    return Base64URL.encode(header.getBytes(StandardCharsets.UTF_8)) + "."
        + Base64URL.encode(payload.getBytes(StandardCharsets.UTF_8)) + "." + Base64URL.encode(signature);
  }

  @Test
  void verifierAcceptsADpopBoundTokenOnlyWithAFreshProofByItsKey() throws Exception {
    String address = target("SESSION_TARGET");
    SessionClient client = connect(address);
    ECKey key = new ECKeyGenerator(Curve.P_256).generate();
    CreateResponse created = client.create(CreateRequest.newBuilder()
        .setUserId("java-dpop")
        .setDpop(DpopProof.newBuilder()
            .setProof(proof(key, "POST", LOGIN, null, Instant.now())).setHttpMethod("POST").setHttpUri(LOGIN))
        .build());
    String token = created.getAccessToken();
    Verifier verifier = startVerifier(address, new Verifier.Options());

    HttpProof valid = new HttpProof(proof(key, "GET", API + "?page=2#top", token, Instant.now()), "GET", API);
    VerifiedToken verified = verifier.verify(token, valid, null);
    assertEquals("java-dpop", verified.subject());
    assertEquals(key.computeThumbprint().toString(), verified.cnfJkt());

    Instant now = Instant.now();
    Map<String, HttpProof> refused = new LinkedHashMap<>();
    refused.put("replayed", valid);
    refused.put("no proof header", new HttpProof("", "GET", API));
    refused.put("another key", new HttpProof(
        proof(new ECKeyGenerator(Curve.P_256).generate(), "GET", API, token, now), "GET", API));
    refused.put("wrong htm", new HttpProof(proof(key, "POST", API, token, now), "GET", API));
    refused.put("wrong htu", new HttpProof(proof(key, "GET", "https://api.example.com/other", token, now), "GET", API));
    refused.put("wrong ath", new HttpProof(proof(key, "GET", API, token + "x", now), "GET", API));
    refused.put("no ath", new HttpProof(proof(key, "GET", API, null, now), "GET", API));
    refused.put("stale iat", new HttpProof(proof(key, "GET", API, token, now.minusSeconds(600)), "GET", API));
    refused.put("future iat", new HttpProof(proof(key, "GET", API, token, now.plusSeconds(60)), "GET", API));
    refused.put("alg none", new HttpProof(proofNamingAlg("none", token, new byte[0]), "GET", API));
    refused.put("alg HS256", new HttpProof(proofNamingAlg("HS256", token, new byte[32]), "GET", API));
    for (Map.Entry<String, HttpProof> c : refused.entrySet()) {
      TokenException e = assertThrows(TokenException.class, () -> verifier.verify(token, c.getValue(), null), c.getKey());
      assertEquals(TokenException.Kind.INVALID_DPOP_PROOF, e.kind(), c.getKey());
    }
    // Presented as a bearer token, the bound token does not pass.
    assertEquals(TokenException.Kind.DPOP_BINDING_MISMATCH,
        assertThrows(TokenException.class, () -> verifier.verify(token)).kind());
    // An unbound token with a proof is refused too: it must be presented as a bearer token.
    String bearer = create(client, "java-bearer").getAccessToken();
    HttpProof forBearer = new HttpProof(proof(key, "GET", API, bearer, now), "GET", API);
    assertEquals(TokenException.Kind.DPOP_BINDING_MISMATCH,
        assertThrows(TokenException.class, () -> verifier.verify(bearer, forBearer, null)).kind());
    verifier.verify(token, new HttpProof(proof(key, "GET", API, token, Instant.now()), "GET", API), null);
  }

  private SessionClient connectExchange(String address, String identity) {
    SessionClient client = SessionClient.builder(address)
        .tlsFromFiles(
            new File(System.getenv("SESSION_EXCHANGE_CA_FILE")),
            new File(System.getenv("SESSION_EXCHANGE_" + identity + "_CERT_FILE")),
            new File(System.getenv("SESSION_EXCHANGE_" + identity + "_KEY_FILE")))
        .serverName("localhost")
        .build();
    opened.add(client);
    return client;
  }

  private static X509Certificate certificate(String identity) throws Exception {
    try (FileInputStream in = new FileInputStream(System.getenv("SESSION_EXCHANGE_" + identity + "_CERT_FILE"))) {
      return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
  }

  @Test
  void verifierAcceptsACertificateBoundTokenOnlyFromItsCertificate() throws Exception {
    String address = target("SESSION_EXCHANGE_TARGET");
    SessionClient gateway = connectExchange(address, "GATEWAY");
    CreateResponse created =
        gateway.create(CreateRequest.newBuilder().setUserId("java-exchange").addScopes("orders:read").build());
    String token = SessionServiceGrpc.newBlockingStub(gateway.channel())
        .exchange(ExchangeRequest.newBuilder()
            .setSubjectToken(created.getAccessToken())
            .setAudience("orders-api")
            .addScopes("orders:read")
            .setBindToCallerCertificate(true)
            .build())
        .getAccessToken();
    Verifier verifier = new Verifier(connectExchange(address, "ORDERS"), new Verifier.Options().audience("orders-api"));
    verifier.start(Duration.ofSeconds(10));
    opened.add(verifier);

    VerifiedToken verified = verifier.verify(token, null, certificate("GATEWAY"));
    assertEquals("java-exchange", verified.subject());
    assertFalse(verified.cnfX5t().isEmpty());
    X509Certificate another = certificate("ORDERS");
    assertEquals(TokenException.Kind.CERTIFICATE_BINDING_MISMATCH,
        assertThrows(TokenException.class, () -> verifier.verify(token, null, another)).kind());
    assertEquals(TokenException.Kind.CERTIFICATE_BINDING_MISMATCH,
        assertThrows(TokenException.class, () -> verifier.verify(token)).kind());
  }

  /** A TCP proxy to a service; {@link #cut()} makes its connections silent. */
  private static final class Proxy implements AutoCloseable {
    private final ServerSocket listener;
    private final List<Socket> sockets = new ArrayList<>();
    private volatile boolean forwarding = true;

    Proxy(String upstream) throws IOException {
      String host = upstream.substring(0, upstream.lastIndexOf(':'));
      int port = Integer.parseInt(upstream.substring(upstream.lastIndexOf(':') + 1));
      listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread acceptor =
          new Thread(
              () -> {
                try {
                  while (true) {
                    Socket down = listener.accept();
                    Socket up = new Socket(host, port);
                    synchronized (sockets) {
                      sockets.add(down);
                      sockets.add(up);
                    }
                    pump(down, up);
                    pump(up, down);
                  }
                } catch (IOException e) {
                  // The listener was closed.
                }
              });
      acceptor.setDaemon(true);
      acceptor.start();
    }

    int port() {
      return listener.getLocalPort();
    }

    private void pump(Socket from, Socket to) {
      Thread thread =
          new Thread(
              () -> {
                byte[] buffer = new byte[16384];
                try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                  for (int n; (n = in.read(buffer)) >= 0; ) {
                    if (forwarding) {
                      out.write(buffer, 0, n);
                    }
                  }
                } catch (IOException e) {
                  // A side closed.
                }
              });
      thread.setDaemon(true);
      thread.start();
    }

    /** Stops forwarding: new connections are refused, open ones go silent. */
    void cut() throws IOException {
      forwarding = false;
      listener.close();
    }

    @Override
    public void close() throws IOException {
      cut();
      synchronized (sockets) {
        for (Socket s : sockets) {
          s.close();
        }
      }
    }
  }
}
