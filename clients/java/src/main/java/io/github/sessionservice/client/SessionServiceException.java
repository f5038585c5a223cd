package io.github.sessionservice.client;

import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.RetryInfo;
import io.github.sessionservice.v1.ErrorReason;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A failed call: the gRPC status with the details the service attaches to it. {@link
 * #reason()} is the ErrorInfo reason as the generated {@link ErrorReason} enum, so a {@code
 * switch} over it covers exactly the reasons errors.proto declares.
 */
public final class SessionServiceException extends RuntimeException {
  /** The google.rpc.ErrorInfo domain of every error the service reports. */
  public static final String DOMAIN = "session.v1";

  private final transient Status status;
  private final String reasonName;
  private final String domain;
  private final Map<String, String> metadata;
  private final Map<String, String> fieldViolations;
  private final Duration retryAfter;

  private SessionServiceException(
      Status status,
      String reasonName,
      String domain,
      Map<String, String> metadata,
      Map<String, String> fieldViolations,
      Duration retryAfter,
      Throwable cause) {
    super(
        reasonName.isEmpty()
            ? status.getCode() + ": " + status.getDescription()
            : reasonName + " (" + status.getCode() + "): " + status.getDescription(),
        cause);
    this.status = status;
    this.reasonName = reasonName;
    this.domain = domain;
    this.metadata = Collections.unmodifiableMap(metadata);
    this.fieldViolations = Collections.unmodifiableMap(fieldViolations);
    this.retryAfter = retryAfter;
  }

  /**
   * The exception for a failure of a gRPC call (a {@code StatusRuntimeException} or {@code
   * StatusException}, or anything else, as UNKNOWN).
   */
  public static SessionServiceException from(Throwable error) {
    if (error instanceof SessionServiceException e) {
      return e;
    }
    Status status = Status.fromThrowable(error);
    String reason = "";
    String domain = "";
    Map<String, String> metadata = new LinkedHashMap<>();
    Map<String, String> violations = new LinkedHashMap<>();
    Duration retryAfter = Duration.ZERO;
    com.google.rpc.Status details = StatusProto.fromThrowable(error);
    if (details != null) {
      for (com.google.protobuf.Any detail : details.getDetailsList()) {
        try {
          if (detail.is(ErrorInfo.class)) {
            ErrorInfo info = detail.unpack(ErrorInfo.class);
            reason = info.getReason();
            domain = info.getDomain();
            metadata.putAll(info.getMetadataMap());
          } else if (detail.is(BadRequest.class)) {
            for (BadRequest.FieldViolation v : detail.unpack(BadRequest.class).getFieldViolationsList()) {
              violations.put(v.getField(), v.getDescription());
            }
          } else if (detail.is(RetryInfo.class)) {
            com.google.protobuf.Duration delay = detail.unpack(RetryInfo.class).getRetryDelay();
            retryAfter = Duration.ofSeconds(delay.getSeconds(), delay.getNanos());
          }
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
          // A detail that does not parse tells nothing: the status alone still does.
        }
      }
    }
    return new SessionServiceException(status, reason, domain, metadata, violations, retryAfter, error);
  }

  /**
   * The ErrorInfo reason: {@link ErrorReason#ERROR_REASON_UNSPECIFIED} when the failure carries
   * none (a transport error, a deadline) or is another domain's, {@link
   * ErrorReason#UNRECOGNIZED} for a reason newer than this client.
   */
  public ErrorReason reason() {
    if (reasonName.isEmpty() || !DOMAIN.equals(domain)) {
      return ErrorReason.ERROR_REASON_UNSPECIFIED;
    }
    try {
      return ErrorReason.valueOf(reasonName);
    } catch (IllegalArgumentException e) {
      return ErrorReason.UNRECOGNIZED;
    }
  }

  /** The ErrorInfo reason as sent ("SESSION_NOT_FOUND"); "" without one. */
  public String reasonName() {
    return reasonName;
  }

  /** The ErrorInfo domain, {@link #DOMAIN} for the service's own errors. */
  public String domain() {
    return domain;
  }

  /** The gRPC status. */
  public Status status() {
    return status;
  }

  /** The gRPC status code. */
  public Status.Code code() {
    return status.getCode();
  }

  /** The ErrorInfo metadata, e.g. "dpop_nonce" for DPOP_PROOF_INVALID. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** For INVALID_ARGUMENT: each offending field with what is wrong. */
  public Map<String, String> fieldViolations() {
    return fieldViolations;
  }

  /** From a google.rpc.RetryInfo (RATE_LIMITED, OVERLOADED); zero without one. */
  public Duration retryAfter() {
    return retryAfter;
  }
}
