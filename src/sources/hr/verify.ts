/**
 * Standard Webhooks verification: HMAC-SHA256 over `{id}.{timestamp}.{body}`, base64, keyed with the
 * base64-decoded text after `whsec_` (webhook-sources.md). Pure: the clock is injected. Runs on the raw
 * bytes, before parsing.
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
import type { Verdict } from "../../auth";
import { base64ToBytes } from "../../bytes";

/** Freshness window both ways, as the official libraries use (`WEBHOOK_TOLERANCE_IN_SECONDS = 5 * 60`). */
export const SIGNATURE_TOLERANCE_S = 300;
/**
 * At most this many `v1,` entries of `webhook-signature` are considered; later ones are ignored. The spec
 * allows several signatures so a sender can sign with an old and a new secret during a rotation: two are
 * normal, ten is generous. Without a cap a forged header with thousands of entries was a cheap way to spend
 * our CPU (issue 8, finding 5). The HMAC itself is computed once per secret whatever the count.
 */
export const MAX_SIGNATURE_CANDIDATES = 10;
const SECRET_PREFIX = "whsec_";
/** HMAC-SHA256 is 32 bytes; a candidate of another length can never match. */
const MAC_BYTES = 32;

export type HrVerifyFailure =
  | "missing_headers"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_in_future"
  | "no_signature"
  | "signature_mismatch";

/** What a verified delivery establishes: its `webhook-id` (the event id runs are keyed by). */
export interface HrVerified {
  webhookId: string;
}

const encoder = new TextEncoder();

function signedContent(id: string, timestamp: string, body: Uint8Array): Uint8Array {
  const prefix = encoder.encode(`${id}.${timestamp}.`);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

/** The decoded `v1` candidates of a `webhook-signature` header, at most MAX_SIGNATURE_CANDIDATES of them. */
export function signatureCandidates(header: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  let considered = 0;
  for (const part of header.split(" ")) {
    if (considered === MAX_SIGNATURE_CANDIDATES) break;
    const comma = part.indexOf(",");
    if (comma < 0 || part.slice(0, comma) !== "v1") continue; // other versions (v1a: asymmetric) are skipped
    considered++;
    const bytes = base64ToBytes(part.slice(comma + 1));
    if (bytes?.length === MAC_BYTES) out.push(bytes);
  }
  return out;
}

/** The HMAC key of a `whsec_` secret; null when it is not base64 (config validation refuses those). */
function hmacKey(secret: string): Promise<CryptoKey> | null {
  const raw = base64ToBytes(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
  if (!raw || raw.length === 0) return null;
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/**
 * Verifies a Standard Webhooks delivery against any of the `whsec_` secrets (two during a rotation). Like
 * the official libraries, the expected signature is computed once per secret and every candidate is
 * compared with it in constant time (`crypto.subtle.timingSafeEqual`).
 */
export async function verifyStandardWebhook(
  rawBody: Uint8Array,
  headers: Headers,
  secrets: readonly string[],
  now: number,
): Promise<Verdict<HrVerified>> {
  const id = headers.get("webhook-id");
  const timestamp = headers.get("webhook-timestamp");
  const signature = headers.get("webhook-signature");
  const fail = (reason: HrVerifyFailure): Verdict<HrVerified> => ({
    ok: false,
    reason,
    ...(id ? { eventId: id } : {}),
  });
  if (!id || !timestamp || !signature) return fail("missing_headers");
  if (!/^\d{1,12}$/.test(timestamp)) return fail("invalid_timestamp");
  const ts = Number(timestamp);
  const nowSeconds = Math.floor(now / 1000);
  if (nowSeconds - ts > SIGNATURE_TOLERANCE_S) return fail("timestamp_too_old");
  if (ts - nowSeconds > SIGNATURE_TOLERANCE_S) return fail("timestamp_in_future");

  const candidates = signatureCandidates(signature);
  if (candidates.length === 0) return fail("no_signature");

  const content = signedContent(id, timestamp, rawBody);
  let matched = false;
  for (const secret of secrets) {
    const key = await hmacKey(secret);
    if (!key) continue;
    const expected = await crypto.subtle.sign("HMAC", key, content);
    // Every candidate is compared (no early exit), so the time does not depend on which one matched.
    for (const candidate of candidates)
      matched = crypto.subtle.timingSafeEqual(candidate, expected) || matched;
  }
  return matched ? { ok: true, webhookId: id } : fail("signature_mismatch");
}
