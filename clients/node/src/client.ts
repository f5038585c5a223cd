// A typed session.v1.SessionService client for Node.js: the proto is loaded at run time
// from protos/ (the same file the Python stubs come from), and the TypeScript types in
// src/gen are generated from it by scripts/generate-protos.sh (CI fails when they are stale).
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

import type { ProtoGrpcType } from "./gen/session.js";
import type { SessionServiceClient } from "./gen/session/v1/SessionService.js";

export type { SessionServiceClient };

// These options must match the ones the types were generated with (see generate-protos.sh).
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

const DEFAULT_PROTO_DIR = fileURLToPath(new URL("../../../protos/", import.meta.url));

export function loadSessionService(protoDir: string = DEFAULT_PROTO_DIR): ProtoGrpcType {
  const definition = protoLoader.loadSync("session/v1/session.proto", {
    ...LOADER_OPTIONS,
    includeDirs: [protoDir],
  });
  return grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
}

// How to reach the service: plaintext when no file is given (development), TLS with
// caFile, mutual TLS with certFile and keyFile too, and a caller token with
// callerTokenFile. The same choices, and environment variables, as the Python sessionctl.
export interface Connection {
  // PEM CA bundle that verifies the service's certificate (SESSION_CA_FILE); turns TLS on.
  caFile?: string;
  // PEM client certificate presented to the service, for mTLS (SESSION_CERT_FILE); turns
  // TLS on (verified against the system's roots when caFile is not given).
  certFile?: string;
  // PEM private key of certFile (SESSION_KEY_FILE).
  keyFile?: string;
  // Name to expect in the service's certificate when it differs from the target's host,
  // e.g. "sessions.shop.svc" through a port-forward to localhost (SESSION_SERVER_NAME).
  serverName?: string;
  // File holding a caller JWT, sent as "authorization: Bearer <jwt>" with every call and
  // re-read when it changes, as the kubelet rotates projected service-account tokens
  // (SESSION_CALLER_TOKEN_FILE). Send it over TLS only.
  callerTokenFile?: string;
}

// The connection settings from SESSION_CA_FILE, SESSION_CERT_FILE, SESSION_KEY_FILE,
// SESSION_SERVER_NAME and SESSION_CALLER_TOKEN_FILE; unset or empty ones stay unset.
export function connectionFromEnv(env: NodeJS.ProcessEnv = process.env): Connection {
  const value = (name: string): string | undefined => env[name] || undefined;
  return {
    caFile: value("SESSION_CA_FILE"),
    certFile: value("SESSION_CERT_FILE"),
    keyFile: value("SESSION_KEY_FILE"),
    serverName: value("SESSION_SERVER_NAME"),
    callerTokenFile: value("SESSION_CALLER_TOKEN_FILE"),
  };
}

// True when the connection speaks TLS.
export function usesTls(connection: Connection): boolean {
  return Boolean(connection.caFile || connection.certFile);
}

// The channel credentials of a connection; the PEM files are read now, so a missing one
// fails at start rather than on the first call.
export function channelCredentials(connection: Connection): grpc.ChannelCredentials {
  const { caFile, certFile, keyFile, serverName } = connection;
  if (Boolean(certFile) !== Boolean(keyFile)) {
    throw new Error("a client certificate and its key go together (--cert/SESSION_CERT_FILE, --key/SESSION_KEY_FILE)");
  }
  if (!usesTls(connection)) {
    if (serverName) throw new Error("a server name needs TLS: give --ca/SESSION_CA_FILE");
    return grpc.credentials.createInsecure();
  }
  const read = (path: string | undefined): Buffer | null => (path ? readFileSync(path) : null);
  return grpc.credentials.createSsl(read(caFile), read(keyFile), read(certFile));
}

// A caller-token source that re-reads the file when it changes.
export function callerTokenFile(path: string): () => string {
  let cached: { stamp: number; token: string } | undefined;
  const read = (): string => {
    const stamp = statSync(path).mtimeMs;
    if (cached?.stamp !== stamp) cached = { stamp, token: readFileSync(path, "utf8").trim() };
    return cached.token;
  };
  read(); // a missing file fails now, not on the first call
  return read;
}

// An interceptor that sends "authorization: Bearer <token>" with every call.
export function callerTokenInterceptor(token: () => string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${token()}`);
        next(metadata, listener);
      },
    });
}

export function sessionClient(
  target: string,
  connection: Connection = {},
  protoDir?: string,
): SessionServiceClient {
  const proto = loadSessionService(protoDir);
  const options: grpc.ClientOptions = {};
  if (connection.serverName) options["grpc.ssl_target_name_override"] = connection.serverName;
  if (connection.callerTokenFile) {
    options.interceptors = [callerTokenInterceptor(callerTokenFile(connection.callerTokenFile))];
  }
  return new proto.session.v1.SessionService(target, channelCredentials(connection), options);
}

// Promise form of a unary call with a deadline, e.g. `await unary(client, "Create", {...})`.
type UnaryMethods =
  | "Create"
  | "Get"
  | "Refresh"
  | "Revoke"
  | "Introspect"
  | "IntrospectBatch"
  | "Update"
  | "List"
  | "GetJwks"
  | "Exchange"
  | "Reauthenticate";
type RequestOf<M extends UnaryMethods> = Parameters<SessionServiceClient[M]>[0];
type ResponseOf<M extends UnaryMethods> =
  Parameters<SessionServiceClient[M]> extends [...unknown[], grpc.requestCallback<infer R>] ? R : never;

export function unary<M extends UnaryMethods>(
  client: SessionServiceClient,
  method: M,
  request: RequestOf<M>,
  timeoutMs = 5000,
): Promise<NonNullable<ResponseOf<M>>> {
  const call = client[method].bind(client) as unknown as (
    request: RequestOf<M>,
    options: grpc.CallOptions,
    callback: grpc.requestCallback<ResponseOf<M>>,
  ) => grpc.ClientUnaryCall;
  return new Promise((resolve, reject) => {
    call(request, { deadline: Date.now() + timeoutMs }, (error, response) => {
      if (error || response == null) reject(error ?? new Error(`${method}: empty response`));
      else resolve(response as NonNullable<ResponseOf<M>>);
    });
  });
}

// Options of a token exchange: the scopes of the new token (default: all the subject's),
// its lifetime in seconds (0: the longest the service allows), and whether to bind it to
// this client's certificate (RFC 8705; needs mTLS).
export interface ExchangeOptions {
  scopes?: string[];
  ttlSeconds?: number;
  bindToCallerCertificate?: boolean;
}

// Token exchange (RFC 8693): trades a user's access token for a narrower one for
// `audience`, naming this caller in its act claim. The service's policy must grant this
// caller that audience and those scopes (else PERMISSION_DENIED EXCHANGE_NOT_ALLOWED).
export function exchange(
  client: SessionServiceClient,
  subjectToken: string,
  audience: string,
  options: ExchangeOptions = {},
  timeoutMs = 5000,
): Promise<NonNullable<ResponseOf<"Exchange">>> {
  return unary(
    client,
    "Exchange",
    {
      subject_token: subjectToken,
      audience,
      scopes: options.scopes ?? [],
      ttl_seconds: options.ttlSeconds ?? 0,
      bind_to_caller_certificate: options.bindToCallerCertificate ?? false,
    },
    timeoutMs,
  );
}

// What a new authentication of the user was: how (acr, e.g. "mfa"; amr, RFC 8176 values
// such as "pwd", "otp", "hwk") and when (default now); `dpop` is required, by the
// session's key, for a DPoP-bound session.
export interface Authentication {
  acr?: string;
  amr?: string[];
  authTime?: Date;
  dpop?: { proof: string; http_method: string; http_uri: string };
}

// Re-authentication (step-up, RFC 9470): records that the user authenticated again and
// moves the session to a new id with new tokens; the old id and its tokens end. Call it
// after a route answered `WWW-Authenticate: Bearer error="insufficient_user_authentication"`
// (with the acr_values and max_age it names) and the user logged in again, or after
// Refresh failed with UNAUTHENTICATED REAUTHENTICATION_REQUIRED.
export function reauthenticate(
  client: SessionServiceClient,
  sessionId: string,
  authentication: Authentication = {},
  timeoutMs = 5000,
): Promise<NonNullable<ResponseOf<"Reauthenticate">>> {
  const at = authentication.authTime;
  return unary(
    client,
    "Reauthenticate",
    {
      session_id: sessionId,
      acr: authentication.acr ?? "",
      amr: authentication.amr ?? [],
      auth_time: at ? { seconds: Math.floor(at.getTime() / 1000), nanos: (at.getTime() % 1000) * 1e6 } : undefined,
      dpop: authentication.dpop,
    },
    timeoutMs,
  );
}
