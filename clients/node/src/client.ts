// A typed session.v1.SessionService client for Node.js: the proto is loaded at run time
// from protos/ (the same file the Python stubs come from), and the TypeScript types in
// src/gen are generated from it by scripts/generate-protos.sh (CI fails when they are stale).
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
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

export function sessionClient(
  target: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  protoDir?: string,
): SessionServiceClient {
  const proto = loadSessionService(protoDir);
  return new proto.session.v1.SessionService(target, credentials);
}

// Promise form of a unary call with a deadline, e.g. `await unary(client, "Create", {...})`.
type UnaryMethods = "Create" | "Get" | "Refresh" | "Revoke" | "Introspect" | "Update" | "List" | "GetJwks";
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
