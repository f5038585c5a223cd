// Create, Introspect (one token and a batch) and Revoke from Node.js, and local verification of the access token
// with an independent JOSE library (jose) against the service's JWKS.
// Usage: node dist/example.js [host:port] [--ca FILE] [--cert FILE --key FILE]
//                             [--server-name NAME] [--caller-token-file FILE]
// The target defaults to $SESSION_TARGET or 127.0.0.1:50051; each option defaults to its
// environment variable (SESSION_CA_FILE, SESSION_CERT_FILE, SESSION_KEY_FILE,
// SESSION_SERVER_NAME, SESSION_CALLER_TOKEN_FILE). Plaintext when neither --ca nor --cert.
// The token is verified for $SESSION_ISSUER and $SESSION_AUDIENCE (default session-service, internal).
// Prints one JSON object per step; exits non-zero if anything is not as expected.
import { createLocalJWKSet, jwtVerify } from "jose";
import { parseArgs } from "node:util";

import { connectionFromEnv, sessionClient, unary, usesTls, type Connection } from "./client.js";

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    ca: { type: "string" },
    cert: { type: "string" },
    key: { type: "string" },
    "server-name": { type: "string" },
    "caller-token-file": { type: "string" },
  },
});
const fromEnv = connectionFromEnv();
const connection: Connection = {
  caFile: flags.ca ?? fromEnv.caFile,
  certFile: flags.cert ?? fromEnv.certFile,
  keyFile: flags.key ?? fromEnv.keyFile,
  serverName: flags["server-name"] ?? fromEnv.serverName,
  callerTokenFile: flags["caller-token-file"] ?? fromEnv.callerTokenFile,
};
const target = positionals[0] ?? process.env.SESSION_TARGET ?? "127.0.0.1:50051";
if (connection.callerTokenFile && !usesTls(connection)) {
  console.error("warning: sending the caller token over plaintext; give --ca for TLS");
}
const client = sessionClient(target, connection);

function step(name: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ step: name, ...fields }));
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

try {
  const created = await unary(client, "Create", {
    user_id: "node-example",
    scopes: ["read"],
    client_id: "node",
    client: { device: "node example" },
  });
  const sessionId = created.session?.session_id ?? "";
  step("create", { session_id: sessionId, version: created.session?.version });

  const active = await unary(client, "Introspect", { token: created.access_token });
  check(active.active && active.sid === sessionId, "a new access token must be active");
  step("introspect", { active: active.active, sub: active.sub, scope: active.scope });

  // Many tokens in one call (up to 500): one answer per token, in order.
  const batch = await unary(client, "IntrospectBatch", {
    requests: [{ token: created.access_token }, { token: "not-a-token" }],
  });
  check(batch.responses.length === 2, "one answer per token");
  step("introspect_batch", { active: batch.responses.map((r) => r.active) });

  const { jwks_json } = await unary(client, "GetJwks", {});
  const { payload, protectedHeader } = await jwtVerify(
    created.access_token,
    createLocalJWKSet(JSON.parse(jwks_json)),
    {
      // The service's SESSION_ISSUER and SESSION_AUDIENCE (the chart's config.issuer, config.audience).
      issuer: process.env.SESSION_ISSUER || "session-service",
      audience: process.env.SESSION_AUDIENCE || "internal",
      typ: "at+jwt",
      algorithms: ["EdDSA", "ES256", "RS256"],
    },
  );
  check(payload.sid === sessionId, "the token must name its session");
  step("verify_locally", { alg: protectedHeader.alg, sub: payload.sub, sid: payload.sid });

  const revoked = await unary(client, "Revoke", { session_id: sessionId });
  check(revoked.revoked_count === "1", "Revoke must end the session");
  step("revoke", { revoked_count: Number(revoked.revoked_count) });

  const inactive = await unary(client, "Introspect", { token: created.access_token });
  check(!inactive.active, "a revoked session's token must be inactive");
  step("introspect_after_revoke", { active: inactive.active });
} catch (error) {
  step("error", { message: error instanceof Error ? error.message : String(error) });
  process.exitCode = 1;
} finally {
  client.close();
}
