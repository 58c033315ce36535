import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { snapshot } from "./helpers/expect";
import { signTeams } from "./helpers/signers";
import { sim } from "./helpers/sim";
import { call, HR_SECRET, HR_SECRET_2, signHr } from "./helpers/worker";

/** Deterministic: the same seed explores the same inputs on every run. */
const FC = { seed: 20261125, numRuns: 120 };

const PATHS = [
  "/webhooks/hr",
  "/webhooks/okta",
  "/scim/v2/Users",
  "/chatops/slack",
  "/chatops/teams",
  "/scim/v2/Users/00000000-0000-0000-0000-000000000000",
  "/healthz",
  "/runs/hr-00000000000000000000000000000000",
  "/runs/hr-00000000000000000000000000000000/export?format=csv",
  "/runs/hr-00000000000000000000000000000000/retry",
  "/audit?limit=5",
  "/identities",
  "/identities/someone@example.com",
  "/holds",
];

const method = fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS");
const path = fc.oneof(
  fc.constantFrom(...PATHS),
  fc.webPath().map((p) => p || "/"),
  fc
    .constantFrom(...PATHS)
    .chain((p) => fc.webQueryParameters().map((q) => `${p}${p.includes("?") ? "&" : "?"}${q}`)),
);
const contentType = fc.option(
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-16",
    "text/csv",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/scim+json",
  ),
);
const headerValue = fc.string({ maxLength: 120 }).map((s) => s.replace(/[\r\n\0]/g, ""));
const signature = fc.oneof(
  headerValue,
  fc.base64String({ maxLength: 60 }).map((b) => `v1,${b}`),
  fc
    .array(fc.base64String({ minLength: 44, maxLength: 44 }), { maxLength: 3 })
    .map((a) => a.map((b) => `v1,${b}`).join(" ")),
);
const eventLike = fc.record(
  {
    type: fc.oneof(fc.constant("employee.offboarded"), fc.string()),
    timestamp: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fc.string(),
    ),
    data: fc.record(
      {
        employee: fc.record(
          { id: fc.oneof(fc.string(), fc.integer()), koodriveUserId: fc.string() },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: [] },
    ),
    options: fc.anything(),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 500 }),
  fc.json({ maxDepth: 3 }),
  eventLike.map((e) => JSON.stringify(e)),
  fc.uint8Array({ maxLength: 2048 }),
  fc.integer({ min: 0, max: 300 * 1024 }).map((n) => "x".repeat(n)),
);
const headers = fc.record(
  {
    "content-type": contentType,
    "webhook-id": headerValue,
    "webhook-timestamp": fc.oneof(headerValue, fc.integer({ min: 0, max: 4_000_000_000 }).map(String)),
    "webhook-signature": signature,
    authorization: fc.oneof(
      headerValue,
      headerValue.map((t) => `Bearer ${t}`),
    ),
    "content-length": fc.nat({ max: 10_000_000 }).map(String),
  },
  { requiredKeys: [] },
);

/** What every answer must satisfy, whatever was sent: no 5xx, no stack trace, our envelope on errors. */
async function expectWellBehaved(res: Response, methodName: string): Promise<void> {
  expect(res.status).toBeLessThan(500);
  const text = methodName === "HEAD" ? "" : await res.text();
  expect(text).not.toMatch(
    /\bat .+:\d+:\d+|Error: |whsec_|test-admin-token|okta-test-secret|scim-test-token|8f742231b10e8888/,
  );
  if (res.status >= 400 && methodName !== "HEAD") {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string; requestId?: string } };
    expect(parsed.error).toMatchObject({
      code: expect.any(String),
      message: expect.any(String),
      requestId: expect.any(String),
    });
  }
}

function buildInit(m: string, h: Record<string, string | null>, b: unknown): RequestInit {
  const hdrs = new Headers();
  for (const [k, v] of Object.entries(h)) {
    if (v === null || v === undefined || k === "content-length") continue;
    try {
      hdrs.set(k, v);
    } catch {
      // a value Headers itself refuses never reaches a server either
    }
  }
  const init: RequestInit = { method: m, headers: hdrs };
  if (b !== undefined && m !== "GET" && m !== "HEAD") init.body = b as BodyInit;
  return init;
}

beforeAll(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
});

describe("every public endpoint, random input without valid credentials", () => {
  it("never answers 5xx or a stack trace, and changes no state but security records", async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(method, path, headers, body, async (m, p, h, b) => {
        const res = await call(p, buildInit(m, h, b));
        await expectWellBehaved(res, m);
      }),
      FC,
    );
    const after = await snapshot();
    expect(after.simCalls).toBe(before.simCalls);
    expect(after.holds).toBe(before.holds);
    expect(after.scimUsers).toBe(before.scimUsers);
    const added = [...after.keys].filter((k) => !before.keys.has(k));
    for (const key of added) {
      expect(key.startsWith("audit")).toBe(true);
      const record = await env.AUDIT.get<{ type: string }>(key, "json");
      expect(record?.type).toBe("request.rejected");
    }
    const runs = await env.AUDIT.list({ prefix: "audit-run:" });
    expect(runs.keys.filter((k) => !before.keys.has(k.name))).toHaveLength(0);
  });
});

describe("POST /webhooks/hr with a valid signature over random bytes", () => {
  it("answers 2xx or a clear 4xx, never 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(body, contentType, async (b, ct) => {
        // Signed with the official library, which signs text: random bytes go as their UTF-8 reading.
        const text =
          b === undefined ? "" : typeof b === "string" ? b : new TextDecoder().decode(b as Uint8Array);
        const bytes = new TextEncoder().encode(text);
        const id = `prop_${crypto.randomUUID()}`;
        const ts = Math.floor(Date.now() / 1000);
        const sig = signHr(HR_SECRET, id, ts, text);
        const res = await call("/webhooks/hr", {
          method: "POST",
          headers: {
            "webhook-id": id,
            "webhook-timestamp": String(ts),
            "webhook-signature": sig,
            ...(ct ? { "content-type": ct } : {}),
          },
          body: bytes,
        });
        await expectWellBehaved(res, "POST");
        expect([200, 202, 400, 413, 422]).toContain(res.status);
      }),
      { ...FC, numRuns: 80 },
    );
  });
});

describe("POST /webhooks/okta with the valid secret over random bytes", () => {
  it("answers 200 or a clear 4xx, never 5xx, and starts no run", async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(body, contentType, async (b, ct) => {
        const res = await call("/webhooks/okta", {
          method: "POST",
          headers: { authorization: "okta-test-secret-0123456789", ...(ct ? { "content-type": ct } : {}) },
          ...(b === undefined ? {} : { body: b as BodyInit }),
        });
        await expectWellBehaved(res, "POST");
        expect([200, 400, 413, 422]).toContain(res.status);
      }),
      { ...FC, numRuns: 80 },
    );
    const runs = await env.AUDIT.list({ prefix: "audit-run:" });
    expect(runs.keys.filter((k) => !before.keys.has(k.name))).toHaveLength(0);
  });
});

describe("/scim/v2 with the valid token over random bodies", () => {
  it("answers 2xx or a clear 4xx, never 5xx", async () => {
    const auth = { authorization: "Bearer scim-test-token-0123456789abcdef" };
    const created = await call("/scim/v2/Users", {
      method: "POST",
      headers: { ...auth, "content-type": "application/scim+json" },
      body: JSON.stringify({ userName: `prop-${crypto.randomUUID()}@example.com`, active: true }),
    });
    const { id } = (await created.json()) as { id: string };
    const target = fc.constantFrom(
      "POST /scim/v2/Users",
      `PUT /scim/v2/Users/${id}`,
      `PATCH /scim/v2/Users/${id}`,
    );
    const patchLike = fc
      .array(
        fc.record({
          op: fc.constantFrom("add", "Replace", "remove", "move"),
          path: fc.option(
            fc.constantFrom(
              "active",
              "title",
              "name.givenName",
              'emails[type eq "work"].value',
              "urn:x:y:User:dept",
              "id",
              "a[b",
            ),
            { nil: undefined },
          ),
          value: fc.jsonValue({ maxDepth: 3 }),
        }),
        { maxLength: 4 },
      )
      .map((Operations) => JSON.stringify({ Operations }));
    await fc.assert(
      fc.asyncProperty(target, fc.oneof(body, patchLike), async (t, b) => {
        const [m, p] = t.split(" ") as [string, string];
        const res = await call(p, {
          method: m,
          headers: { ...auth, "content-type": "application/scim+json" },
          ...(b === undefined ? {} : { body: b as BodyInit }),
        });
        await expectWellBehaved(res, m);
        expect(res.status).toBeLessThan(500);
      }),
      { ...FC, numRuns: 100 },
    );
  });
});

describe("POST /webhooks/hr with several candidates in webhook-signature", () => {
  const FORGED = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
  const filler = fc.oneof(
    { arbitrary: fc.constant(FORGED), weight: 3 },
    { arbitrary: fc.base64String({ minLength: 44, maxLength: 44 }).map((b) => `v1,${b}`), weight: 3 },
    { arbitrary: fc.base64String({ maxLength: 60 }).map((b) => `v1,${b}`), weight: 1 },
    { arbitrary: fc.constantFrom("v1,", "v1a,abc", "v2,xyz", "garbage"), weight: 1 },
  );
  /** Short headers, and long ones around the cap (so a valid signature lands on both sides of it). */
  const fills = fc.oneof(
    fc.array(filler, { maxLength: 4 }),
    fc.array(filler, { minLength: 8, maxLength: 16 }),
  );
  const isV1 = (entry: string) => entry.startsWith("v1,");
  /** The documented cap on `v1,` candidates (MAX_SIGNATURE_CANDIDATES in src/sources/hr/verify.ts). */
  const CAP = 10;

  it(`accepts a valid signature among the first ${CAP} v1 entries, and only there`, async () => {
    const before = await snapshot();
    let beyondCap = 0;
    let withinCap = 0;
    await fc.assert(
      fc.asyncProperty(
        fills,
        fc.nat(),
        fc.option(fc.constantFrom(HR_SECRET, HR_SECRET_2), { nil: null }),
        async (fill, at, secret) => {
          const id = `prop_${crypto.randomUUID()}`;
          const ts = Math.floor(Date.now() / 1000);
          // An event type we only acknowledge: a valid delivery answers 200 and starts nothing.
          const raw = JSON.stringify({
            type: "employee.hired",
            timestamp: new Date().toISOString(),
            data: {},
          });
          const entries = [...fill];
          if (secret) entries.splice(at % (entries.length + 1), 0, signHr(secret, id, ts, raw));
          const validAt = secret ? entries.slice(0, at % (fill.length + 1)).filter(isV1).length : -1;
          const res = await call("/webhooks/hr", {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "webhook-id": id,
              "webhook-timestamp": String(ts),
              "webhook-signature": entries.join(" "),
            },
            body: raw,
          });
          await expectWellBehaved(res, "POST");
          const accepted = validAt >= 0 && validAt < CAP;
          if (validAt >= CAP) beyondCap++;
          if (accepted) withinCap++;
          expect(res.status).toBe(accepted ? 200 : 401);
        },
      ),
      { ...FC, numRuns: 100 },
    );
    // The seed does try valid signatures on both sides of the cap.
    expect(beyondCap).toBeGreaterThan(0);
    expect(withinCap).toBeGreaterThan(0);
    const after = await snapshot();
    expect(after.simCalls).toBe(before.simCalls);
    const runs = await env.AUDIT.list({ prefix: "active-run:" });
    expect(runs.keys.filter((k) => !before.keys.has(k.name))).toHaveLength(0);
  });
});

describe("POST /chatops/teams: replayed activities", () => {
  const TOKEN = "dGVhbXMtdGVzdC1zZWN1cml0eS10b2tlbi0wMTIzNDU2Nzg5";
  const OPERATOR = "6f1c7a2e-0000-4000-8000-0000000000aa";
  const command = fc.constantFrom(
    "help",
    "status teams-00000000000000000000000000000000",
    "nonsense",
    "offboard",
  );
  const who = fc.constantFrom(
    OPERATOR,
    "00000000-0000-4000-8000-0000000prop1",
    "00000000-0000-4000-8000-0000000prop2",
  );

  it("each activity is handled once; every replay is answered as handled and changes nothing", async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ text: command, user: who, copies: fc.integer({ min: 1, max: 4 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.integer({ min: -240, max: 240 }),
        fc.nat(),
        async (activities, skewSeconds, shuffle) => {
          const bodies = activities.map((a) =>
            JSON.stringify({
              type: "message",
              id: crypto.randomUUID(),
              timestamp: new Date(Date.now() + skewSeconds * 1000).toISOString(),
              text: `<at>KooDrive</at> ${a.text}`,
              from: { id: "29:prop", aadObjectId: a.user },
              conversation: { id: "19:prop@thread.skype" },
            }),
          );
          // Every copy of every activity, in an order the seed picks (a replay may race its original).
          const sends = activities.flatMap((a, i) => Array.from({ length: a.copies }, () => i));
          for (let k = sends.length - 1; k > 0; k--) {
            const j = (shuffle + k * 7919) % (k + 1);
            [sends[k], sends[j]] = [sends[j] as number, sends[k] as number];
          }
          const handled = new Set<number>();
          for (const i of sends) {
            const bodyText = bodies[i] as string;
            const res = await call("/chatops/teams", {
              method: "POST",
              headers: {
                "content-type": "application/json",
                authorization: await signTeams(TOKEN, bodyText),
              },
              body: bodyText,
            });
            expect(res.status).toBe(200);
            const { text } = (await res.json()) as { text: string };
            expect(/already handled/.test(text)).toBe(handled.has(i));
            handled.add(i);
          }
        },
      ),
      { ...FC, numRuns: 25 },
    );
    const after = await snapshot();
    expect(after.simCalls).toBe(before.simCalls);
    const runs = await env.AUDIT.list({ prefix: "active-run:" });
    expect(runs.keys.filter((k) => !before.keys.has(k.name))).toHaveLength(0);
  });
});
