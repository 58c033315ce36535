/** Slack's request signature against Slack's published example ("Verifying requests from Slack"). */
import { describe, expect, it } from "vitest";
import { SLACK_TOLERANCE_S, verifySlackRequest } from "../../src/sources/slack/verify";
import { signSlack } from "../helpers/signers";

/** Slack's published example, as in webhook-sources.md. */
const VECTOR = {
  secret: "8f742231b10e8888abcd99yyyzzz85a5",
  timestamp: "1531420618",
  body: "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
  signature: "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
};
const enc = new TextEncoder();

interface Input {
  timestamp?: string | null;
  signature?: string | null;
  body?: string;
  secrets?: string[];
  nowSeconds?: number;
}

function verify(over: Input = {}) {
  const headers = new Headers();
  const ts = over.timestamp === undefined ? VECTOR.timestamp : over.timestamp;
  const sig = over.signature === undefined ? VECTOR.signature : over.signature;
  if (ts !== null) headers.set("x-slack-request-timestamp", ts);
  if (sig !== null) headers.set("x-slack-signature", sig);
  return verifySlackRequest(
    enc.encode(over.body ?? VECTOR.body),
    headers,
    over.secrets ?? [VECTOR.secret],
    (over.nowSeconds ?? Number(VECTOR.timestamp)) * 1000,
  );
}

describe("Slack request signatures (known answer)", () => {
  it("accepts the published example; the tests' signer reproduces its signature", async () => {
    expect(await verify({})).toEqual({ ok: true });
    expect(await signSlack(VECTOR.secret, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
    expect(await verify({ secrets: ["another-secret-0123456789", VECTOR.secret] })).toEqual({ ok: true });
  });

  it("accepts it at the edges of the 300-second window", async () => {
    expect(await verify({ nowSeconds: Number(VECTOR.timestamp) + SLACK_TOLERANCE_S })).toEqual({ ok: true });
    expect(await verify({ nowSeconds: Number(VECTOR.timestamp) - SLACK_TOLERANCE_S })).toEqual({ ok: true });
  });

  it("rejects a changed body, a wrong secret, a stale or future timestamp and malformed headers", async () => {
    const bad = (r: unknown) => expect(r).toMatchObject({ ok: false });
    bad(await verify({ body: `${VECTOR.body}x` }));
    bad(await verify({ secrets: ["8f742231b10e8888abcd99yyyzzz85a6"] }));
    expect(await verify({ nowSeconds: Number(VECTOR.timestamp) + 301 })).toEqual({
      ok: false,
      reason: "stale_timestamp",
    });
    expect(await verify({ nowSeconds: Number(VECTOR.timestamp) - 301 })).toEqual({
      ok: false,
      reason: "stale_timestamp",
    });
    expect(await verify({ timestamp: "15314x0618" })).toEqual({ ok: false, reason: "invalid_timestamp" });
    expect(await verify({ signature: "v1=a2114d57" })).toEqual({ ok: false, reason: "bad_signature" });
    expect(await verify({ signature: null })).toEqual({ ok: false, reason: "missing_headers" });
    expect(await verify({ timestamp: null })).toEqual({ ok: false, reason: "missing_headers" });
  });

  it("breaks one field at a time: the timestamp is signed too", async () => {
    const ts = String(Number(VECTOR.timestamp) + 1);
    expect(await verify({ timestamp: ts })).toEqual({ ok: false, reason: "bad_signature" });
    expect(await verify({ signature: VECTOR.signature.replace("a2114d", "a2114e") })).toEqual({
      ok: false,
      reason: "bad_signature",
    });
  });
});
