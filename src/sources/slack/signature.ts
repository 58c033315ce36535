/**
 * Slack request signing: `X-Slack-Signature: v0=<hex HMAC-SHA256("v0:{timestamp}:{body}")>` keyed with the
 * signing secret as text, `X-Slack-Request-Timestamp` within 300 s [webhook-sources.md]. Pure: the clock is
 * injected. Runs on the raw bytes, before the form is parsed; the comparison is `crypto.subtle.verify`.
 */

import { toHex } from "../../bytes";

export const SLACK_TOLERANCE_S = 300;

export type SlackVerifyFailure =
  | "missing_headers"
  | "invalid_timestamp"
  | "stale_timestamp"
  | "bad_signature";

export interface SlackVerifyInput {
  timestamp: string | null | undefined;
  signature: string | null | undefined;
  body: Uint8Array;
  secrets: readonly string[];
  nowSeconds: number;
}

const enc = new TextEncoder();

function signedBytes(timestamp: string, body: Uint8Array): Uint8Array {
  const prefix = enc.encode(`v0:${timestamp}:`);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix, 0);
  out.set(body, prefix.length);
  return out;
}

const hmacKey = (secret: string, usage: "sign" | "verify") =>
  crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);

export async function verifySlackSignature(
  input: SlackVerifyInput,
): Promise<{ ok: true } | { ok: false; reason: SlackVerifyFailure }> {
  const { timestamp, signature } = input;
  if (!timestamp || !signature) return { ok: false, reason: "missing_headers" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "invalid_timestamp" };
  if (Math.abs(input.nowSeconds - Number(timestamp)) > SLACK_TOLERANCE_S) {
    return { ok: false, reason: "stale_timestamp" };
  }
  const m = /^v0=([0-9a-f]{64})$/.exec(signature);
  if (!m?.[1]) return { ok: false, reason: "bad_signature" };
  const mac = new Uint8Array(32);
  for (let i = 0; i < 32; i++) mac[i] = Number.parseInt(m[1].slice(i * 2, i * 2 + 2), 16);
  const content = signedBytes(timestamp, input.body);
  for (const secret of input.secrets) {
    if (await crypto.subtle.verify("HMAC", await hmacKey(secret, "verify"), mac, content))
      return { ok: true };
  }
  return { ok: false, reason: "bad_signature" };
}

/** Signs like Slack does: the `X-Slack-Signature` value (tests, local tools). */
export async function signSlack(secret: string, timestamp: number | string, body: string): Promise<string> {
  const mac = await crypto.subtle.sign(
    "HMAC",
    await hmacKey(secret, "sign"),
    signedBytes(String(timestamp), enc.encode(body)),
  );
  return `v0=${toHex(new Uint8Array(mac))}`;
}
