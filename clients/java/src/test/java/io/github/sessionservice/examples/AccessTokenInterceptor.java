package io.github.sessionservice.examples;

import io.github.sessionservice.client.HttpProof;
import io.github.sessionservice.client.TokenException;
import io.github.sessionservice.client.VerifiedToken;
import io.github.sessionservice.client.Verifier;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * A gRPC server interceptor that verifies the caller's access token locally and puts it in the
 * call's Context: handlers read {@code AccessTokenInterceptor.TOKEN.get()}. It accepts bearer
 * tokens, tokens bound to a DPoP key ({@code authorization: DPoP} with a {@code dpop} proof of
 * the call's HTTP/2 request: POST to the method's path) and tokens bound to the client
 * certificate of the call's mTLS connection (RFC 8705).
 */
public final class AccessTokenInterceptor implements ServerInterceptor {
  /** The token verified for the current call. */
  public static final Context.Key<VerifiedToken> TOKEN = Context.key("access-token");

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final Metadata.Key<String> DPOP = Metadata.Key.of("dpop", Metadata.ASCII_STRING_MARSHALLER);

  private final Verifier verifier;

  public AccessTokenInterceptor(Verifier verifier) {
    this.verifier = verifier;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String authorization = headers.get(AUTHORIZATION);
    String[] credentials = authorization == null ? new String[0] : authorization.split(" ", 2);
    if (credentials.length != 2
        || !(credentials[0].equalsIgnoreCase("Bearer") || credentials[0].equalsIgnoreCase("DPoP"))) {
      call.close(Status.UNAUTHENTICATED.withDescription("access token required"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    SSLSession tls = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    HttpProof dpop = null;
    if (credentials[0].equalsIgnoreCase("DPoP")) {
      Iterable<String> proofs = headers.getAll(DPOP);
      // Exactly one proof: two are one invalid proof.
      String proof = proofs == null ? "" : String.join(",", proofs);
      String uri = (tls == null ? "http://" : "https://") + call.getAuthority() + "/"
          + call.getMethodDescriptor().getFullMethodName();
      dpop = new HttpProof(proof, "POST", uri);
    }
    try {
      VerifiedToken token = verifier.verify(credentials[1], dpop, peerCertificate(tls));
      return Contexts.interceptCall(Context.current().withValue(TOKEN, token), call, headers, next);
    } catch (TokenException e) {
      // A stale revocation view says nothing about the token: the caller may retry.
      Status status =
          e.kind() == TokenException.Kind.REVOCATIONS_STALE ? Status.UNAVAILABLE : Status.UNAUTHENTICATED;
      call.close(status.withDescription(e.kind().name()), new Metadata());
      return new ServerCall.Listener<>() {};
    }
  }

  /** The client certificate the TLS handshake verified; null without mTLS. */
  private static X509Certificate peerCertificate(SSLSession tls) {
    try {
      Certificate[] chain = tls == null ? new Certificate[0] : tls.getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate leaf ? leaf : null;
    } catch (SSLPeerUnverifiedException e) {
      return null;
    }
  }
}
