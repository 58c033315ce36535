/**
 * Standard Webhooks verification: HMAC-SHA256 over `{id}.{timestamp}.{body}`, base64, keyed with the
 * base64-decoded text after `whsec_`. Pure: the clock is injected. Runs on the raw bytes, before parsing.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */

import { base64ToBytes, bytesToBase64 } from "../bytes";

/** Freshness window both ways, as the official libraries use. */
export const SIGNATURE_TOLERANCE_S = 300;
const SECRET_PREFIX = "whsec_";

export type VerifyFailure =
  | "missing_headers"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_in_future"
  | "no_signature"
  | "signature_mismatch";

export type VerifyResult = { ok: true } | { ok: false; reason: VerifyFailure };

export interface StandardWebhookInput {
  id: string | null | undefined;
  timestamp: string | null | undefined;
  signature: string | null | undefined;
  body: Uint8Array;
  /** `whsec_...` secrets; any one of them may have signed (rotation). */
  secrets: readonly string[];
  nowSeconds: number;
}

async function importSecret(secret: string, usage: "sign" | "verify"): Promise<CryptoKey | null> {
  const raw = base64ToBytes(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
  if (!raw || raw.length === 0) return null;
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

function signedContent(id: string, timestamp: string, body: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode(`${id}.${timestamp}.`);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

/** Verifies a delivery; constant-time comparison via `crypto.subtle.verify`. */
export async function verifyStandardWebhook(input: StandardWebhookInput): Promise<VerifyResult> {
  const { id, timestamp, signature } = input;
  if (!id || !timestamp || !signature) return { ok: false, reason: "missing_headers" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "invalid_timestamp" };
  const ts = Number(timestamp);
  if (input.nowSeconds - ts > SIGNATURE_TOLERANCE_S) return { ok: false, reason: "timestamp_too_old" };
  if (ts - input.nowSeconds > SIGNATURE_TOLERANCE_S) return { ok: false, reason: "timestamp_in_future" };

  const candidates: Uint8Array[] = [];
  for (const part of signature.split(" ")) {
    const [version, value] = part.split(",", 2);
    if (version !== "v1" || !value) continue;
    const bytes = base64ToBytes(value);
    if (bytes && bytes.length === 32) candidates.push(bytes);
  }
  if (candidates.length === 0) return { ok: false, reason: "no_signature" };

  const content = signedContent(id, timestamp, input.body);
  for (const secret of input.secrets) {
    const key = await importSecret(secret, "verify");
    if (!key) continue;
    for (const candidate of candidates) {
      if (await crypto.subtle.verify("HMAC", key, candidate, content)) return { ok: true };
    }
  }
  return { ok: false, reason: "signature_mismatch" };
}

/** Signs a payload the way a Standard Webhooks sender does: returns the `webhook-signature` value. */
export async function signStandardWebhook(
  secret: string,
  id: string,
  timestamp: number | string,
  body: string | Uint8Array,
): Promise<string> {
  const key = await importSecret(secret, "sign");
  if (!key) throw new Error("invalid whsec_ secret");
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const mac = await crypto.subtle.sign("HMAC", key, signedContent(id, String(timestamp), bytes));
  return `v1,${bytesToBase64(new Uint8Array(mac))}`;
}
