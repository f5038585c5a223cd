// Step-up from Node.js (RFC 9470): a session created after a password login, its access
// token verified with an independent JOSE library (jose) for acr, amr and auth_time; then
// the user authenticates again with a second factor and Reauthenticate moves the session to
// a new id: the new token says acr "mfa", the old one is inactive.
// Usage: node dist/step_up.js host:port
// Prints one JSON object per step; exits non-zero if anything is not as expected.
import { createLocalJWKSet, jwtVerify } from "jose";

import { reauthenticate, sessionClient, unary } from "./client.js";

const target = process.argv[2] ?? process.env.SESSION_TARGET ?? "127.0.0.1:50051";
const client = sessionClient(target);

function step(name: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ step: name, ...fields }));
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

try {
  const { jwks_json } = await unary(client, "GetJwks", {});
  const keys = createLocalJWKSet(JSON.parse(jwks_json));
  const verify = async (token: string) =>
    (
      await jwtVerify(token, keys, {
        issuer: process.env.SESSION_ISSUER || "session-service",
        audience: process.env.SESSION_AUDIENCE || "internal",
        typ: "at+jwt",
        algorithms: ["EdDSA", "ES256", "RS256"],
      })
    ).payload;

  const created = await unary(client, "Create", { user_id: "node-step-up", acr: "pwd", amr: ["pwd"] });
  const before = await verify(created.access_token);
  check(before.acr === "pwd" && typeof before.auth_time === "number", "the token must say how and when");
  step("create", { acr: before.acr, amr: before.amr, sid: before.sid });

  const again = await reauthenticate(client, created.session?.session_id ?? "", { acr: "mfa", amr: ["pwd", "otp"] });
  const after = await verify(again.access_token);
  check(after.sid !== before.sid, "re-authentication must move the session to a new id");
  step("reauthenticate", { acr: after.acr, amr: after.amr, new_session_id: after.sid !== before.sid });

  const old = await unary(client, "Introspect", { token: created.access_token });
  check(!old.active, "the old id's token must be inactive");
  step("old_token", { active: old.active });
} catch (error) {
  step("error", { message: error instanceof Error ? error.message : String(error) });
  process.exitCode = 1;
} finally {
  client.close();
}
