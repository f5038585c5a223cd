// Token exchange from Node.js: trades the user's access token in $SESSION_SUBJECT_TOKEN for a
// narrower one for $SESSION_EXCHANGE_AUDIENCE (default orders-api) with the scope
// $SESSION_EXCHANGE_SCOPE (default orders:read), bound to this client's certificate, then
// verifies it as that audience would, with an independent JOSE library (jose): signature,
// typ, iss, aud, act, and cnf.x5t#S256 against the SHA-256 of the client certificate.
// Usage: node dist/exchange.js host:port --ca FILE --cert FILE --key FILE
// Prints one JSON object per step; exits non-zero if anything is not as expected.
import { createLocalJWKSet, jwtVerify } from "jose";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import { exchange, sessionClient, unary } from "./client.js";

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { ca: { type: "string" }, cert: { type: "string" }, key: { type: "string" } },
});
const target = positionals[0] ?? process.env.SESSION_TARGET ?? "127.0.0.1:50051";
if (!flags.cert || !flags.key) throw new Error("token exchange binds to a client certificate: give --cert and --key");
const client = sessionClient(target, { caFile: flags.ca, certFile: flags.cert, keyFile: flags.key });
const audience = process.env.SESSION_EXCHANGE_AUDIENCE || "orders-api";
const scope = process.env.SESSION_EXCHANGE_SCOPE || "orders:read";

function step(name: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ step: name, ...fields }));
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

try {
  const exchanged = await exchange(client, process.env.SESSION_SUBJECT_TOKEN ?? "", audience, {
    scopes: [scope],
    bindToCallerCertificate: true,
  });
  step("exchange", {
    audience: exchanged.audience,
    scopes: exchanged.scopes,
    issued_token_type: exchanged.issued_token_type,
  });

  const { jwks_json } = await unary(client, "GetJwks", {});
  const { payload } = await jwtVerify(exchanged.access_token, createLocalJWKSet(JSON.parse(jwks_json)), {
    issuer: process.env.SESSION_ISSUER || "session-service",
    audience,
    typ: "at+jwt",
    algorithms: ["EdDSA", "ES256", "RS256"],
  });
  // RFC 8705: base64url of the SHA-256 of the certificate's DER encoding.
  const der = new X509Certificate(readFileSync(flags.cert)).raw;
  const thumbprint = Buffer.from(await crypto.subtle.digest("SHA-256", der)).toString("base64url");
  const cnf = payload.cnf as Record<string, unknown> | undefined;
  check(cnf?.["x5t#S256"] === thumbprint, "the token must be bound to this client's certificate");
  step("verify_locally", { aud: payload.aud, scope: payload.scope, act: payload.act, sub: payload.sub });
} catch (error) {
  step("error", { message: error instanceof Error ? error.message : String(error) });
  process.exitCode = 1;
} finally {
  client.close();
}
