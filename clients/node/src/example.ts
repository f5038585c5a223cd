// Create, Introspect and Revoke from Node.js, and local verification of the access token
// with an independent JOSE library (jose) against the service's JWKS.
// Usage: node dist/example.js [host:port]   (default $SESSION_TARGET or 127.0.0.1:50051)
// Prints one JSON object per step; exits non-zero if anything is not as expected.
import { createLocalJWKSet, jwtVerify } from "jose";

import { sessionClient, unary } from "./client.js";

const target = process.argv[2] ?? process.env.SESSION_TARGET ?? "127.0.0.1:50051";
const client = sessionClient(target);

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

  const { jwks_json } = await unary(client, "GetJwks", {});
  const { payload, protectedHeader } = await jwtVerify(
    created.access_token,
    createLocalJWKSet(JSON.parse(jwks_json)),
    { issuer: "session-service", audience: "internal", typ: "at+jwt", algorithms: ["EdDSA", "ES256", "RS256"] },
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
