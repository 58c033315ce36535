/**
 * One security table over every source and the admin API (STYLE.md: "one shared suite runs every source
 * through missing / forged / stale / replayed requests"). Each attack asserts the status, the envelope
 * (SCIM's in RFC 7644 form), and that nothing started: no run, no KooDrive call, no change to holds or the
 * SCIM directory, and in KV at most a security record of that source.
 *
 * Not every attack applies to every source: Okta Event Hooks, SCIM and the admin API carry a shared secret
 * or bearer token and no timestamp (webhook-sources.md), so they have no "stale" row; a replayed admin call
 * is simply a call (bearer tokens are not replay-protected by design). Replays of the signed sources are
 * answered as duplicates of what the original started.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { type Snapshot, snapshot } from "./helpers/expect";
import { signSlack, signTeams } from "./helpers/signers";
import { DEMO, sim } from "./helpers/sim";
import { ADMIN_TOKEN, call, clearHolds, signHr, uniqueId, waitForRun } from "./helpers/worker";

const HR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const HR_FOREIGN = "whsec_cm90YXRlZC1vdXQtc2VjcmV0LW5vLWxvbmdlci11c2Vk";
const OKTA_SECRET = "okta-test-secret-0123456789";
const SCIM_TOKEN = "scim-test-token-0123456789abcdef";
const SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const TEAMS_TOKEN = "dGVhbXMtdGVzdC1zZWN1cml0eS10b2tlbi0wMTIzNDU2Nzg5";
const TEAMS_OPERATOR = "6f1c7a2e-0000-4000-8000-0000000000aa";
const SECRETS = /whsec_|test-admin-token|okta-test-secret|scim-test-token|8f742231b10e8888|dGVhbXMtdGVzdC1z/;

const now = () => Math.floor(Date.now() / 1000);

// --- How each source's legitimate sender builds a request (then broken one way per row) ---

function hrDelivery(opts: { secret?: string; ts?: number; sign?: boolean; dryRun?: boolean } = {}) {
  const id = uniqueId("sec");
  const ts = opts.ts ?? now();
  const body = JSON.stringify({
    type: "employee.offboarded",
    timestamp: new Date().toISOString(),
    data: { employee: { id: `E-${id}`, koodriveUserId: DEMO.leaver } },
    options: { dryRun: opts.dryRun ?? false },
  });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(ts),
  };
  if (opts.sign !== false) headers["webhook-signature"] = signHr(opts.secret ?? HR_SECRET, id, ts, body);
  return () => call("/webhooks/hr", { method: "POST", headers, body });
}

function oktaDelivery(
  secret: string | null,
  user = { id: "00u1danaleaver", login: "dana.leaver@example.com" },
) {
  const body = JSON.stringify({
    eventType: "com.okta.event_hook",
    eventId: uniqueId("okta-delivery"),
    data: {
      events: [
        {
          uuid: uniqueId("okta-evt"),
          published: new Date().toISOString(),
          eventType: "user.lifecycle.deactivate",
          target: [{ id: user.id, type: "User", alternateId: user.login }],
        },
      ],
    },
  });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (secret !== null) headers.authorization = secret;
  return () => call("/webhooks/okta", { method: "POST", headers, body });
}

function scimRequest(token: string | null, method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { "content-type": "application/scim+json" };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return () =>
    call(`/scim/v2${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
}

const newScimUser = (userName = `${uniqueId("sec")}@example.com`) => ({
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
  userName,
  active: true,
});

async function slackCommand(text: string, opts: { secret?: string; ts?: number; sign?: boolean } = {}) {
  const ts = opts.ts ?? now();
  const body = new URLSearchParams({
    team_id: "T1DC2JH3J",
    user_id: "U2CERLKJA",
    user_name: "roadrunner",
    command: "/koodrive",
    text,
    response_url: "https://hooks.slack.com/commands/T1DC2JH3J/1/security",
    trigger_id: uniqueId("trigger"),
  }).toString();
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (opts.sign !== false) {
    headers["x-slack-request-timestamp"] = String(ts);
    headers["x-slack-signature"] = await signSlack(opts.secret ?? SLACK_SECRET, ts, body);
  }
  return () => call("/chatops/slack", { method: "POST", headers, body });
}

async function teamsActivity(text: string, opts: { token?: string; sentAt?: number; sign?: boolean } = {}) {
  const body = JSON.stringify({
    type: "message",
    id: uniqueId("activity"),
    timestamp: new Date(opts.sentAt ?? Date.now()).toISOString(),
    text: `<at>KooDrive</at> ${text}`,
    from: { id: "29:1abc", aadObjectId: TEAMS_OPERATOR, name: "Olu Operator" },
    conversation: { id: "19:security@thread.skype" },
  });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (opts.sign !== false) headers.authorization = await signTeams(opts.token ?? TEAMS_TOKEN, body);
  return () => call("/chatops/teams", { method: "POST", headers, body });
}

function adminHolds(token: string | null) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const body = JSON.stringify({ holds: [{ type: "user", id: DEMO.leaver, reason: "attacker's hold" }] });
  return () => call("/holds", { method: "PUT", headers, body });
}

// --- What "nothing started" means ---

/** Nothing but audit records of the allowed types was added; no run, no KooDrive call, no other change. */
async function expectNothingStarted(before: Snapshot, source: string, allowedTypes: string[]) {
  const after = await snapshot();
  expect(after.simCalls).toBe(before.simCalls);
  expect(after.holds).toBe(before.holds);
  expect(after.scimUsers).toBe(before.scimUsers);
  const added = [...after.keys].filter((k) => !before.keys.has(k));
  for (const key of added) {
    expect(key).toMatch(/^audit(-subject|-run)?:/);
    const record = await env.AUDIT.get<{ type: string; source?: string }>(key, "json");
    expect(allowedTypes).toContain(record?.type);
    expect(record?.source).toBe(source);
  }
  expect(added.filter((k) => k.startsWith("active-run:"))).toHaveLength(0);
}

async function expectUnauthorized(res: Response, scim: boolean) {
  expect(res.status).toBe(401);
  const text = await res.text();
  expect(text).not.toMatch(SECRETS);
  const body = JSON.parse(text) as {
    error: { code: string; message: string; requestId: string };
    schemas?: string[];
    status?: string;
  };
  expect(body.error).toMatchObject({
    code: "unauthorized",
    message: expect.any(String),
    requestId: expect.any(String),
  });
  if (scim) {
    expect(res.headers.get("content-type")).toContain("application/scim+json");
    expect(body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "401" });
  }
}

// --- The table ---

type Attack = "missing" | "forged" | "stale";
interface Row {
  source: string;
  attack: Attack;
  what: string;
  build: () => Promise<() => Promise<Response>> | (() => Promise<Response>);
  scim?: boolean;
}

const TABLE: Row[] = [
  { source: "hr", attack: "missing", what: "no webhook-signature", build: () => hrDelivery({ sign: false }) },
  {
    source: "hr",
    attack: "forged",
    what: "signed with a foreign secret",
    build: () => hrDelivery({ secret: HR_FOREIGN }),
  },
  { source: "hr", attack: "stale", what: "signed 301 s ago", build: () => hrDelivery({ ts: now() - 301 }) },
  { source: "okta", attack: "missing", what: "no Authorization header", build: () => oktaDelivery(null) },
  {
    source: "okta",
    attack: "forged",
    what: "a guessed secret",
    build: () => oktaDelivery("okta-guess-0123456789"),
  },
  {
    source: "scim",
    attack: "missing",
    what: "POST /Users without a token",
    build: () => scimRequest(null, "POST", "/Users", newScimUser()),
    scim: true,
  },
  {
    source: "scim",
    attack: "forged",
    what: "POST /Users with a guessed token",
    build: () => scimRequest("scim-guess-0123456789abcdef", "POST", "/Users", newScimUser()),
    scim: true,
  },
  {
    source: "slack",
    attack: "missing",
    what: "an unsigned offboard",
    build: () => slackCommand(`offboard ${DEMO.leaver}`, { sign: false }),
  },
  {
    source: "slack",
    attack: "forged",
    what: "an offboard signed with a guessed secret",
    build: () => slackCommand(`offboard ${DEMO.leaver}`, { secret: "not-the-signing-secret-000000000" }),
  },
  {
    source: "slack",
    attack: "stale",
    what: "an offboard signed 301 s ago",
    build: () => slackCommand(`offboard ${DEMO.leaver}`, { ts: now() - 301 }),
  },
  {
    source: "teams",
    attack: "missing",
    what: "an unsigned offboard",
    build: () => teamsActivity(`offboard ${DEMO.leaver}`, { sign: false }),
  },
  {
    source: "teams",
    attack: "forged",
    what: "an offboard signed with another webhook's token",
    build: () => teamsActivity(`offboard ${DEMO.leaver}`, { token: btoa("another-outgoing-webhook") }),
  },
  {
    source: "teams",
    attack: "stale",
    what: "an offboard sent 301 s ago",
    build: () => teamsActivity(`offboard ${DEMO.leaver}`, { sentAt: Date.now() - 301_000 }),
  },
  { source: "admin", attack: "missing", what: "PUT /holds without a token", build: () => adminHolds(null) },
  {
    source: "admin",
    attack: "forged",
    what: "PUT /holds with a guessed token",
    build: () => adminHolds("guessed-admin-token-000"),
  },
  {
    source: "admin",
    attack: "forged",
    what: "PUT /holds with a guessed API token (kdo_...)",
    build: () => adminHolds(`kdo_${"x".repeat(43)}`),
  },
];

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("every source and the admin API refuse what is not authentic, and start nothing", () => {
  for (const row of TABLE) {
    it(`${row.source}: ${row.attack} (${row.what}) -> 401, nothing started`, async () => {
      const send = await row.build();
      const before = await snapshot();
      await expectUnauthorized(await send(), row.scim ?? false);
      await expectNothingStarted(before, row.source, ["request.rejected"]);
    });
  }

  it("covers every source and the admin API, each through missing and forged (and stale where signed)", () => {
    const seen = new Set(TABLE.map((r) => `${r.source}:${r.attack}`));
    for (const source of ["hr", "okta", "scim", "slack", "teams", "admin"]) {
      expect(seen).toContain(`${source}:missing`);
      expect(seen).toContain(`${source}:forged`);
    }
    for (const source of ["hr", "slack", "teams"]) expect(seen).toContain(`${source}:stale`);
  });
});

describe("a replayed authentic request is a duplicate of what the original started", () => {
  /** Sends `send` once (it may start a run), waits for that run, then replays it and checks the replay. */
  async function replay(
    source: string,
    send: () => Promise<Response>,
    runOf: (res: Response) => Promise<string>,
    expectReplay: (res: Response, runId: string) => Promise<void>,
  ) {
    const first = await send();
    const runId = await runOf(first);
    if (runId) await waitForRun(runId);
    const before = await snapshot();
    await expectReplay(await send(), runId);
    await expectNothingStarted(before, source, ["request.duplicate"]);
  }

  it("hr: the same delivery again -> 202 duplicate, same run", async () => {
    await replay(
      "hr",
      hrDelivery({ dryRun: true }),
      async (res) => ((await res.json()) as { runId: string }).runId,
      async (res, runId) => {
        expect(res.status).toBe(202);
        expect(await res.json()).toEqual({ runId, status: "accepted", duplicate: true });
      },
    );
  });

  it("okta: the same delivery again -> 200, its event a duplicate of the same run", async () => {
    await replay(
      "okta",
      oktaDelivery(OKTA_SECRET, { id: "00u1nobody", login: `${uniqueId("nobody")}@example.com` }),
      async (res) => ((await res.json()) as { runs: Array<{ runId: string }> }).runs[0]?.runId ?? "",
      async (res, runId) => {
        expect(res.status).toBe(200);
        expect(((await res.json()) as { runs: unknown[] }).runs).toEqual([
          expect.objectContaining({ runId, duplicate: true }),
        ]);
      },
    );
  });

  it("scim: the same deactivation again -> 200 naming the same run", async () => {
    const created = await scimRequest(SCIM_TOKEN, "POST", "/Users", newScimUser())();
    const { id } = (await created.json()) as { id: string };
    await replay(
      "scim",
      scimRequest(SCIM_TOKEN, "PATCH", `/Users/${id}`, {
        Operations: [{ op: "replace", value: { active: false } }],
      }),
      async (res) => res.headers.get("x-offboard-run-id") ?? "",
      async (res, runId) => {
        expect(res.status).toBe(200);
        expect(res.headers.get("x-offboard-run-id")).toBe(runId);
      },
    );
  });

  it("slack: the same signed command again (same trigger_id) -> already handled, nothing run", async () => {
    await replay(
      "slack",
      await slackCommand(`offboard ${uniqueId("nobody")}@example.com dry-run`),
      async (res) => /`(slack-[0-9a-f]{32})`/.exec(((await res.json()) as { text: string }).text)?.[1] ?? "",
      async (res) => {
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({
          response_type: "ephemeral",
          text: expect.stringMatching(/already handled/),
        });
      },
    );
  });

  it("teams: the same activity again -> already handled, nothing run", async () => {
    await replay(
      "teams",
      await teamsActivity(`offboard ${uniqueId("nobody")}@example.com dry-run`),
      async (res) => /`(teams-[0-9a-f]{32})`/.exec(((await res.json()) as { text: string }).text)?.[1] ?? "",
      async (res) => {
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ type: "message", text: expect.stringMatching(/already handled/) });
      },
    );
  });

  it("admin: a valid bearer token is valid again (not replay-protected, by design)", async () => {
    const res = await call("/holds", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
  });
});
