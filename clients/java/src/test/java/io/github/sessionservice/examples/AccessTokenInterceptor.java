package io.github.sessionservice.examples;

import io.github.sessionservice.client.TokenException;
import io.github.sessionservice.client.VerifiedToken;
import io.github.sessionservice.client.Verifier;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/**
 * A gRPC server interceptor that verifies the caller's access token locally and puts it in the
 * call's Context: handlers read {@code AccessTokenInterceptor.TOKEN.get()}.
 */
public final class AccessTokenInterceptor implements ServerInterceptor {
  /** The token verified for the current call. */
  public static final Context.Key<VerifiedToken> TOKEN = Context.key("access-token");

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final Verifier verifier;

  public AccessTokenInterceptor(Verifier verifier) {
    this.verifier = verifier;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String authorization = headers.get(AUTHORIZATION);
    if (authorization == null || !authorization.startsWith("Bearer ")) {
      call.close(Status.UNAUTHENTICATED.withDescription("bearer token required"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    try {
      VerifiedToken token = verifier.verify(authorization.substring("Bearer ".length()));
      return Contexts.interceptCall(Context.current().withValue(TOKEN, token), call, headers, next);
    } catch (TokenException e) {
      // A stale revocation view says nothing about the token: the caller may retry.
      Status status =
          e.kind() == TokenException.Kind.REVOCATIONS_STALE ? Status.UNAVAILABLE : Status.UNAUTHENTICATED;
      call.close(status.withDescription(e.kind().name()), new Metadata());
      return new ServerCall.Listener<>() {};
    }
  }
}
