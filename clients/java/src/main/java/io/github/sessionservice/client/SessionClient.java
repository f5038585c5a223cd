package io.github.sessionservice.client;

import io.github.sessionservice.v1.CreateRequest;
import io.github.sessionservice.v1.CreateResponse;
import io.github.sessionservice.v1.GetJwksRequest;
import io.github.sessionservice.v1.GetJwksResponse;
import io.github.sessionservice.v1.GetRequest;
import io.github.sessionservice.v1.GetResponse;
import io.github.sessionservice.v1.IntrospectBatchRequest;
import io.github.sessionservice.v1.IntrospectBatchResponse;
import io.github.sessionservice.v1.IntrospectRequest;
import io.github.sessionservice.v1.IntrospectResponse;
import io.github.sessionservice.v1.ListRequest;
import io.github.sessionservice.v1.ListResponse;
import io.github.sessionservice.v1.RefreshRequest;
import io.github.sessionservice.v1.RefreshResponse;
import io.github.sessionservice.v1.RevokeRequest;
import io.github.sessionservice.v1.RevokeResponse;
import io.github.sessionservice.v1.SessionServiceGrpc;
import io.github.sessionservice.v1.UpdateRequest;
import io.github.sessionservice.v1.UpdateResponse;
import io.grpc.CallCredentials;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * A connection to session-service. Each method makes one call with the client's deadline and
 * throws {@link SessionServiceException} when it fails; {@link #stub()} and {@link #channel()}
 * give the generated stub and the channel for anything else.
 */
public final class SessionClient implements AutoCloseable {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  // A literal IPv4 or IPv6 address: resolving anything else could ask the network.
  private static final Pattern IP_LITERAL = Pattern.compile("[0-9.]+|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*");

  private final ManagedChannel channel;
  private final SessionServiceGrpc.SessionServiceStub stub;
  private final SessionServiceGrpc.SessionServiceBlockingStub blocking;
  private final Duration timeout;

  private SessionClient(ManagedChannel channel, CallCredentials credentials, Duration timeout) {
    this.channel = channel;
    SessionServiceGrpc.SessionServiceStub async = SessionServiceGrpc.newStub(channel);
    SessionServiceGrpc.SessionServiceBlockingStub sync = SessionServiceGrpc.newBlockingStub(channel);
    if (credentials != null) {
      async = async.withCallCredentials(credentials);
      sync = sync.withCallCredentials(credentials);
    }
    this.stub = async;
    this.blocking = sync;
    this.timeout = timeout;
  }

  /** A builder for a client to {@code target} ("host:port", or any gRPC target). */
  public static Builder builder(String target) {
    return new Builder(target);
  }

  /** Whether a gRPC target names this machine: a Unix socket, localhost or a loopback address. */
  public static boolean isLocalTarget(String target) {
    if (target.startsWith("unix:") || target.startsWith("unix-abstract:")) {
      return true;
    }
    String host = target;
    for (String scheme : new String[] {"dns:", "ipv4:", "ipv6:"}) {
      if (host.startsWith(scheme)) {
        host = host.substring(scheme.length()).replaceFirst("^/+", "");
        break;
      }
    }
    if (host.startsWith("[")) {
      int end = host.indexOf(']');
      host = end >= 0 ? host.substring(1, end) : host;
    } else if (host.chars().filter(c -> c == ':').count() == 1) {
      host = host.substring(0, host.lastIndexOf(':'));
    }
    host = host.toLowerCase(Locale.ROOT);
    if (host.equals("localhost") || host.equals("ip6-localhost") || host.endsWith(".localhost")) {
      return true;
    }
    if (!IP_LITERAL.matcher(host).matches()) {
      return false;
    }
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /** Starts a session for an already authenticated user. */
  public CreateResponse create(CreateRequest request) {
    return call(() -> blocking().create(request));
  }

  /** Reads a live session (and slides its idle expiry). */
  public GetResponse get(GetRequest request) {
    return call(() -> blocking().get(request));
  }

  /** Exchanges a refresh token for new tokens (the refresh token rotates). */
  public RefreshResponse refresh(RefreshRequest request) {
    return call(() -> blocking().refresh(request));
  }

  /** Ends one session, the session behind a token, or all of a user's sessions. */
  public RevokeResponse revoke(RevokeRequest request) {
    return call(() -> blocking().revoke(request));
  }

  /** Whether a token is active (RFC 7662). */
  public IntrospectResponse introspect(IntrospectRequest request) {
    return call(() -> blocking().introspect(request));
  }

  /** Introspects up to 500 tokens in one call. */
  public IntrospectBatchResponse introspectBatch(IntrospectBatchRequest request) {
    return call(() -> blocking().introspectBatch(request));
  }

  /** Patches a session's data, optionally as compare-and-set. */
  public UpdateResponse update(UpdateRequest request) {
    return call(() -> blocking().update(request));
  }

  /** A page of a user's live sessions. */
  public ListResponse list(ListRequest request) {
    return call(() -> blocking().list(request));
  }

  /** The public keys that verify access tokens. */
  public GetJwksResponse getJwks() {
    return call(() -> blocking().getJwks(GetJwksRequest.getDefaultInstance()));
  }

  /** The generated asynchronous stub on this client's channel, with its caller token. */
  public SessionServiceGrpc.SessionServiceStub stub() {
    return stub;
  }

  /** The channel (for other services' stubs on the same connection). */
  public ManagedChannel channel() {
    return channel;
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private SessionServiceGrpc.SessionServiceBlockingStub blocking() {
    return blocking.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  private static <T> T call(Supplier<T> rpc) {
    try {
      return rpc.get();
    } catch (StatusRuntimeException e) {
      throw SessionServiceException.from(e);
    }
  }

  /** Configures a {@link SessionClient}. */
  public static final class Builder {
    private final String target;
    private ChannelCredentials tls;
    private String authority;
    private boolean insecure;
    private Supplier<String> callerToken;
    private Duration timeout = Duration.ofSeconds(5);

    private Builder(String target) {
      this.target = Objects.requireNonNull(target);
    }

    /** TLS with these credentials (e.g. {@link #tlsFromFiles}). */
    public Builder tls(ChannelCredentials credentials) {
      this.tls = credentials;
      return this;
    }

    /**
     * TLS trusting the CA certificates in {@code caFile} (PEM) and, when {@code certFile} and
     * {@code keyFile} are not null, presenting that client certificate (mTLS).
     */
    public Builder tlsFromFiles(File caFile, File certFile, File keyFile) {
      try {
        TlsChannelCredentials.Builder credentials = TlsChannelCredentials.newBuilder().trustManager(caFile);
        if (certFile != null || keyFile != null) {
          credentials.keyManager(certFile, keyFile);
        }
        return tls(credentials.build());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /** The name the service's certificate must carry, when it is not the target's host. */
    public Builder serverName(String name) {
      this.authority = name;
      return this;
    }

    /**
     * Allows a plaintext connection to a target that is not this machine. Without it {@link
     * #build()} refuses one: plaintext carries tokens readable on the network and would make a
     * Verifier trust whatever keys it is sent.
     */
    public Builder insecure() {
      this.insecure = true;
      return this;
    }

    /** Sends this caller token as "authorization: Bearer ..." on every call. Use it over TLS. */
    public Builder callerToken(String token) {
      return callerToken(() -> token);
    }

    /** Reads the caller token from a file before every call (a rotated token is picked up). */
    public Builder callerTokenFile(Path path) {
      return callerToken(
          () -> {
            try {
              return Files.readString(path, StandardCharsets.UTF_8).strip();
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          });
    }

    /** Asks {@code token} before every call for the caller token to send. */
    public Builder callerToken(Supplier<String> token) {
      this.callerToken = token;
      return this;
    }

    /** The deadline of every call made through the client's methods (default 5 s). */
    public Builder timeout(Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    /** The client; the connection is made at the first call. */
    public SessionClient build() {
      if (tls == null && !insecure && !isLocalTarget(target)) {
        throw new IllegalArgumentException(
            "refusing a plaintext connection to "
                + target
                + ": configure tls(...), or insecure() to allow plaintext to a non-loopback target");
      }
      ManagedChannelBuilder<?> builder =
          Grpc.newChannelBuilder(target, tls != null ? tls : InsecureChannelCredentials.create());
      if (authority != null) {
        builder.overrideAuthority(authority);
      }
      CallCredentials credentials = callerToken == null ? null : new BearerToken(callerToken);
      return new SessionClient(builder.build(), credentials, timeout);
    }
  }

  private static final class BearerToken extends CallCredentials {
    private final Supplier<String> token;

    BearerToken(Supplier<String> token) {
      this.token = token;
    }

    @Override
    public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
      executor.execute(
          () -> {
            try {
              Metadata headers = new Metadata();
              headers.put(AUTHORIZATION, "Bearer " + token.get());
              applier.apply(headers);
            } catch (RuntimeException e) {
              applier.fail(Status.UNAUTHENTICATED.withDescription("no caller token").withCause(e));
            }
          });
    }
  }
}
