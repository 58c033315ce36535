/**
 * Signers written in the tests, from the senders' documentation, independent of the verifiers in `src/`
 * (STYLE.md: no test checks code with itself). Slack's is pinned to Slack's published example in
 * test/unit/slack-verify.test.ts; HR deliveries are signed with the official `standardwebhooks` library
 * (`signHr` in ./worker.ts).
 */

const enc = new TextEncoder();

async function hmacSha256(key: Uint8Array, data: string): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(data)));
}

/** `X-Slack-Signature`: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`, keyed with the secret as text. */
export async function signSlack(secret: string, timestamp: number | string, body: string): Promise<string> {
  const mac = await hmacSha256(enc.encode(secret), `v0:${timestamp}:${body}`);
  return `v0=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Teams' `Authorization`: `HMAC ` + base64 HMAC-SHA256 of the body, keyed with the base64-decoded token. */
export async function signTeams(token: string, body: string): Promise<string> {
  const mac = await hmacSha256(
    Uint8Array.from(atob(token), (ch) => ch.charCodeAt(0)),
    body,
  );
  return `HMAC ${btoa(String.fromCharCode(...mac))}`;
}
