/**
 * The Teams verifier: the HMAC computed here with crypto.subtle from Microsoft's description (base64 HMAC-
 * SHA256 of the body, keyed with the base64-decoded token), and the signed timestamp's window with an
 * injected clock.
 */
import { describe, expect, it } from "vitest";
import { parseActivityTime, TEAMS_TOLERANCE_MS, verifyTeamsActivity } from "../../src/sources/teams/verify";

const TOKEN = "dGVhbXMtdGVzdC1zZWN1cml0eS10b2tlbi0wMTIzNDU2Nzg5";
const OTHER = btoa("another-outgoing-webhook-token");
const SENT = Date.parse("2026-11-25T09:00:00.123Z");
const enc = new TextEncoder();

/** Written out here on purpose (no shared helper): the oracle is this test's own HMAC. */
async function hmacHeader(token: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    Uint8Array.from(atob(token), (ch) => ch.charCodeAt(0)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(body)));
  return `HMAC ${btoa(String.fromCharCode(...mac))}`;
}

const activity = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: "message",
    id: "1732525200123",
    timestamp: "2026-11-25T09:00:00.1234567Z",
    text: "<at>KooDrive</at> help",
    conversation: { id: "19:general@thread.skype" },
    from: { aadObjectId: "6f1c7a2e-0000-4000-8000-0000000000aa" },
    ...over,
  });

async function verify(
  body: string,
  opts: { auth?: string | null; tokens?: string[]; now?: number; signedBody?: string } = {},
) {
  const headers = new Headers();
  const auth = opts.auth === undefined ? await hmacHeader(TOKEN, opts.signedBody ?? body) : opts.auth;
  if (auth !== null) headers.set("authorization", auth);
  return verifyTeamsActivity(enc.encode(body), headers, opts.tokens ?? [TOKEN], opts.now ?? SENT);
}

describe("Teams outgoing webhook: the HMAC", () => {
  it("accepts the exact body signed with the base64-decoded token, and reports id, conversation and time", async () => {
    expect(await verify(activity())).toEqual({
      ok: true,
      activityId: "1732525200123",
      conversationId: "19:general@thread.skype",
      sentAt: SENT,
    });
    expect(await verify(activity(), { tokens: [OTHER, TOKEN] })).toMatchObject({ ok: true });
  });

  it("refuses a changed body, another token, a missing or malformed header", async () => {
    const body = activity();
    expect(await verify(`${body} `, { signedBody: body })).toEqual({ ok: false, reason: "bad_signature" });
    expect(await verify(body, { auth: await hmacHeader(OTHER, body) })).toEqual({
      ok: false,
      reason: "bad_signature",
    });
    expect(await verify(body, { auth: null })).toEqual({ ok: false, reason: "missing_signature" });
    expect(await verify(body, { auth: "HMAC not-base64!" })).toEqual({ ok: false, reason: "bad_signature" });
    expect(await verify(body, { auth: `HMAC ${btoa("short")}` })).toEqual({
      ok: false,
      reason: "bad_signature",
    });
    expect(await verify(body, { auth: (await hmacHeader(TOKEN, body)).replace("HMAC", "Bearer") })).toEqual({
      ok: false,
      reason: "bad_signature",
    });
  });
});

describe("Teams outgoing webhook: the signed timestamp and id (issue 8, finding 3)", () => {
  it(`accepts an activity up to ${TEAMS_TOLERANCE_MS / 60_000} minutes from now, either way`, async () => {
    expect(await verify(activity(), { now: SENT + TEAMS_TOLERANCE_MS })).toMatchObject({ ok: true });
    expect(await verify(activity(), { now: SENT - TEAMS_TOLERANCE_MS })).toMatchObject({ ok: true });
  });

  it("refuses one a millisecond outside the window, with its id for the record", async () => {
    for (const now of [SENT + TEAMS_TOLERANCE_MS + 1, SENT - TEAMS_TOLERANCE_MS - 1]) {
      expect(await verify(activity(), { now })).toEqual({
        ok: false,
        reason: "stale_timestamp",
        eventId: "1732525200123",
      });
    }
  });

  it("refuses a signed activity without a usable timestamp or id, or that is not JSON", async () => {
    const missing = { ok: false, reason: "missing_timestamp", eventId: "1732525200123" };
    expect(await verify(activity({ timestamp: undefined }))).toEqual(missing);
    expect(await verify(activity({ timestamp: "yesterday" }))).toEqual(missing);
    expect(await verify(activity({ timestamp: 1732525200 }))).toEqual(missing);
    expect(await verify(activity({ timestamp: "2026-11-25T09:00:00" }))).toEqual(missing); // no zone
    expect(await verify(activity({ id: undefined }))).toEqual({ ok: false, reason: "missing_activity_id" });
    expect(await verify(activity({ id: "" }))).toEqual({ ok: false, reason: "missing_activity_id" });
    expect(await verify(activity({ id: "x".repeat(201) }))).toEqual({
      ok: false,
      reason: "missing_activity_id",
    });
    expect(await verify("not json")).toEqual({ ok: false, reason: "unreadable_activity" });
    expect(await verify("[1,2]")).toEqual({ ok: false, reason: "unreadable_activity" });
  });

  it("reads Bot Framework timestamps: 7 fraction digits, offsets", () => {
    expect(parseActivityTime("2026-11-25T09:00:00.1234567Z")).toBe(SENT);
    expect(parseActivityTime("2026-11-25T10:00:00.123+01:00")).toBe(SENT);
    expect(parseActivityTime("2026-11-25T09:00:00Z")).toBe(SENT - 123);
    expect(parseActivityTime("2026-13-25T09:00:00Z")).toBeNull();
    expect(parseActivityTime(null)).toBeNull();
  });
});
