/**
 * Suggested matches (issue 9, "Identities"): people seen from HR, Okta or SCIM without an identity-map entry,
 * beside the KooDrive users of the same name; confirmed (written as a mapping) or dismissed by an admin.
 * Webhooks go through the Worker's real entry with their execution context awaited (`callWith`), so what a
 * delivery records after its answer (`waitUntil`) is done when the test looks.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { MAX_PEOPLE_SEEN, type PeopleSeen, SEEN_RETENTION_DAYS } from "../src/admin/suggestions/store";
import { MAX_KOODRIVE_CALLS_PER_REQUEST, MAX_SUGGESTIONS_PAGE } from "../src/admin/suggestions/suggest";
import { adminCall, auditOf, expectError } from "./helpers/admin";
import { callWith, postHr, signedHrHeaders } from "./helpers/env";
import { DEMO, type SeededUser, sim } from "./helpers/sim";
import { admin, call, clearHolds, offboardedEvent, uniqueId, waitForRun } from "./helpers/worker";

/** vitest.config.ts: OKTA_EVENT_HOOK_SECRETS' first entry and SCIM_BEARER_TOKENS' first entry. */
const OKTA_SECRET = "okta-test-secret-0123456789";
const SCIM_TOKEN = "scim-test-token-0123456789abcdef";

interface Candidate {
  koodriveUserId: string;
  name: string;
}
interface Suggestion {
  key: string;
  email?: string;
  hrId?: string;
  name: string;
  source: string;
  match: string;
  candidateCount: number;
  candidates: Candidate[];
  detail?: string;
}
interface Page {
  suggestions: Suggestion[];
  nextCursor?: string;
}

/** A unique e-mail domain per test: KV (the identity map) outlives a test within this file. */
let n = 0;
const domain = () => `s${Date.now().toString(36)}${n++}.example.com`;

/** The users every test searches among: two people named Jordan Lee, a substring namesake, one Riley. */
let seeded: Record<"jordan1" | "jordan2" | "jordanson" | "riley", SeededUser>;

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  const { users } = await sim.seed({
    users: [
      { name: "Jordan Lee" },
      { name: "Jordan Lee" },
      { name: "Jordan Leeson" },
      { name: "Riley Unique" },
    ],
  });
  const [jordan1, jordan2, jordanson, riley] = users as [SeededUser, SeededUser, SeededUser, SeededUser];
  seeded = { jordan1, jordan2, jordanson, riley };
  await clearHolds();
  // The store of people seen outlives a test: each test starts with nobody seen.
  await runInDurableObject(env.PEOPLE_SEEN.getByName("people"), async (_instance, state) => {
    state.storage.sql.exec("DELETE FROM people");
    state.storage.sql.exec("UPDATE meta SET v = 0 WHERE k = 'count'");
  });
});

/** Sends a signed HR event of any type through the real entry and waits for what it does after answering. */
async function hr(body: unknown): Promise<Response> {
  const raw = JSON.stringify(body);
  return postHr(raw);
}

const hrEvent = (type: string, employee: Record<string, unknown>) => ({
  type,
  timestamp: new Date().toISOString(),
  data: { employee },
});

function okta(events: Array<{ eventType: string; user: { id: string; login?: string; name?: string } }>) {
  const body = JSON.stringify({
    eventType: "com.okta.event_hook",
    eventId: uniqueId("okta-delivery"),
    eventTime: new Date().toISOString(),
    data: {
      events: events.map((e) => ({
        uuid: uniqueId("okta-evt"),
        published: new Date().toISOString(),
        eventType: e.eventType,
        target: [{ id: e.user.id, type: "User", alternateId: e.user.login, displayName: e.user.name }],
      })),
    },
  });
  return callWith({}, "/webhooks/okta", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: OKTA_SECRET },
    body,
  });
}

function scimCreate(user: Record<string, unknown>) {
  return callWith({}, "/scim/v2/Users", {
    method: "POST",
    headers: { "content-type": "application/scim+json", authorization: `Bearer ${SCIM_TOKEN}` },
    body: JSON.stringify({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], active: true, ...user }),
  });
}

async function suggestions(query = ""): Promise<Page> {
  const res = await admin(`/identities/suggestions${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Page;
}

async function mapping(key: string) {
  const res = await admin(`/identities/${encodeURIComponent(key)}`);
  return res.status === 200 ? ((await res.json()) as Record<string, string>) : null;
}

/** KooDrive calls the simulator logged after `since`. */
async function callsSince(since: number) {
  return (await sim.calls(since)).calls;
}

const lastCall = async () => (await sim.calls(0, 1)).last;

const ids = (s: Suggestion | undefined) => s?.candidates.map((c) => c.koodriveUserId).sort();

describe("people seen without a mapping", () => {
  it("HR: a verified event of any type records the person, with no KooDrive call; the unique namesake is suggested", async () => {
    const email = `riley@${domain()}`;
    const before = await lastCall();
    const res = await hr(hrEvent("employee.updated", { id: "E-RILEY", email, name: "Riley Unique" }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ignored: true });
    // The webhook's answer and what it did afterwards made no KooDrive call.
    expect(await callsSince(before)).toEqual([]);

    const { suggestions: list } = await suggestions();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      key: `email:${email}`,
      email,
      hrId: "E-RILEY",
      name: "Riley Unique",
      source: "hr",
      match: "suggested",
      candidateCount: 1,
      candidates: [{ koodriveUserId: seeded.riley.userId, name: "Riley Unique" }],
    });
  });

  it("Okta: a user named Jordan Lee is ambiguous and lists both Jordan Lees, not Jordan Leeson", async () => {
    const login = `jordan@${domain()}`;
    const before = await lastCall();
    const res = await okta([
      { eventType: "user.lifecycle.create", user: { id: "00ujordan", login, name: "Jordan Lee" } },
    ]);
    expect(res.status).toBe(200);
    expect(await callsSince(before)).toEqual([]);

    const { suggestions: list } = await suggestions();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      key: `email:${login}`,
      hrId: "00ujordan",
      source: "okta",
      match: "ambiguous",
      candidateCount: 2,
    });
    expect(ids(list[0])).toEqual([seeded.jordan1.userId, seeded.jordan2.userId].sort());
    // keyWord is a substring match (koodrive-api.md "Users"): the search saw Jordan Leeson and left him out.
    const search = (await callsSince(before)).filter((c) => c.endpoint === "userList");
    expect(search).toHaveLength(1);
    expect(new URLSearchParams(search[0]?.query).get("keyWord")).toBe("Jordan Lee");
  });

  it("SCIM: a provisioned user is recorded (no KooDrive call) and a name nobody in KooDrive has shows 0 candidates", async () => {
    const userName = `casey@${domain()}`;
    const before = await lastCall();
    const res = await scimCreate({
      userName,
      externalId: "ext-casey",
      name: { formatted: "Casey Nobody" },
      emails: [{ value: userName, primary: true }],
    });
    expect(res.status).toBe(201);
    expect(await callsSince(before)).toEqual([]);
    const { suggestions: list } = await suggestions();
    expect(list).toEqual([
      expect.objectContaining({
        key: `email:${userName}`,
        hrId: "ext-casey",
        source: "scim",
        match: "none",
        candidateCount: 0,
        candidates: [],
      }),
    ]);
  });

  it("a person with an identity-map entry is not recorded, and one mapped later leaves the suggestions", async () => {
    const d = domain();
    const put = await admin("/identities", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ identities: [{ email: `mapped@${d}`, koodriveUserId: seeded.riley.userId }] }),
    });
    expect(put.status).toBe(200);
    expect(
      (await hr(hrEvent("employee.updated", { id: "E-M", email: `mapped@${d}`, name: "Riley Unique" })))
        .status,
    ).toBe(200);
    // Mapped by HR id only: not suggested either.
    await admin("/identities", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ identities: [{ hrId: "E-BYID", koodriveUserId: seeded.jordan1.userId }] }),
    });
    expect(
      (await hr(hrEvent("employee.updated", { id: "E-BYID", email: `other@${d}`, name: "Jordan Lee" })))
        .status,
    ).toBe(200);
    expect(
      (await hr(hrEvent("employee.updated", { id: "E-LATER", email: `later@${d}`, name: "Riley Unique" })))
        .status,
    ).toBe(200);
    const stored = await runInDurableObject(env.PEOPLE_SEEN.getByName("people"), async (_i, state) =>
      state.storage.sql
        .exec<{ key: string }>("SELECT key FROM people ORDER BY key")
        .toArray()
        .map((r) => r.key),
    );
    expect(stored).toEqual([`email:later@${d}`]);
    expect((await suggestions()).suggestions.map((s) => s.key)).toEqual([`email:later@${d}`]);

    await admin("/identities", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ identities: [{ email: `later@${d}`, koodriveUserId: seeded.riley.userId }] }),
    });
    expect((await suggestions()).suggestions).toEqual([]);
  });

  it("HR: a leaver without a mapping ends unresolved and is suggested, so an admin can map them and retry", async () => {
    const email = `riley.leaves@${domain()}`;
    const raw = JSON.stringify(offboardedEvent({ id: "E-RL", email, name: "Riley Unique" }));
    const res = await postHr(raw);
    expect(res.status).toBe(202);
    const run = await waitForRun(((await res.json()) as { runId: string }).runId);
    expect(run.status).toBe("unresolved");
    const { suggestions: list } = await suggestions();
    expect(list).toEqual([
      expect.objectContaining({ key: `email:${email}`, source: "hr", match: "suggested" }),
    ]);
    expect(ids(list[0])).toEqual([seeded.riley.userId]);
  });

  it("an HR event carrying the KooDrive id, or no name, records nobody", async () => {
    const d = domain();
    await hr(
      hrEvent("employee.updated", {
        id: "E-K",
        email: `k@${d}`,
        name: "Riley Unique",
        koodriveUserId: DEMO.seller,
      }),
    );
    await hr(hrEvent("employee.updated", { id: "E-N", email: `n@${d}` }));
    expect((await suggestions()).suggestions).toEqual([]);
  });
});

describe("POST /identities/suggestions/confirm", () => {
  it("writes the identity map with the verified actor and an audit record; a run for that e-mail then resolves by identity_map", async () => {
    const email = `jordan.one@${domain()}`;
    await okta([
      { eventType: "user.lifecycle.create", user: { id: "00uone", login: email, name: "Jordan Lee" } },
    ]);
    const { res, requestId } = await adminCall("/identities/suggestions/confirm", {
      method: "POST",
      body: { matches: [{ key: `email:${email}`, koodriveUserId: seeded.jordan2.userId }] },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      stored: 1,
      keys: 2,
      added: 2,
      confirmed: [{ key: `email:${email}` }],
    });
    expect(await mapping(email)).toMatchObject({
      koodriveUserId: seeded.jordan2.userId,
      email,
      hrId: "00uone",
      name: "Jordan Lee",
      updatedBy: "break-glass",
    });
    expect(await mapping("hr:00uone")).toMatchObject({ koodriveUserId: seeded.jordan2.userId });
    const [record] = await auditOf(requestId);
    expect(record).toMatchObject({
      type: "admin.identities",
      actor: "break-glass",
      verifiedBy: "break-glass",
      status: "confirmed",
      details: { added: 2, confirmed: 1 },
    });
    expect(String(record?.details?.changes)).toContain(`email:${email}`);
    // The confirmed person leaves the suggestions.
    expect((await suggestions()).suggestions).toEqual([]);

    // The same person leaves: resolved by the map, not by a guess on the name (RESOLVE_BY_NAME is off).
    const hrRes = await call("/webhooks/hr", {
      method: "POST",
      ...(() => {
        const raw = JSON.stringify(offboardedEvent({ id: "E-JORDAN-1", email, name: "Jordan Lee" }));
        return { headers: signedHrHeaders(uniqueId(), raw), body: raw };
      })(),
    });
    expect(hrRes.status).toBe(202);
    const run = await waitForRun(((await hrRes.json()) as { runId: string }).runId);
    expect(run).toMatchObject({ koodriveUserId: seeded.jordan2.userId, resolvedBy: "identity_map" });
  });

  it("refuses a KooDrive id that is not a candidate and writes nothing, even for the valid match beside it", async () => {
    const d = domain();
    await okta([
      { eventType: "user.lifecycle.create", user: { id: "00ua", login: `a@${d}`, name: "Jordan Lee" } },
      { eventType: "user.lifecycle.create", user: { id: "00ub", login: `b@${d}`, name: "Riley Unique" } },
    ]);
    const { res, requestId } = await adminCall("/identities/suggestions/confirm", {
      method: "POST",
      body: {
        matches: [
          { key: `email:b@${d}`, koodriveUserId: seeded.riley.userId },
          // Jordan Leeson contains the name but is not a Jordan Lee.
          { key: `email:a@${d}`, koodriveUserId: seeded.jordanson.userId },
        ],
      },
    });
    const error = await expectError(res, 409, "conflict");
    expect(error.details).toEqual([
      {
        path: "matches.1",
        message: expect.stringMatching(/named "Jordan Leeson", not "Jordan Lee": not a candidate/),
      },
    ]);
    expect(await mapping(`a@${d}`)).toBeNull();
    expect(await mapping(`b@${d}`)).toBeNull();
    expect(await mapping("hr:00ub")).toBeNull();
    expect((await suggestions()).suggestions.map((s) => s.key).sort()).toEqual([
      `email:a@${d}`,
      `email:b@${d}`,
    ]);
    expect(await auditOf(requestId)).toEqual([
      expect.objectContaining({ type: "admin.identities", actor: "break-glass", status: "refused" }),
    ]);
  });

  it("refuses a person who is not a current suggestion, and an id KooDrive does not have", async () => {
    const d = domain();
    await hr(hrEvent("employee.updated", { id: "E-X", email: `x@${d}`, name: "Riley Unique" }));
    const { res } = await adminCall("/identities/suggestions/confirm", {
      method: "POST",
      body: {
        matches: [
          { key: `nobody@${d}`, koodriveUserId: seeded.riley.userId },
          { key: `x@${d}`, koodriveUserId: "1505084218764599999" },
        ],
      },
    });
    const error = await expectError(res, 409, "conflict");
    expect(error.details).toEqual([
      { path: "matches.0", message: expect.stringMatching(/not a current suggestion/) },
      { path: "matches.1", message: expect.stringMatching(/KooDrive has no user 1505084218764599999/) },
    ]);
    expect(await mapping(`x@${d}`)).toBeNull();
  });

  it("answers 422 for a malformed body, and 401 without a credential", async () => {
    const bad = await adminCall("/identities/suggestions/confirm", {
      method: "POST",
      body: { matches: [{ key: "x@example.com", koodriveUserId: "12" }] },
    });
    await expectError(bad.res, 422, "invalid_body");
    const none = await call("/identities/suggestions", {});
    await expectError(none, 401, "unauthorized");
  });
});

describe("POST /identities/suggestions/dismiss", () => {
  it("hides the person (also when seen again), audited with the actor; an unknown key is refused", async () => {
    const d = domain();
    await hr(hrEvent("employee.updated", { id: "E-D", email: `d@${d}`, name: "Jordan Lee" }));
    const { res, requestId } = await adminCall("/identities/suggestions/dismiss", {
      method: "POST",
      body: { keys: [`d@${d}`] },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ dismissed: [`email:d@${d}`] });
    expect(await auditOf(requestId)).toEqual([
      expect.objectContaining({
        type: "admin.identities",
        actor: "break-glass",
        status: "dismissed",
        details: expect.objectContaining({ dismissed: 1 }),
      }),
    ]);
    expect((await suggestions()).suggestions).toEqual([]);
    await hr(hrEvent("employee.updated", { id: "E-D", email: `d@${d}`, name: "Jordan Lee" }));
    expect((await suggestions()).suggestions).toEqual([]);
    expect(await mapping(`d@${d}`)).toBeNull();

    const unknown = await adminCall("/identities/suggestions/dismiss", {
      method: "POST",
      body: { keys: [`nobody@${d}`] },
    });
    await expectError(unknown.res, 409, "conflict");
  });
});

describe("GET /identities/suggestions: paging and the KooDrive budget", () => {
  it("pages with a cursor, and one page never makes more than MAX_KOODRIVE_CALLS_PER_REQUEST calls", async () => {
    // "Al" is in 700 KooDrive names (substring): its search alone would need 8 pages of 100.
    await sim.seed({
      users: Array.from({ length: 700 }, (_, k) => ({ name: `Al Person ${k}` })),
    });
    const d = domain();
    const people = [
      { id: "00ual", login: `al@${d}`, name: "Al" },
      ...Array.from({ length: MAX_SUGGESTIONS_PAGE + 1 }, (_, k) => ({
        id: `00u${k}`,
        login: `p${k}@${d}`,
        name: `Person ${String(k).padStart(2, "0")}`,
      })),
    ];
    expect(
      (await okta(people.map((user) => ({ eventType: "user.account.update_profile", user })))).status,
    ).toBe(200);

    const before = await lastCall();
    const first = await suggestions();
    const calls = await callsSince(before);
    expect(calls.every((c) => c.endpoint === "userList")).toBe(true);
    expect(calls).toHaveLength(MAX_KOODRIVE_CALLS_PER_REQUEST);
    expect(first.suggestions).toHaveLength(MAX_SUGGESTIONS_PAGE);
    expect(first.suggestions[0]).toMatchObject({ name: "Al", match: "unknown" });
    expect(first.suggestions[0]?.detail).toMatch(/not all were searched/);
    expect(first.suggestions.slice(1).every((s) => s.match === "none")).toBe(true);
    expect(first.nextCursor).toEqual(expect.any(String));

    const second = await suggestions(`?cursor=${encodeURIComponent(first.nextCursor as string)}`);
    expect(second.suggestions.map((s) => s.name)).toEqual([
      `Person ${MAX_SUGGESTIONS_PAGE - 1}`,
      `Person ${MAX_SUGGESTIONS_PAGE}`,
    ]);
    expect(second.nextCursor).toBeUndefined();
    const all = [...first.suggestions, ...second.suggestions].map((s) => s.key);
    expect(new Set(all).size).toBe(people.length);

    await expectError(await admin("/identities/suggestions?cursor=not-a-cursor"), 400, "bad_request");
    await expectError(
      await admin(`/identities/suggestions?limit=${MAX_SUGGESTIONS_PAGE + 1}`),
      400,
      "bad_request",
    );
  });
});

describe("the store of people seen: retention and cap", () => {
  const stub = () => env.PEOPLE_SEEN.getByName("people");
  const keys = () =>
    runInDurableObject(stub(), async (_i, state) =>
      state.storage.sql
        .exec<{ key: string }>("SELECT key FROM people ORDER BY key")
        .toArray()
        .map((r) => r.key),
    );

  it(`forgets a person not seen for ${SEEN_RETENTION_DAYS} days, and keeps one seen again`, async () => {
    const now = Date.now();
    const old = now - (SEEN_RETENTION_DAYS + 1) * 86_400_000;
    const earlier = now - (SEEN_RETENTION_DAYS - 1) * 86_400_000;
    await runInDurableObject(stub(), async (instance: PeopleSeen) => {
      instance.record([{ key: "hr:old", hrId: "old", name: "Old Person" }], "hr", old);
      instance.record([{ key: "hr:again", hrId: "again", name: "Seen Again" }], "hr", earlier);
      instance.record([{ key: "hr:again", hrId: "again", name: "Seen Again" }], "okta", now - 1000);
      instance.record([{ key: "hr:new", hrId: "new", name: "New Person" }], "scim", now);
    });
    expect(await keys()).toEqual(["hr:again", "hr:new"]);
    const [again] = await runInDurableObject(stub(), async (instance: PeopleSeen) =>
      instance.get(["hr:again"]),
    );
    expect(again).toMatchObject({
      source: "okta",
      firstSeenAt: new Date(earlier).toISOString(),
      lastSeenAt: new Date(now - 1000).toISOString(),
    });
  });

  it(`keeps at most ${MAX_PEOPLE_SEEN} people: a new one evicts the longest unseen`, async () => {
    const now = Date.now();
    await runInDurableObject(stub(), async (_i, state) => {
      // A full store, written directly: person k last seen k ms after `now - 1 day`.
      state.storage.sql.exec(
        `WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < ? - 1)
         INSERT INTO people (key, hr_id, name, name_key, source, first_seen, last_seen)
         SELECT 'hr:p' || n, 'p' || n, 'P ' || n, 'p ' || n, 'hr', ? + n, ? + n FROM k`,
        MAX_PEOPLE_SEEN,
        now - 86_400_000,
        now - 86_400_000,
      );
      state.storage.sql.exec("UPDATE meta SET v = ? WHERE k = 'count'", MAX_PEOPLE_SEEN);
    });
    await runInDurableObject(stub(), async (instance: PeopleSeen) => {
      instance.record([{ key: "hr:newest", hrId: "newest", name: "Newest" }], "hr", now);
    });
    const state = await runInDurableObject(stub(), async (_i, st) => ({
      rows: st.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM people").one().n,
      count: st.storage.sql.exec<{ v: number }>("SELECT v FROM meta WHERE k = 'count'").one().v,
      oldest: st.storage.sql.exec("SELECT 1 FROM people WHERE key = 'hr:p0'").toArray().length,
      next: st.storage.sql.exec("SELECT 1 FROM people WHERE key = 'hr:p1'").toArray().length,
      newest: st.storage.sql.exec("SELECT 1 FROM people WHERE key = 'hr:newest'").toArray().length,
    }));
    expect(state).toEqual({ rows: MAX_PEOPLE_SEEN, count: MAX_PEOPLE_SEEN, oldest: 0, next: 1, newest: 1 });
  });
});
