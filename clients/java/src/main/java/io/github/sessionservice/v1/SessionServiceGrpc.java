package io.github.sessionservice.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * SessionService owns user sessions: server-side state in Redis, short-lived
 * JWT access tokens that any service can verify locally, and rotating opaque
 * refresh tokens with reuse (theft) detection.
 * Every failure carries a google.rpc.Status with a google.rpc.ErrorInfo
 * (domain "session.v1", a stable UPPER_SNAKE reason) and, for bad input, a
 * google.rpc.BadRequest listing the offending fields.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class SessionServiceGrpc {

  private SessionServiceGrpc() {}

  public static final String SERVICE_NAME = "session.v1.SessionService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<io.github.sessionservice.v1.CreateRequest,
      io.github.sessionservice.v1.CreateResponse> getCreateMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Create",
      requestType = io.github.sessionservice.v1.CreateRequest.class,
      responseType = io.github.sessionservice.v1.CreateResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.sessionservice.v1.CreateRequest,
      io.github.sessionservice.v1.CreateResponse> getCreateMethod() {
    io.grpc.MethodDescriptor<io.github.sessionservice.v1.CreateRequest, io.github.sessionservice.v1.CreateResponse> getCreateMethod;
    if ((getCreateMethod = SessionServiceGrpc.getCreateMethod) == null) {
      synchronized (SessionServiceGrpc.class) {
        if ((getCreateMethod = SessionServiceGrpc.getCreateMethod) == null) {
          SessionServiceGrpc.getCreateMethod = getCreateMethod =
              io.grpc.MethodDescriptor.<io.github.sessionservice.v1.CreateRequest, io.github.sessionservice.v1.CreateResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Create"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.CreateRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.CreateResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SessionServiceMethodDescriptorSupplier("Create"))
              .build();
        }
      }
    }
    return getCreateMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.sessionservice.v1.GetRequest,
      io.github.sessionservice.v1.GetResponse> getGetMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Get",
      requestType = io.github.sessionservice.v1.GetRequest.class,
      responseType = io.github.sessionservice.v1.GetResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.sessionservice.v1.GetRequest,
      io.github.sessionservice.v1.GetResponse> getGetMethod() {
    io.grpc.MethodDescriptor<io.github.sessionservice.v1.GetRequest, io.github.sessionservice.v1.GetResponse> getGetMethod;
    if ((getGetMethod = SessionServiceGrpc.getGetMethod) == null) {
      synchronized (SessionServiceGrpc.class) {
        if ((getGetMethod = SessionServiceGrpc.getGetMethod) == null) {
          SessionServiceGrpc.getGetMethod = getGetMethod =
              io.grpc.MethodDescriptor.<io.github.sessionservice.v1.GetRequest, io.github.sessionservice.v1.GetResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Get"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.GetRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.GetResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SessionServiceMethodDescriptorSupplier("Get"))
              .build();
        }
      }
    }
    return getGetMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.sessionservice.v1.RefreshRequest,
      io.github.sessionservice.v1.RefreshResponse> getRefreshMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Refresh",
      requestType = io.github.sessionservice.v1.RefreshRequest.class,
      responseType = io.github.sessionservice.v1.RefreshResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.sessionservice.v1.RefreshRequest,
      io.github.sessionservice.v1.RefreshResponse> getRefreshMethod() {
    io.grpc.MethodDescriptor<io.github.sessionservice.v1.RefreshRequest, io.github.sessionservice.v1.RefreshResponse> getRefreshMethod;
    if ((getRefreshMethod = SessionServiceGrpc.getRefreshMethod) == null) {
      synchronized (SessionServiceGrpc.class) {
        if ((getRefreshMethod = SessionServiceGrpc.getRefreshMethod) == null) {
          SessionServiceGrpc.getRefreshMethod = getRefreshMethod =
              io.grpc.MethodDescriptor.<io.github.sessionservice.v1.RefreshRequest, io.github.sessionservice.v1.RefreshResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Refresh"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.RefreshRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.RefreshResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SessionServiceMethodDescriptorSupplier("Refresh"))
              .build();
        }
      }
    }
    return getRefreshMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.sessionservice.v1.RevokeRequest,
      io.github.sessionservice.v1.RevokeResponse> getRevokeMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Revoke",
      requestType = io.github.sessionservice.v1.RevokeRequest.class,
      responseType = io.github.sessionservice.v1.RevokeResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.sessionservice.v1.RevokeRequest,
      io.github.sessionservice.v1.RevokeResponse> getRevokeMethod() {
    io.grpc.MethodDescriptor<io.github.sessionservice.v1.RevokeRequest, io.github.sessionservice.v1.RevokeResponse> getRevokeMethod;
    if ((getRevokeMethod = SessionServiceGrpc.getRevokeMethod) == null) {
      synchronized (SessionServiceGrpc.class) {
        if ((getRevokeMethod = SessionServiceGrpc.getRevokeMethod) == null) {
          SessionServiceGrpc.getRevokeMethod = getRevokeMethod =
              io.grpc.MethodDescriptor.<io.github.sessionservice.v1.RevokeRequest, io.github.sessionservice.v1.RevokeResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Revoke"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.RevokeRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.RevokeResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SessionServiceMethodDescriptorSupplier("Revoke"))
              .build();
        }
      }
    }
    return getRevokeMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.sessionservice.v1.IntrospectRequest,
      io.github.sessionservice.v1.IntrospectResponse> getIntrospectMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Introspect",
      requestType = io.github.sessionservice.v1.IntrospectRequest.class,
      responseType = io.github.sessionservice.v1.IntrospectResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.sessionservice.v1.IntrospectRequest,
      io.github.sessionservice.v1.IntrospectResponse> getIntrospectMethod() {
    io.grpc.MethodDescriptor<io.github.sessionservice.v1.IntrospectRequest, io.github.sessionservice.v1.IntrospectResponse> getIntrospectMethod;
    if ((getIntrospectMethod = SessionServiceGrpc.getIntrospectMethod) == null) {
      synchronized (SessionServiceGrpc.class) {
        if ((getIntrospectMethod = SessionServiceGrpc.getIntrospectMethod) == null) {
          SessionServiceGrpc.getIntrospectMethod = getIntrospectMethod =
              io.grpc.MethodDescriptor.<io.github.sessionservice.v1.IntrospectRequest, io.github.sessionservice.v1.IntrospectResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Introspect"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.IntrospectRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.IntrospectResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SessionServiceMethodDescriptorSupplier("Introspect"))
              .build();
        }
      }
    }
    return getIntrospectMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.sessionservice.v1.IntrospectBatchRequest,
      io.github.sessionservice.v1.IntrospectBatchResponse> getIntrospectBatchMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "IntrospectBatch",
      requestType = io.github.sessionservice.v1.IntrospectBatchRequest.class,
      responseType = io.github.sessionservice.v1.IntrospectBatchResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.sessionservice.v1.IntrospectBatchRequest,
      io.github.sessionservice.v1.IntrospectBatchResponse> getIntrospectBatchMethod() {
    io.grpc.MethodDescriptor<io.github.sessionservice.v1.IntrospectBatchRequest, io.github.sessionservice.v1.IntrospectBatchResponse> getIntrospectBatchMethod;
    if ((getIntrospectBatchMethod = SessionServiceGrpc.getIntrospectBatchMethod) == null) {
      synchronized (SessionServiceGrpc.class) {
        if ((getIntrospectBatchMethod = SessionServiceGrpc.getIntrospectBatchMethod) == null) {
          SessionServiceGrpc.getIntrospectBatchMethod = getIntrospectBatchMethod =
              io.grpc.MethodDescriptor.<io.github.sessionservice.v1.IntrospectBatchRequest, io.github.sessionservice.v1.IntrospectBatchResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "IntrospectBatch"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.IntrospectBatchRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.IntrospectBatchResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SessionServiceMethodDescriptorSupplier("IntrospectBatch"))
              .build();
        }
      }
    }
    return getIntrospectBatchMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.sessionservice.v1.UpdateRequest,
      io.github.sessionservice.v1.UpdateResponse> getUpdateMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Update",
      requestType = io.github.sessionservice.v1.UpdateRequest.class,
      responseType = io.github.sessionservice.v1.UpdateResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.sessionservice.v1.UpdateRequest,
      io.github.sessionservice.v1.UpdateResponse> getUpdateMethod() {
    io.grpc.MethodDescriptor<io.github.sessionservice.v1.UpdateRequest, io.github.sessionservice.v1.UpdateResponse> getUpdateMethod;
    if ((getUpdateMethod = SessionServiceGrpc.getUpdateMethod) == null) {
      synchronized (SessionServiceGrpc.class) {
        if ((getUpdateMethod = SessionServiceGrpc.getUpdateMethod) == null) {
          SessionServiceGrpc.getUpdateMethod = getUpdateMethod =
              io.grpc.MethodDescriptor.<io.github.sessionservice.v1.UpdateRequest, io.github.sessionservice.v1.UpdateResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Update"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.UpdateRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.UpdateResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SessionServiceMethodDescriptorSupplier("Update"))
              .build();
        }
      }
    }
    return getUpdateMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.sessionservice.v1.ListRequest,
      io.github.sessionservice.v1.ListResponse> getListMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "List",
      requestType = io.github.sessionservice.v1.ListRequest.class,
      responseType = io.github.sessionservice.v1.ListResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.sessionservice.v1.ListRequest,
      io.github.sessionservice.v1.ListResponse> getListMethod() {
    io.grpc.MethodDescriptor<io.github.sessionservice.v1.ListRequest, io.github.sessionservice.v1.ListResponse> getListMethod;
    if ((getListMethod = SessionServiceGrpc.getListMethod) == null) {
      synchronized (SessionServiceGrpc.class) {
        if ((getListMethod = SessionServiceGrpc.getListMethod) == null) {
          SessionServiceGrpc.getListMethod = getListMethod =
              io.grpc.MethodDescriptor.<io.github.sessionservice.v1.ListRequest, io.github.sessionservice.v1.ListResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "List"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.ListRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.ListResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SessionServiceMethodDescriptorSupplier("List"))
              .build();
        }
      }
    }
    return getListMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.sessionservice.v1.GetJwksRequest,
      io.github.sessionservice.v1.GetJwksResponse> getGetJwksMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetJwks",
      requestType = io.github.sessionservice.v1.GetJwksRequest.class,
      responseType = io.github.sessionservice.v1.GetJwksResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.sessionservice.v1.GetJwksRequest,
      io.github.sessionservice.v1.GetJwksResponse> getGetJwksMethod() {
    io.grpc.MethodDescriptor<io.github.sessionservice.v1.GetJwksRequest, io.github.sessionservice.v1.GetJwksResponse> getGetJwksMethod;
    if ((getGetJwksMethod = SessionServiceGrpc.getGetJwksMethod) == null) {
      synchronized (SessionServiceGrpc.class) {
        if ((getGetJwksMethod = SessionServiceGrpc.getGetJwksMethod) == null) {
          SessionServiceGrpc.getGetJwksMethod = getGetJwksMethod =
              io.grpc.MethodDescriptor.<io.github.sessionservice.v1.GetJwksRequest, io.github.sessionservice.v1.GetJwksResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetJwks"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.GetJwksRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.GetJwksResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SessionServiceMethodDescriptorSupplier("GetJwks"))
              .build();
        }
      }
    }
    return getGetJwksMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.sessionservice.v1.WatchRevocationsRequest,
      io.github.sessionservice.v1.WatchRevocationsResponse> getWatchRevocationsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "WatchRevocations",
      requestType = io.github.sessionservice.v1.WatchRevocationsRequest.class,
      responseType = io.github.sessionservice.v1.WatchRevocationsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<io.github.sessionservice.v1.WatchRevocationsRequest,
      io.github.sessionservice.v1.WatchRevocationsResponse> getWatchRevocationsMethod() {
    io.grpc.MethodDescriptor<io.github.sessionservice.v1.WatchRevocationsRequest, io.github.sessionservice.v1.WatchRevocationsResponse> getWatchRevocationsMethod;
    if ((getWatchRevocationsMethod = SessionServiceGrpc.getWatchRevocationsMethod) == null) {
      synchronized (SessionServiceGrpc.class) {
        if ((getWatchRevocationsMethod = SessionServiceGrpc.getWatchRevocationsMethod) == null) {
          SessionServiceGrpc.getWatchRevocationsMethod = getWatchRevocationsMethod =
              io.grpc.MethodDescriptor.<io.github.sessionservice.v1.WatchRevocationsRequest, io.github.sessionservice.v1.WatchRevocationsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "WatchRevocations"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.WatchRevocationsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.WatchRevocationsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SessionServiceMethodDescriptorSupplier("WatchRevocations"))
              .build();
        }
      }
    }
    return getWatchRevocationsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.sessionservice.v1.ExchangeRequest,
      io.github.sessionservice.v1.ExchangeResponse> getExchangeMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Exchange",
      requestType = io.github.sessionservice.v1.ExchangeRequest.class,
      responseType = io.github.sessionservice.v1.ExchangeResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.sessionservice.v1.ExchangeRequest,
      io.github.sessionservice.v1.ExchangeResponse> getExchangeMethod() {
    io.grpc.MethodDescriptor<io.github.sessionservice.v1.ExchangeRequest, io.github.sessionservice.v1.ExchangeResponse> getExchangeMethod;
    if ((getExchangeMethod = SessionServiceGrpc.getExchangeMethod) == null) {
      synchronized (SessionServiceGrpc.class) {
        if ((getExchangeMethod = SessionServiceGrpc.getExchangeMethod) == null) {
          SessionServiceGrpc.getExchangeMethod = getExchangeMethod =
              io.grpc.MethodDescriptor.<io.github.sessionservice.v1.ExchangeRequest, io.github.sessionservice.v1.ExchangeResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Exchange"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.ExchangeRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.ExchangeResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SessionServiceMethodDescriptorSupplier("Exchange"))
              .build();
        }
      }
    }
    return getExchangeMethod;
  }

  private static volatile io.grpc.MethodDescriptor<io.github.sessionservice.v1.ReauthenticateRequest,
      io.github.sessionservice.v1.ReauthenticateResponse> getReauthenticateMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Reauthenticate",
      requestType = io.github.sessionservice.v1.ReauthenticateRequest.class,
      responseType = io.github.sessionservice.v1.ReauthenticateResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<io.github.sessionservice.v1.ReauthenticateRequest,
      io.github.sessionservice.v1.ReauthenticateResponse> getReauthenticateMethod() {
    io.grpc.MethodDescriptor<io.github.sessionservice.v1.ReauthenticateRequest, io.github.sessionservice.v1.ReauthenticateResponse> getReauthenticateMethod;
    if ((getReauthenticateMethod = SessionServiceGrpc.getReauthenticateMethod) == null) {
      synchronized (SessionServiceGrpc.class) {
        if ((getReauthenticateMethod = SessionServiceGrpc.getReauthenticateMethod) == null) {
          SessionServiceGrpc.getReauthenticateMethod = getReauthenticateMethod =
              io.grpc.MethodDescriptor.<io.github.sessionservice.v1.ReauthenticateRequest, io.github.sessionservice.v1.ReauthenticateResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Reauthenticate"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.ReauthenticateRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  io.github.sessionservice.v1.ReauthenticateResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SessionServiceMethodDescriptorSupplier("Reauthenticate"))
              .build();
        }
      }
    }
    return getReauthenticateMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static SessionServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SessionServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SessionServiceStub>() {
        @java.lang.Override
        public SessionServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SessionServiceStub(channel, callOptions);
        }
      };
    return SessionServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static SessionServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SessionServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SessionServiceBlockingStub>() {
        @java.lang.Override
        public SessionServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SessionServiceBlockingStub(channel, callOptions);
        }
      };
    return SessionServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static SessionServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SessionServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SessionServiceFutureStub>() {
        @java.lang.Override
        public SessionServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SessionServiceFutureStub(channel, callOptions);
        }
      };
    return SessionServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * SessionService owns user sessions: server-side state in Redis, short-lived
   * JWT access tokens that any service can verify locally, and rotating opaque
   * refresh tokens with reuse (theft) detection.
   * Every failure carries a google.rpc.Status with a google.rpc.ErrorInfo
   * (domain "session.v1", a stable UPPER_SNAKE reason) and, for bad input, a
   * google.rpc.BadRequest listing the offending fields.
   * </pre>
   */
  public static abstract class SessionServiceImplBase implements io.grpc.BindableService {

    /**
     * <pre>
     * Create starts a brand-new session for an already authenticated user.
     * </pre>
     */
    public void create(io.github.sessionservice.v1.CreateRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.CreateResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreateMethod(), responseObserver);
    }

    /**
     * <pre>
     * Get reads a live session and slides its idle expiry (never past the absolute expiry).
     * </pre>
     */
    public void get(io.github.sessionservice.v1.GetRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.GetResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetMethod(), responseObserver);
    }

    /**
     * <pre>
     * Refresh exchanges a refresh token for a new access token and a new refresh token.
     * </pre>
     */
    public void refresh(io.github.sessionservice.v1.RefreshRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.RefreshResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRefreshMethod(), responseObserver);
    }

    /**
     * <pre>
     * Revoke ends one session, the session behind a token, or all of a user's sessions.
     * </pre>
     */
    public void revoke(io.github.sessionservice.v1.RevokeRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.RevokeResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRevokeMethod(), responseObserver);
    }

    /**
     * <pre>
     * Introspect reports whether a token is active (RFC 7662 semantics).
     * </pre>
     */
    public void introspect(io.github.sessionservice.v1.IntrospectRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.IntrospectResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getIntrospectMethod(), responseObserver);
    }

    /**
     * <pre>
     * IntrospectBatch checks up to 500 tokens in one call: one IntrospectResponse per
     * request, in the same order, each exactly what Introspect would answer.
     * </pre>
     */
    public void introspectBatch(io.github.sessionservice.v1.IntrospectBatchRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.IntrospectBatchResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getIntrospectBatchMethod(), responseObserver);
    }

    /**
     * <pre>
     * Update atomically patches the session's data, optionally as compare-and-set.
     * </pre>
     */
    public void update(io.github.sessionservice.v1.UpdateRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.UpdateResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getUpdateMethod(), responseObserver);
    }

    /**
     * <pre>
     * List returns a user's live sessions (one per device), a page at a time.
     * </pre>
     */
    public void list(io.github.sessionservice.v1.ListRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.ListResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListMethod(), responseObserver);
    }

    /**
     * <pre>
     * GetJwks returns the public keys that verify access tokens (RFC 7517 JSON).
     * </pre>
     */
    public void getJwks(io.github.sessionservice.v1.GetJwksRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.GetJwksResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetJwksMethod(), responseObserver);
    }

    /**
     * <pre>
     * WatchRevocations streams the sessions that end, so that services verifying access
     * tokens locally reject a revoked session's tokens at once. It first replays every
     * retained revocation after the request's cursor (all of them without one), then
     * streams new ones as they happen, with a heartbeat while nothing happens. A
     * revocation is retained as long as an access token of its sessions can be valid.
     * </pre>
     */
    public void watchRevocations(io.github.sessionservice.v1.WatchRevocationsRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.WatchRevocationsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getWatchRevocationsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Exchange trades one of our access tokens for a narrower one (RFC 8693 semantics):
     * one audience, a subset of the scopes, minutes of life, an act claim naming the
     * caller, optionally bound to the caller's certificate (RFC 8705). It dies with the
     * session.
     * </pre>
     */
    public void exchange(io.github.sessionservice.v1.ExchangeRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.ExchangeResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getExchangeMethod(), responseObserver);
    }

    /**
     * <pre>
     * Reauthenticate records a new authentication of the session's user (acr, amr,
     * auth_time) and rotates the session id and the refresh token (no fixation): the old
     * id and its access tokens end (REVOCATION_REASON_SESSION_ROTATED), the session's data,
     * device and limits carry over.
     * </pre>
     */
    public void reauthenticate(io.github.sessionservice.v1.ReauthenticateRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.ReauthenticateResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getReauthenticateMethod(), responseObserver);
    }

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
          .addMethod(
            getCreateMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.github.sessionservice.v1.CreateRequest,
                io.github.sessionservice.v1.CreateResponse>(
                  this, METHODID_CREATE)))
          .addMethod(
            getGetMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.github.sessionservice.v1.GetRequest,
                io.github.sessionservice.v1.GetResponse>(
                  this, METHODID_GET)))
          .addMethod(
            getRefreshMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.github.sessionservice.v1.RefreshRequest,
                io.github.sessionservice.v1.RefreshResponse>(
                  this, METHODID_REFRESH)))
          .addMethod(
            getRevokeMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.github.sessionservice.v1.RevokeRequest,
                io.github.sessionservice.v1.RevokeResponse>(
                  this, METHODID_REVOKE)))
          .addMethod(
            getIntrospectMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.github.sessionservice.v1.IntrospectRequest,
                io.github.sessionservice.v1.IntrospectResponse>(
                  this, METHODID_INTROSPECT)))
          .addMethod(
            getIntrospectBatchMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.github.sessionservice.v1.IntrospectBatchRequest,
                io.github.sessionservice.v1.IntrospectBatchResponse>(
                  this, METHODID_INTROSPECT_BATCH)))
          .addMethod(
            getUpdateMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.github.sessionservice.v1.UpdateRequest,
                io.github.sessionservice.v1.UpdateResponse>(
                  this, METHODID_UPDATE)))
          .addMethod(
            getListMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.github.sessionservice.v1.ListRequest,
                io.github.sessionservice.v1.ListResponse>(
                  this, METHODID_LIST)))
          .addMethod(
            getGetJwksMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.github.sessionservice.v1.GetJwksRequest,
                io.github.sessionservice.v1.GetJwksResponse>(
                  this, METHODID_GET_JWKS)))
          .addMethod(
            getWatchRevocationsMethod(),
            io.grpc.stub.ServerCalls.asyncServerStreamingCall(
              new MethodHandlers<
                io.github.sessionservice.v1.WatchRevocationsRequest,
                io.github.sessionservice.v1.WatchRevocationsResponse>(
                  this, METHODID_WATCH_REVOCATIONS)))
          .addMethod(
            getExchangeMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.github.sessionservice.v1.ExchangeRequest,
                io.github.sessionservice.v1.ExchangeResponse>(
                  this, METHODID_EXCHANGE)))
          .addMethod(
            getReauthenticateMethod(),
            io.grpc.stub.ServerCalls.asyncUnaryCall(
              new MethodHandlers<
                io.github.sessionservice.v1.ReauthenticateRequest,
                io.github.sessionservice.v1.ReauthenticateResponse>(
                  this, METHODID_REAUTHENTICATE)))
          .build();
    }
  }

  /**
   * <pre>
   * SessionService owns user sessions: server-side state in Redis, short-lived
   * JWT access tokens that any service can verify locally, and rotating opaque
   * refresh tokens with reuse (theft) detection.
   * Every failure carries a google.rpc.Status with a google.rpc.ErrorInfo
   * (domain "session.v1", a stable UPPER_SNAKE reason) and, for bad input, a
   * google.rpc.BadRequest listing the offending fields.
   * </pre>
   */
  public static final class SessionServiceStub extends io.grpc.stub.AbstractAsyncStub<SessionServiceStub> {
    private SessionServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SessionServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SessionServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Create starts a brand-new session for an already authenticated user.
     * </pre>
     */
    public void create(io.github.sessionservice.v1.CreateRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.CreateResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreateMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Get reads a live session and slides its idle expiry (never past the absolute expiry).
     * </pre>
     */
    public void get(io.github.sessionservice.v1.GetRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.GetResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Refresh exchanges a refresh token for a new access token and a new refresh token.
     * </pre>
     */
    public void refresh(io.github.sessionservice.v1.RefreshRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.RefreshResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRefreshMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Revoke ends one session, the session behind a token, or all of a user's sessions.
     * </pre>
     */
    public void revoke(io.github.sessionservice.v1.RevokeRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.RevokeResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRevokeMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Introspect reports whether a token is active (RFC 7662 semantics).
     * </pre>
     */
    public void introspect(io.github.sessionservice.v1.IntrospectRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.IntrospectResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getIntrospectMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * IntrospectBatch checks up to 500 tokens in one call: one IntrospectResponse per
     * request, in the same order, each exactly what Introspect would answer.
     * </pre>
     */
    public void introspectBatch(io.github.sessionservice.v1.IntrospectBatchRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.IntrospectBatchResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getIntrospectBatchMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Update atomically patches the session's data, optionally as compare-and-set.
     * </pre>
     */
    public void update(io.github.sessionservice.v1.UpdateRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.UpdateResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getUpdateMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * List returns a user's live sessions (one per device), a page at a time.
     * </pre>
     */
    public void list(io.github.sessionservice.v1.ListRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.ListResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * GetJwks returns the public keys that verify access tokens (RFC 7517 JSON).
     * </pre>
     */
    public void getJwks(io.github.sessionservice.v1.GetJwksRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.GetJwksResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetJwksMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * WatchRevocations streams the sessions that end, so that services verifying access
     * tokens locally reject a revoked session's tokens at once. It first replays every
     * retained revocation after the request's cursor (all of them without one), then
     * streams new ones as they happen, with a heartbeat while nothing happens. A
     * revocation is retained as long as an access token of its sessions can be valid.
     * </pre>
     */
    public void watchRevocations(io.github.sessionservice.v1.WatchRevocationsRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.WatchRevocationsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getWatchRevocationsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Exchange trades one of our access tokens for a narrower one (RFC 8693 semantics):
     * one audience, a subset of the scopes, minutes of life, an act claim naming the
     * caller, optionally bound to the caller's certificate (RFC 8705). It dies with the
     * session.
     * </pre>
     */
    public void exchange(io.github.sessionservice.v1.ExchangeRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.ExchangeResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getExchangeMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Reauthenticate records a new authentication of the session's user (acr, amr,
     * auth_time) and rotates the session id and the refresh token (no fixation): the old
     * id and its access tokens end (REVOCATION_REASON_SESSION_ROTATED), the session's data,
     * device and limits carry over.
     * </pre>
     */
    public void reauthenticate(io.github.sessionservice.v1.ReauthenticateRequest request,
        io.grpc.stub.StreamObserver<io.github.sessionservice.v1.ReauthenticateResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getReauthenticateMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * <pre>
   * SessionService owns user sessions: server-side state in Redis, short-lived
   * JWT access tokens that any service can verify locally, and rotating opaque
   * refresh tokens with reuse (theft) detection.
   * Every failure carries a google.rpc.Status with a google.rpc.ErrorInfo
   * (domain "session.v1", a stable UPPER_SNAKE reason) and, for bad input, a
   * google.rpc.BadRequest listing the offending fields.
   * </pre>
   */
  public static final class SessionServiceBlockingStub extends io.grpc.stub.AbstractBlockingStub<SessionServiceBlockingStub> {
    private SessionServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SessionServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SessionServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Create starts a brand-new session for an already authenticated user.
     * </pre>
     */
    public io.github.sessionservice.v1.CreateResponse create(io.github.sessionservice.v1.CreateRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreateMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Get reads a live session and slides its idle expiry (never past the absolute expiry).
     * </pre>
     */
    public io.github.sessionservice.v1.GetResponse get(io.github.sessionservice.v1.GetRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Refresh exchanges a refresh token for a new access token and a new refresh token.
     * </pre>
     */
    public io.github.sessionservice.v1.RefreshResponse refresh(io.github.sessionservice.v1.RefreshRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRefreshMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Revoke ends one session, the session behind a token, or all of a user's sessions.
     * </pre>
     */
    public io.github.sessionservice.v1.RevokeResponse revoke(io.github.sessionservice.v1.RevokeRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRevokeMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Introspect reports whether a token is active (RFC 7662 semantics).
     * </pre>
     */
    public io.github.sessionservice.v1.IntrospectResponse introspect(io.github.sessionservice.v1.IntrospectRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getIntrospectMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * IntrospectBatch checks up to 500 tokens in one call: one IntrospectResponse per
     * request, in the same order, each exactly what Introspect would answer.
     * </pre>
     */
    public io.github.sessionservice.v1.IntrospectBatchResponse introspectBatch(io.github.sessionservice.v1.IntrospectBatchRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getIntrospectBatchMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Update atomically patches the session's data, optionally as compare-and-set.
     * </pre>
     */
    public io.github.sessionservice.v1.UpdateResponse update(io.github.sessionservice.v1.UpdateRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getUpdateMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * List returns a user's live sessions (one per device), a page at a time.
     * </pre>
     */
    public io.github.sessionservice.v1.ListResponse list(io.github.sessionservice.v1.ListRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * GetJwks returns the public keys that verify access tokens (RFC 7517 JSON).
     * </pre>
     */
    public io.github.sessionservice.v1.GetJwksResponse getJwks(io.github.sessionservice.v1.GetJwksRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetJwksMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * WatchRevocations streams the sessions that end, so that services verifying access
     * tokens locally reject a revoked session's tokens at once. It first replays every
     * retained revocation after the request's cursor (all of them without one), then
     * streams new ones as they happen, with a heartbeat while nothing happens. A
     * revocation is retained as long as an access token of its sessions can be valid.
     * </pre>
     */
    public java.util.Iterator<io.github.sessionservice.v1.WatchRevocationsResponse> watchRevocations(
        io.github.sessionservice.v1.WatchRevocationsRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getWatchRevocationsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Exchange trades one of our access tokens for a narrower one (RFC 8693 semantics):
     * one audience, a subset of the scopes, minutes of life, an act claim naming the
     * caller, optionally bound to the caller's certificate (RFC 8705). It dies with the
     * session.
     * </pre>
     */
    public io.github.sessionservice.v1.ExchangeResponse exchange(io.github.sessionservice.v1.ExchangeRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getExchangeMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Reauthenticate records a new authentication of the session's user (acr, amr,
     * auth_time) and rotates the session id and the refresh token (no fixation): the old
     * id and its access tokens end (REVOCATION_REASON_SESSION_ROTATED), the session's data,
     * device and limits carry over.
     * </pre>
     */
    public io.github.sessionservice.v1.ReauthenticateResponse reauthenticate(io.github.sessionservice.v1.ReauthenticateRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getReauthenticateMethod(), getCallOptions(), request);
    }
  }

  /**
   * <pre>
   * SessionService owns user sessions: server-side state in Redis, short-lived
   * JWT access tokens that any service can verify locally, and rotating opaque
   * refresh tokens with reuse (theft) detection.
   * Every failure carries a google.rpc.Status with a google.rpc.ErrorInfo
   * (domain "session.v1", a stable UPPER_SNAKE reason) and, for bad input, a
   * google.rpc.BadRequest listing the offending fields.
   * </pre>
   */
  public static final class SessionServiceFutureStub extends io.grpc.stub.AbstractFutureStub<SessionServiceFutureStub> {
    private SessionServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SessionServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SessionServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Create starts a brand-new session for an already authenticated user.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.sessionservice.v1.CreateResponse> create(
        io.github.sessionservice.v1.CreateRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreateMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Get reads a live session and slides its idle expiry (never past the absolute expiry).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.sessionservice.v1.GetResponse> get(
        io.github.sessionservice.v1.GetRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Refresh exchanges a refresh token for a new access token and a new refresh token.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.sessionservice.v1.RefreshResponse> refresh(
        io.github.sessionservice.v1.RefreshRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRefreshMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Revoke ends one session, the session behind a token, or all of a user's sessions.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.sessionservice.v1.RevokeResponse> revoke(
        io.github.sessionservice.v1.RevokeRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRevokeMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Introspect reports whether a token is active (RFC 7662 semantics).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.sessionservice.v1.IntrospectResponse> introspect(
        io.github.sessionservice.v1.IntrospectRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getIntrospectMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * IntrospectBatch checks up to 500 tokens in one call: one IntrospectResponse per
     * request, in the same order, each exactly what Introspect would answer.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.sessionservice.v1.IntrospectBatchResponse> introspectBatch(
        io.github.sessionservice.v1.IntrospectBatchRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getIntrospectBatchMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Update atomically patches the session's data, optionally as compare-and-set.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.sessionservice.v1.UpdateResponse> update(
        io.github.sessionservice.v1.UpdateRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getUpdateMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * List returns a user's live sessions (one per device), a page at a time.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.sessionservice.v1.ListResponse> list(
        io.github.sessionservice.v1.ListRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * GetJwks returns the public keys that verify access tokens (RFC 7517 JSON).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.sessionservice.v1.GetJwksResponse> getJwks(
        io.github.sessionservice.v1.GetJwksRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetJwksMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Exchange trades one of our access tokens for a narrower one (RFC 8693 semantics):
     * one audience, a subset of the scopes, minutes of life, an act claim naming the
     * caller, optionally bound to the caller's certificate (RFC 8705). It dies with the
     * session.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.sessionservice.v1.ExchangeResponse> exchange(
        io.github.sessionservice.v1.ExchangeRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getExchangeMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Reauthenticate records a new authentication of the session's user (acr, amr,
     * auth_time) and rotates the session id and the refresh token (no fixation): the old
     * id and its access tokens end (REVOCATION_REASON_SESSION_ROTATED), the session's data,
     * device and limits carry over.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<io.github.sessionservice.v1.ReauthenticateResponse> reauthenticate(
        io.github.sessionservice.v1.ReauthenticateRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getReauthenticateMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CREATE = 0;
  private static final int METHODID_GET = 1;
  private static final int METHODID_REFRESH = 2;
  private static final int METHODID_REVOKE = 3;
  private static final int METHODID_INTROSPECT = 4;
  private static final int METHODID_INTROSPECT_BATCH = 5;
  private static final int METHODID_UPDATE = 6;
  private static final int METHODID_LIST = 7;
  private static final int METHODID_GET_JWKS = 8;
  private static final int METHODID_WATCH_REVOCATIONS = 9;
  private static final int METHODID_EXCHANGE = 10;
  private static final int METHODID_REAUTHENTICATE = 11;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final SessionServiceImplBase serviceImpl;
    private final int methodId;

    MethodHandlers(SessionServiceImplBase serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_CREATE:
          serviceImpl.create((io.github.sessionservice.v1.CreateRequest) request,
              (io.grpc.stub.StreamObserver<io.github.sessionservice.v1.CreateResponse>) responseObserver);
          break;
        case METHODID_GET:
          serviceImpl.get((io.github.sessionservice.v1.GetRequest) request,
              (io.grpc.stub.StreamObserver<io.github.sessionservice.v1.GetResponse>) responseObserver);
          break;
        case METHODID_REFRESH:
          serviceImpl.refresh((io.github.sessionservice.v1.RefreshRequest) request,
              (io.grpc.stub.StreamObserver<io.github.sessionservice.v1.RefreshResponse>) responseObserver);
          break;
        case METHODID_REVOKE:
          serviceImpl.revoke((io.github.sessionservice.v1.RevokeRequest) request,
              (io.grpc.stub.StreamObserver<io.github.sessionservice.v1.RevokeResponse>) responseObserver);
          break;
        case METHODID_INTROSPECT:
          serviceImpl.introspect((io.github.sessionservice.v1.IntrospectRequest) request,
              (io.grpc.stub.StreamObserver<io.github.sessionservice.v1.IntrospectResponse>) responseObserver);
          break;
        case METHODID_INTROSPECT_BATCH:
          serviceImpl.introspectBatch((io.github.sessionservice.v1.IntrospectBatchRequest) request,
              (io.grpc.stub.StreamObserver<io.github.sessionservice.v1.IntrospectBatchResponse>) responseObserver);
          break;
        case METHODID_UPDATE:
          serviceImpl.update((io.github.sessionservice.v1.UpdateRequest) request,
              (io.grpc.stub.StreamObserver<io.github.sessionservice.v1.UpdateResponse>) responseObserver);
          break;
        case METHODID_LIST:
          serviceImpl.list((io.github.sessionservice.v1.ListRequest) request,
              (io.grpc.stub.StreamObserver<io.github.sessionservice.v1.ListResponse>) responseObserver);
          break;
        case METHODID_GET_JWKS:
          serviceImpl.getJwks((io.github.sessionservice.v1.GetJwksRequest) request,
              (io.grpc.stub.StreamObserver<io.github.sessionservice.v1.GetJwksResponse>) responseObserver);
          break;
        case METHODID_WATCH_REVOCATIONS:
          serviceImpl.watchRevocations((io.github.sessionservice.v1.WatchRevocationsRequest) request,
              (io.grpc.stub.StreamObserver<io.github.sessionservice.v1.WatchRevocationsResponse>) responseObserver);
          break;
        case METHODID_EXCHANGE:
          serviceImpl.exchange((io.github.sessionservice.v1.ExchangeRequest) request,
              (io.grpc.stub.StreamObserver<io.github.sessionservice.v1.ExchangeResponse>) responseObserver);
          break;
        case METHODID_REAUTHENTICATE:
          serviceImpl.reauthenticate((io.github.sessionservice.v1.ReauthenticateRequest) request,
              (io.grpc.stub.StreamObserver<io.github.sessionservice.v1.ReauthenticateResponse>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        default:
          throw new AssertionError();
      }
    }
  }

  private static abstract class SessionServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    SessionServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return io.github.sessionservice.v1.SessionOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("SessionService");
    }
  }

  private static final class SessionServiceFileDescriptorSupplier
      extends SessionServiceBaseDescriptorSupplier {
    SessionServiceFileDescriptorSupplier() {}
  }

  private static final class SessionServiceMethodDescriptorSupplier
      extends SessionServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final String methodName;

    SessionServiceMethodDescriptorSupplier(String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (SessionServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new SessionServiceFileDescriptorSupplier())
              .addMethod(getCreateMethod())
              .addMethod(getGetMethod())
              .addMethod(getRefreshMethod())
              .addMethod(getRevokeMethod())
              .addMethod(getIntrospectMethod())
              .addMethod(getIntrospectBatchMethod())
              .addMethod(getUpdateMethod())
              .addMethod(getListMethod())
              .addMethod(getGetJwksMethod())
              .addMethod(getWatchRevocationsMethod())
              .addMethod(getExchangeMethod())
              .addMethod(getReauthenticateMethod())
              .build();
        }
      }
    }
    return result;
  }
}
