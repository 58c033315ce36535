import { base64ToBytes, bytesToBase64 } from "../bytes";

const encoder = new TextEncoder();

/**
 * Standard Webhooks signing (standard-webhooks spec, "Signature scheme"; /work/shared/webhook-sources.md):
 * HMAC-SHA256 over `${id}.${timestamp}.${body}`, keyed by the base64 after `whsec_`, sent as
 * `webhook-signature: v1,<base64>`. The id is the event's (the same on every retry, so receivers dedupe);
 * the timestamp is the attempt's (receivers refuse stale ones).
 */
export async function signedHeaders(
  secret: string,
  id: string,
  timestamp: number,
  body: string,
): Promise<Record<string, string>> {
  const keyBytes = base64ToBytes(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret);
  if (!keyBytes) throw new Error("outbound webhook secret is not base64");
  const key = await crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${id}.${timestamp}.${body}`));
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": `v1,${bytesToBase64(new Uint8Array(mac))}`,
  };
}
