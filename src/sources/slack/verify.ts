/**
 * Slack request signing: `X-Slack-Signature: v0=<hex HMAC-SHA256("v0:{timestamp}:{body}")>` keyed with the
 * signing secret as text, `X-Slack-Request-Timestamp` within 300 s [webhook-sources.md]. Pure: the clock is
 * injected. Runs on the raw bytes, before the form is parsed; the comparison is `crypto.subtle.verify`
 * (constant time).
 * @see https://api.slack.com/authentication/verifying-requests-from-slack
 */
import type { Verdict } from "../../auth";

/** Slack's documented replay window: refuse a request timestamped more than five minutes away. */
export const SLACK_TOLERANCE_S = 300;

export type SlackVerifyFailure =
  | "missing_headers"
  | "invalid_timestamp"
  | "stale_timestamp"
  | "bad_signature";

const enc = new TextEncoder();

function signedBytes(timestamp: string, body: Uint8Array): Uint8Array {
  const prefix = enc.encode(`v0:${timestamp}:`);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

const hmacKey = (secret: string) =>
  crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);

/** Verifies a slash command against any of the signing secrets (two while rotating). */
export async function verifySlackRequest(
  rawBody: Uint8Array,
  headers: Headers,
  secrets: readonly string[],
  now: number,
): Promise<Verdict> {
  const timestamp = headers.get("x-slack-request-timestamp");
  const signature = headers.get("x-slack-signature");
  const fail = (reason: SlackVerifyFailure): Verdict => ({ ok: false, reason });
  if (!timestamp || !signature) return fail("missing_headers");
  if (!/^\d{1,12}$/.test(timestamp)) return fail("invalid_timestamp");
  if (Math.abs(Math.floor(now / 1000) - Number(timestamp)) > SLACK_TOLERANCE_S)
    return fail("stale_timestamp");
  const m = /^v0=([0-9a-f]{64})$/.exec(signature);
  if (!m?.[1]) return fail("bad_signature");
  const mac = new Uint8Array(32);
  for (let i = 0; i < 32; i++) mac[i] = Number.parseInt(m[1].slice(i * 2, i * 2 + 2), 16);
  const content = signedBytes(timestamp, rawBody);
  for (const secret of secrets) {
    if (await crypto.subtle.verify("HMAC", await hmacKey(secret), mac, content)) return { ok: true };
  }
  return fail("bad_signature");
}
