package io.github.sessionservice.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.github.sessionservice.v1.ErrorReason;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** What needs no service: errors, targets, the revocation view's rules, the token profile. */
class UnitTest {
  private static SessionServiceException failure(Code code, String reason, String domain) {
    com.google.rpc.Status status =
        com.google.rpc.Status.newBuilder()
            .setCode(code.getNumber())
            .setMessage("m")
            .addDetails(Any.pack(ErrorInfo.newBuilder().setReason(reason).setDomain(domain).build()))
            .addDetails(
                Any.pack(
                    BadRequest.newBuilder()
                        .addFieldViolations(
                            BadRequest.FieldViolation.newBuilder().setField("user_id").setDescription("required"))
                        .build()))
            .build();
    return SessionServiceException.from(StatusProto.toStatusRuntimeException(status));
  }

  @Test
  void everyErrorReasonOfTheContractComesBackAsItsEnumValue() {
    for (ErrorReason reason : ErrorReason.values()) {
      if (reason == ErrorReason.UNRECOGNIZED) {
        continue;
      }
      SessionServiceException e = failure(Code.NOT_FOUND, reason.name(), "session.v1");
      assertEquals(reason, e.reason());
      assertEquals(Status.Code.NOT_FOUND, e.code());
      assertEquals("required", e.fieldViolations().get("user_id"));
    }
    assertEquals(ErrorReason.UNRECOGNIZED, failure(Code.INTERNAL, "FROM_THE_FUTURE", "session.v1").reason());
    assertEquals(
        ErrorReason.ERROR_REASON_UNSPECIFIED,
        failure(Code.NOT_FOUND, "SESSION_NOT_FOUND", "other.v1").reason());
    assertEquals(
        ErrorReason.ERROR_REASON_UNSPECIFIED,
        SessionServiceException.from(Status.UNAVAILABLE.asRuntimeException()).reason());
  }

  @Test
  void plaintextToARemoteTargetIsRefusedUnlessAsked() {
    Map<String, Boolean> cases = new HashMap<>();
    cases.put("localhost:50051", true);
    cases.put("api.localhost:1", true);
    cases.put("127.0.0.1:50051", true);
    cases.put("[::1]:50051", true);
    cases.put("dns:///localhost:50051", true);
    cases.put("unix:/run/session.sock", true);
    cases.put("session-service:50051", false);
    cases.put("10.0.0.1:50051", false);
    cases.put("[2001:db8::1]:50051", false);
    cases.put("localhost.example.com:443", false);
    cases.forEach((target, local) -> assertEquals(local, SessionClient.isLocalTarget(target), target));
    assertThrows(IllegalArgumentException.class, () -> SessionClient.builder("session-service:50051").build());
    SessionClient.builder("session-service:50051").insecure().build().close();
    SessionClient.builder("127.0.0.1:50051").build().close();
  }

  @Test
  void viewIsFreshOnlyAfterCatchingUpAndVouchesOnlyForTokensAfterACursorReset() {
    Instant now = Instant.ofEpochSecond(1_800_000_000L);
    RevocationView view = new RevocationView(Duration.ofSeconds(5), Duration.ofMinutes(1), Clock.fixed(now, ZoneOffset.UTC));
    assertFalse(view.fresh(now));
    view.apply(List.of(), "c1", false, false);
    assertFalse(view.fresh(now), "fresh before the replay caught up");
    view.apply(List.of(), "c2", true, true);
    assertEquals("c2", view.cursor());
    assertFalse(view.fresh(now), "a token issued at the reset was vouched for");
    assertTrue(view.fresh(now.plusSeconds(1)));
  }

  @Test
  void revocationIsForgottenOnceItsTokensHaveExpired() {
    Instant start = Instant.ofEpochSecond(1_800_000_000L);
    Instant[] now = {start};
    Clock clock =
        new Clock() {
          @Override
          public Instant instant() {
            return now[0];
          }

          @Override
          public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
          }

          @Override
          public Clock withZone(java.time.ZoneId zone) {
            return this;
          }
        };
    RevocationView view = new RevocationView(Duration.ofSeconds(5), Duration.ofMinutes(1), clock);
    view.apply(List.of(new RevocationView.Event(List.of("s1"), start.plusSeconds(10), "LOGOUT")), "c", false, true);
    assertEquals("LOGOUT", view.revokedReason("s1"));
    now[0] = start.plusMillis(14_999);
    assertNotNull(view.revokedReason("s1"));
    now[0] = start.plusSeconds(15);
    assertNull(view.revokedReason("s1"));
  }

  @Test
  void tokenProfileMatchesTheWireContract() throws Exception {
    Path profile = Path.of("../../wire/session_wire/token_profile.py");
    Assumptions.assumeTrue(Files.exists(profile), "not inside the session-service repository");
    String text = Files.readString(profile);
    assertEquals(pythonTuple(text, "SUPPORTED_ALGORITHMS"), Verifier.SUPPORTED_ALGORITHMS);
    assertEquals(pythonTuple(text, "REQUIRED_CLAIMS"), Verifier.REQUIRED_CLAIMS);
    assertTrue(text.contains("TOKEN_TYPE = \"" + Verifier.TOKEN_TYPE + "\""));
    assertTrue(text.contains("DEFAULT_LEEWAY_S = " + Verifier.DEFAULT_LEEWAY.toSeconds() + "\n"));
  }

  private static List<String> pythonTuple(String text, String name) {
    Matcher m = Pattern.compile(name + ": tuple\\[str, \\.\\.\\.\\] = \\(([^)]*)\\)").matcher(text);
    assertTrue(m.find(), name);
    return Pattern.compile("\"([^\"]+)\"").matcher(m.group(1)).results().map(r -> r.group(1)).toList();
  }

  @Test
  void dpopAlgorithmsMatchTheWireContract() throws Exception {
    Path dpop = Path.of("../../wire/session_wire/dpop.py");
    Assumptions.assumeTrue(Files.exists(dpop), "not inside the session-service repository");
    assertEquals(pythonTuple(Files.readString(dpop), "DPOP_ALGORITHMS"), Verifier.DPOP_ALGORITHMS);
  }

  @Test
  void cnfClaimsAreReadAndABoundTokenNeedsWhatBindsIt() throws Exception {
    Verifier verifier = new Verifier(null, new Verifier.Options());
    long now = Instant.now().getEpochSecond();
    Map<String, Object> claims = new HashMap<>(
        Map.of("iss", "session-service", "aud", "internal", "sub", "u", "sid", "s", "jti", "j",
            "iat", now, "nbf", now, "exp", now + 60));
    assertEquals("", verifier.checkClaims(claims).cnfJkt());
    claims.put("cnf", Map.of("jkt", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", "x5t#S256", "x5t"));
    VerifiedToken verified = verifier.checkClaims(claims);
    assertEquals("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", verified.cnfJkt());
    assertEquals("x5t", verified.cnfX5t());
    verifier.close();
  }

  /** The normalisation of session_wire.dpop.normalize_htu. */
  @Test
  void htuIsComparedWithoutQueryFragmentCaseOrDefaultPort() throws Exception {
    Map<String, String> cases = new LinkedHashMap<>();
    cases.put("https://API.example.com/orders?page=2#top", "https://api.example.com/orders");
    cases.put("HTTPS://api.example.com:443", "https://api.example.com/");
    cases.put("http://api.example.com:80/a", "http://api.example.com/a");
    cases.put("http://api.example.com:8080/a", "http://api.example.com:8080/a");
    cases.put(" https://[::1]:8443/x ", "https://[::1]:8443/x");
    for (Map.Entry<String, String> c : cases.entrySet()) {
      assertEquals(c.getValue(), DpopProofs.normalizeHtu(c.getKey()), c.getKey());
    }
    for (String uri : List.of("/orders", "ftp://example.com/", "https:///x")) {
      TokenException e = assertThrows(TokenException.class, () -> DpopProofs.normalizeHtu(uri), uri);
      assertEquals(TokenException.Kind.INVALID_DPOP_PROOF, e.kind());
    }
  }
}
