/**
 * SCIM 2.0 clients (Okta, Entra ID) send `Authorization: Bearer <token>` (RFC 7644 section 2); the token is
 * compared in constant time with each configured one (two while rotating). Pure.
 */
import type { Verdict } from "../../auth";
import { matchesAnySecret } from "../../http";

export async function verifyScimBearer(
  _rawBody: Uint8Array,
  headers: Headers,
  tokens: readonly string[],
  _now: number,
): Promise<Verdict> {
  const header = headers.get("authorization") ?? "";
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (match?.[1] && (await matchesAnySecret(match[1].trim(), tokens))) return { ok: true };
  return { ok: false, reason: header ? "wrong_token" : "missing_token" };
}
