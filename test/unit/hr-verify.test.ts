/**
 * The Standard Webhooks verifier against the sender's own oracle: the published test vector and the
 * official `standardwebhooks` library as the signer (and, for random headers, as a second verifier).
 * The clock is injected. Breaks one field at a time, as the official libraries' tests do.
 */
import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  MAX_SIGNATURE_CANDIDATES,
  SIGNATURE_TOLERANCE_S,
  verifyStandardWebhook,
} from "../../src/sources/hr/verify";

/** The vector in the official libraries' tests (webhook-sources.md). */
const V = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
const OTHER_SECRET = "whsec_dGVzdC1zZWNvbmQtc2VjcmV0LXJvdGF0aW9u";
const FORGED = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
const enc = new TextEncoder();

interface Input {
  id?: string | null;
  timestamp?: string | null;
  signature?: string | null;
  body?: string;
  secrets?: string[];
  nowSeconds?: number;
}

function verify(over: Input = {}) {
  const headers = new Headers();
  const id = over.id === undefined ? V.id : over.id;
  const ts = over.timestamp === undefined ? String(V.timestamp) : over.timestamp;
  const sig = over.signature === undefined ? V.signature : over.signature;
  if (id !== null) headers.set("webhook-id", id);
  if (ts !== null) headers.set("webhook-timestamp", ts);
  if (sig !== null) headers.set("webhook-signature", sig);
  return verifyStandardWebhook(
    enc.encode(over.body ?? V.body),
    headers,
    over.secrets ?? [V.secret],
    (over.nowSeconds ?? V.timestamp) * 1000,
  );
}

const failsWith = async (over: Input, reason: string) =>
  expect(await verify(over)).toEqual({
    ok: false,
    reason,
    ...(over.id === null ? {} : { eventId: over.id ?? V.id }),
  });

afterEach(() => {
  vi.restoreAllMocks();
});

describe("Standard Webhooks: the published vector", () => {
  it("the official library reproduces the vector (the oracle is sound)", () => {
    expect(new Webhook(V.secret).sign(V.id, new Date(V.timestamp * 1000), V.body)).toBe(V.signature);
  });

  it("accepts the vector and reports its webhook-id", async () => {
    expect(await verify()).toEqual({ ok: true, webhookId: V.id });
  });

  it("accepts it with the signing secret second of two (rotation)", async () => {
    expect(await verify({ secrets: [OTHER_SECRET, V.secret] })).toMatchObject({ ok: true });
  });

  it("accepts it at the edges of the 300-second window, either way", async () => {
    expect(await verify({ nowSeconds: V.timestamp + SIGNATURE_TOLERANCE_S })).toMatchObject({ ok: true });
    expect(await verify({ nowSeconds: V.timestamp - SIGNATURE_TOLERANCE_S })).toMatchObject({ ok: true });
  });
});

describe("Standard Webhooks: one field broken at a time", () => {
  it("a different webhook-id", () => failsWith({ id: "msg_p5jXN8AQM9LWM0D4loKWxJeK" }, "signature_mismatch"));
  it("a different timestamp (still fresh)", () =>
    failsWith({ timestamp: String(V.timestamp + 1), nowSeconds: V.timestamp }, "signature_mismatch"));
  it("a different body (one byte)", () => failsWith({ body: '{"test": 2432232315}' }, "signature_mismatch"));
  it("a different secret", () => failsWith({ secrets: [OTHER_SECRET] }, "signature_mismatch"));
  it("a signature with one character changed", () =>
    failsWith({ signature: V.signature.replace("g0hM", "g0hN") }, "signature_mismatch"));
});

describe("Standard Webhooks: the must-fail list (webhook-sources.md)", () => {
  it("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", () =>
    failsWith({ signature: FORGED }, "signature_mismatch"));
  it("v1,dawfeoifkpqwoekfpqoekf", () =>
    failsWith({ signature: "v1,dawfeoifkpqwoekfpqoekf" }, "no_signature"));
  it("v1,", () => failsWith({ signature: "v1," }, "no_signature"));
  it("a missing signature header", () => failsWith({ signature: null }, "missing_headers"));
  it("a missing timestamp header", () => failsWith({ timestamp: null }, "missing_headers"));
  it("a missing webhook-id header", () => failsWith({ id: null }, "missing_headers"));
  it("a non-integer timestamp", () => failsWith({ timestamp: "16142653a0" }, "invalid_timestamp"));
  it("a timestamp 301 s old", () =>
    failsWith({ nowSeconds: V.timestamp + SIGNATURE_TOLERANCE_S + 1 }, "timestamp_too_old"));
  it("a timestamp 301 s ahead", () =>
    failsWith({ nowSeconds: V.timestamp - SIGNATURE_TOLERANCE_S - 1 }, "timestamp_in_future"));
  it("only other versions (v1a is asymmetric, not ours)", () =>
    failsWith({ signature: V.signature.replace("v1,", "v1a,") }, "no_signature"));
});

describe("Standard Webhooks: several signatures in one header", () => {
  it("accepts a header of which one signature is valid, wherever it is", async () => {
    expect(await verify({ signature: `${FORGED} ${V.signature}` })).toMatchObject({ ok: true });
    expect(await verify({ signature: `${V.signature} ${FORGED}` })).toMatchObject({ ok: true });
    expect(await verify({ signature: `v1a,xyz v1,dawfeoifkpqwoekfpqoekf ${V.signature}` })).toMatchObject({
      ok: true,
    });
  });

  it("considers at most 10 v1 entries: the valid one 10th passes, 11th fails", async () => {
    expect(MAX_SIGNATURE_CANDIDATES).toBe(10); // the documented cap (README, docs/security.md)
    const forged = (n: number) => Array.from({ length: n }, () => FORGED);
    const tenth = [...forged(9), V.signature].join(" ");
    expect(await verify({ signature: tenth })).toMatchObject({ ok: true });
    const eleventh = [...forged(10), V.signature].join(" ");
    expect(await verify({ signature: eleventh })).toMatchObject({ ok: false, reason: "signature_mismatch" });
    // Entries of other versions are skipped and do not use up the cap.
    const others = [...Array.from({ length: 20 }, () => "v1a,abc"), V.signature].join(" ");
    expect(await verify({ signature: others })).toMatchObject({ ok: true });
  });

  it("computes the HMAC once per secret, however many candidates (2,000 forged cost one HMAC)", async () => {
    const sign = vi.spyOn(crypto.subtle, "sign");
    const verifySpy = vi.spyOn(crypto.subtle, "verify");
    const header = Array.from({ length: 2000 }, () => FORGED).join(" ");
    expect(await verify({ signature: header, secrets: [OTHER_SECRET, V.secret] })).toMatchObject({
      ok: false,
    });
    expect(sign).toHaveBeenCalledTimes(2);
    expect(verifySpy).not.toHaveBeenCalled();
  });
});

describe("Standard Webhooks: agrees with the official library", () => {
  const secrets = [V.secret, OTHER_SECRET];
  const candidate = fc.oneof(
    fc.constant("valid"),
    fc.constant(FORGED),
    fc.base64String({ maxLength: 50 }).map((b) => `v1,${b}`),
    fc.constantFrom("v1,", "v2,abc", "v1a,abc", "garbage", ""),
  );

  it("signs with the library, verifies with ours: every delivery it signs passes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[\s,]/.test(s)),
        fc.string({ maxLength: 300 }),
        fc.constantFrom(...secrets),
        async (id, body, secret) => {
          const now = Math.floor(Date.now() / 1000);
          const sig = new Webhook(secret).sign(id, new Date(now * 1000), body);
          const headers = new Headers({
            "webhook-id": id,
            "webhook-timestamp": String(now),
            "webhook-signature": sig,
          });
          const verdict = await verifyStandardWebhook(enc.encode(body), headers, secrets, now * 1000);
          expect(verdict).toEqual({ ok: true, webhookId: id });
        },
      ),
      { seed: 20261130, numRuns: 100 },
    );
  });

  it("up to 10 candidates: ours accepts exactly what the official verify accepts", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(candidate, { maxLength: 10 }),
        fc.constantFrom(...secrets),
        fc.string({ maxLength: 100 }),
        async (parts, secret, body) => {
          const now = Math.floor(Date.now() / 1000);
          const id = "msg_prop";
          const valid = new Webhook(secret).sign(id, new Date(now * 1000), body);
          const header = parts.map((p) => (p === "valid" ? valid : p)).join(" ");
          const headers = { "webhook-id": id, "webhook-timestamp": String(now), "webhook-signature": header };
          let official = false;
          try {
            new Webhook(V.secret).verify(body, headers, { jsonParse: false });
            official = true;
          } catch {
            try {
              new Webhook(OTHER_SECRET).verify(body, headers, { jsonParse: false });
              official = true;
            } catch {
              official = false;
            }
          }
          const ours = await verifyStandardWebhook(
            enc.encode(body),
            new Headers(headers),
            secrets,
            now * 1000,
          );
          expect(ours.ok).toBe(official);
        },
      ),
      { seed: 20261130, numRuns: 150 },
    );
  });
});
