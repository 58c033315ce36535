import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { activeRunKey } from "../src/audit/keys";
import { RUN_INDEX_NAME, type RunIndex } from "../src/offboarding/run-index";
import { adminCall, expectError } from "./helpers/admin";
import { sweep } from "./helpers/env";
import { signSlack, signTeams } from "./helpers/signers";
import { DEMO, sim } from "./helpers/sim";
import { admin, call, clearHolds, offboardedEvent, sendHr, uniqueId, waitForRun } from "./helpers/worker";

/** Secrets configured in vitest.config.ts (each source's own signing, as in its test file). */
const OKTA_SECRET = "okta-test-secret-0123456789";
const SCIM_TOKEN = "scim-test-token-0123456789abcdef";
const SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const TEAMS_TOKEN = "dGVhbXMtdGVzdC1zZWN1cml0eS10b2tlbi0wMTIzNDU2Nzg5";
const TEAMS_OPERATOR = "6f1c7a2e-0000-4000-8000-0000000000aa";

interface ListedRun {
  runId: string;
  source: string;
  eventId: string;
  status: string;
  dryRun: boolean;
  subject: { hrId: string; email?: string; name?: string; koodriveUserId?: string };
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  counts: { planned: number; cancelled: number; failed: number };
}
interface RunsPage {
  runs: ListedRun[];
  counts: Record<string, number>;
  nextCursor?: string;
}

async function list(query: string): Promise<RunsPage> {
  const res = await admin(`/runs?${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as RunsPage;
}

/** Every page of a query, following nextCursor. */
async function listAll(query: string, limit: number): Promise<{ runs: ListedRun[]; pages: number }> {
  const runs: ListedRun[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await list(
      `${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    expect(page.runs.length).toBeLessThanOrEqual(limit);
    runs.push(...page.runs);
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  return { runs, pages };
}

const newestFirst = (runs: ListedRun[]) =>
  [...runs].sort((a, b) =>
    a.createdAt === b.createdAt ? (a.runId < b.runId ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
  );

const index = () => env.RUN_INDEX.getByName(RUN_INDEX_NAME);

const DANA_EMAIL = "dana.leaver@example.com";

async function mapDana(email: string) {
  const res = await admin("/identities", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identities: [{ email, koodriveUserId: DEMO.leaver }] }),
  });
  expect(res.status).toBe(200);
}

/** One run from each source, all for Dana; returns their run ids by source. */
async function oneRunPerSource(hrId: string): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  // HR: a dry run (Standard Webhooks, signed with the official library).
  const hr = await sendHr(
    offboardedEvent({ id: hrId, email: DANA_EMAIL, name: "Dana Leaver" }, { options: { dryRun: true } }),
  );
  expect(hr.status).toBe(202);
  ids.hr = ((await hr.json()) as { runId: string }).runId;

  // Okta Event Hook (its shared-secret Authorization header).
  const okta = await call("/webhooks/okta", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: OKTA_SECRET },
    body: JSON.stringify({
      eventType: "com.okta.event_hook",
      eventTypeVersion: "1.0",
      eventId: uniqueId("okta-delivery"),
      eventTime: new Date().toISOString(),
      contentType: "application/json",
      data: {
        events: [
          {
            uuid: uniqueId("okta-evt"),
            published: new Date().toISOString(),
            eventType: "user.lifecycle.deactivate",
            displayMessage: "Deactivate Okta user",
            target: [
              { id: "00u1danaleaver", type: "User", alternateId: DANA_EMAIL, displayName: "Dana Leaver" },
            ],
          },
        ],
      },
    }),
  });
  expect(okta.status).toBe(200);
  ids.okta = ((await okta.json()) as { runs: Array<{ runId: string }> }).runs[0]?.runId ?? "";

  // SCIM: create, then deactivate (bearer token).
  const scimHeaders = { "content-type": "application/scim+json", authorization: `Bearer ${SCIM_TOKEN}` };
  const created = await call("/scim/v2/Users", {
    method: "POST",
    headers: scimHeaders,
    body: JSON.stringify({
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: DANA_EMAIL,
      externalId: uniqueId("ext"),
      name: { formatted: "Dana Leaver" },
      emails: [{ value: DANA_EMAIL, primary: true }],
      active: true,
    }),
  });
  expect([200, 201, 409]).toContain(created.status);
  let userId = created.status === 409 ? "" : ((await created.json()) as { id: string }).id;
  if (!userId) {
    const found = await call(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${DANA_EMAIL}"`)}`, {
      headers: scimHeaders,
    });
    userId = ((await found.json()) as { Resources: Array<{ id: string }> }).Resources[0]?.id ?? "";
  }
  const patched = await call(`/scim/v2/Users/${userId}`, {
    method: "PATCH",
    headers: scimHeaders,
    body: JSON.stringify({
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", value: { active: false } }],
    }),
  });
  expect(patched.status).toBe(200);
  ids.scim = patched.headers.get("x-offboard-run-id") ?? "";

  // Slack slash command (v0 HMAC), a dry run.
  const slackBody = new URLSearchParams({
    team_id: "T1DC2JH3J",
    user_id: "U2CERLKJA",
    user_name: "roadrunner",
    command: "/koodrive",
    text: `offboard ${DEMO.leaver} dry-run`,
    trigger_id: uniqueId("trigger"),
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  const slack = await call("/chatops/slack", {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": String(ts),
      "x-slack-signature": await signSlack(SLACK_SECRET, ts, slackBody),
    },
    body: slackBody,
  });
  expect(slack.status).toBe(200);
  ids.slack = /`(slack-[0-9a-f]{32})`/.exec(((await slack.json()) as { text: string }).text)?.[1] ?? "";

  // Teams outgoing webhook (HMAC of the body with the security token), a dry run.
  const teamsBody = JSON.stringify({
    type: "message",
    id: uniqueId("activity"),
    timestamp: new Date().toISOString(),
    text: `<at>KooDrive</at>&nbsp;offboard ${DEMO.leaver} dry-run`,
    from: { id: "29:1abc", aadObjectId: TEAMS_OPERATOR, name: "Olu Operator" },
    conversation: { id: "19:general@thread.skype" },
    channelData: { tenant: { id: "tenant-1" } },
  });
  const teams = await call("/chatops/teams", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: await signTeams(TEAMS_TOKEN, teamsBody) },
    body: teamsBody,
  });
  expect(teams.status).toBe(200);
  ids.teams = /`(teams-[0-9a-f]{32})`/.exec(((await teams.json()) as { text: string }).text)?.[1] ?? "";

  // The admin API (break-glass token): a dry run.
  const api = await admin("/offboardings", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ person: DEMO.leaver, dryRun: true, reason: "runs list test" }),
  });
  expect(api.status).toBe(202);
  ids.api = ((await api.json()) as { runId: string }).runId;
  for (const [source, id] of Object.entries(ids))
    expect(id, source).toMatch(new RegExp(`^${source}-[0-9a-f]{32}$`));
  return ids;
}

describe("GET /runs: the runs list", () => {
  let since = "";
  let ids: Record<string, string> = {};
  const hrId = uniqueId("E");

  beforeAll(async () => {
    await sim.reset();
    await sim.seed({ demo: true });
    await clearHolds();
    await mapDana(DANA_EMAIL);
    since = new Date(Date.now() - 1).toISOString();
    ids = await oneRunPerSource(hrId);
    for (const id of Object.values(ids)) await waitForRun(id);
  });

  it("lists a run from every source, newest first, with its final status and counts", async () => {
    const page = await list(`since=${since}`);
    const mine = page.runs.filter((r) => Object.values(ids).includes(r.runId));
    expect(mine.map((r) => r.source).sort()).toEqual(["api", "hr", "okta", "scim", "slack", "teams"]);
    expect(page.runs).toEqual(newestFirst(page.runs));
    for (const run of mine) {
      const view = (await (await admin(`/runs/${run.runId}`)).json()) as {
        status: string;
        eventId: string;
        finishedAt: string;
        counts: Record<string, number>;
      };
      const c = (k: string) => view.counts[k] ?? 0;
      expect(run.status).toBe(view.status);
      expect(run.eventId).toBe(view.eventId);
      expect(run.finishedAt).toBe(view.finishedAt);
      expect(run.counts.planned).toBe(c("total") - c("skipped_hold") - c("skipped_scope"));
      expect(run.counts.cancelled).toBe(c("cancelled") + c("already_gone"));
    }
    const dry = mine.filter((r) => r.dryRun);
    expect(dry.map((r) => r.source).sort()).toEqual(["api", "hr", "slack", "teams"]);
    expect(new Set(dry.map((r) => r.status))).toEqual(new Set(["dry_run"]));
    // A dry run cancels nothing; the real runs (Okta, SCIM) cancelled Dana's shares between them.
    expect(dry.every((r) => r.counts.cancelled === 0)).toBe(true);
    const real = mine.filter((r) => !r.dryRun);
    expect(real.reduce((n, r) => n + r.counts.cancelled, 0)).toBeGreaterThan(0);
  });

  it("filters by status and source (comma lists), and counts per status without the status filter", async () => {
    const bySource = await list(`since=${since}&source=okta,scim`);
    expect(bySource.runs.map((r) => r.runId).sort()).toEqual([ids.okta, ids.scim].sort());
    const dry = await list(`since=${since}&status=dry_run`);
    expect(dry.runs.map((r) => r.runId).sort()).toEqual([ids.api, ids.hr, ids.slack, ids.teams].sort());
    const all = await list(`since=${since}`);
    // The status filter does not change the counts; they tally the runs the other filters select.
    expect(dry.counts).toEqual(all.counts);
    expect(all.counts.dry_run).toBe(4);
    expect(Object.values(all.counts).reduce((a, b) => a + b, 0)).toBe(all.runs.length);
    const both = await list(`since=${since}&status=completed,dry_run&source=hr,okta`);
    expect(both.runs.map((r) => r.runId).sort()).toEqual([ids.hr, ids.okta].sort());
    expect(both.counts.dry_run).toBe(1);
  });

  it("filters by person: e-mail (any case), HR id, KooDrive id (as resolved) and exact name", async () => {
    const mine = (p: RunsPage) =>
      p.runs
        .map((r) => r.runId)
        .filter((id) => Object.values(ids).includes(id))
        .sort();
    expect(mine(await list(`since=${since}&person=${encodeURIComponent(hrId)}`))).toEqual([ids.hr]);
    expect(mine(await list(`since=${since}&person=DANA.Leaver@Example.com`))).toEqual(
      [ids.hr, ids.okta, ids.scim].sort(),
    );
    // Every run resolved Dana: the KooDrive id finds each, whatever the source named her by.
    expect(mine(await list(`since=${since}&person=${DEMO.leaver}`))).toEqual(Object.values(ids).sort());
    expect(mine(await list(`since=${since}&person=${encodeURIComponent("  dana   LEAVER ")}`))).toContain(
      ids.hr,
    );
    const nobody = await list(`since=${since}&person=nobody-${uniqueId()}`);
    expect(nobody.runs).toEqual([]);
    expect(Object.values(nobody.counts).every((n) => n === 0)).toBe(true);
  });

  it("filters by since/until and pages without duplicates or omissions", async () => {
    const all = (await list(`since=${since}&limit=200`)).runs;
    expect(all.length).toBeGreaterThanOrEqual(6);
    const paged = await listAll(`since=${since}`, 2);
    expect(paged.runs.map((r) => r.runId)).toEqual(all.map((r) => r.runId));
    expect(paged.pages).toBe(Math.ceil(all.length / 2));
    const pivot = all[2] as ListedRun;
    const until = (await list(`since=${since}&until=${pivot.createdAt}&limit=200`)).runs;
    expect(until.map((r) => r.runId)).toEqual(
      all.filter((r) => r.createdAt <= pivot.createdAt).map((r) => r.runId),
    );
    const from = (await list(`since=${pivot.createdAt}&limit=200`)).runs;
    expect(from.every((r) => r.createdAt >= pivot.createdAt)).toBe(true);
    expect(from.map((r) => r.runId)).toContain(pivot.runId);
  });

  it("answers 400 in our envelope for a bad cursor, an unknown status or source, and bad bounds", async () => {
    for (const q of [
      "cursor=not-a-cursor",
      `cursor=${btoa("12.hr-zz")}`,
      `cursor=${btoa(`x.${ids.hr}`)}`,
      "status=finished",
      "status=completed,bogus",
      "source=admin",
      "limit=0",
      "limit=201",
      "since=yesterday",
      "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
    ]) {
      const { res } = await adminCall(`/runs?${q}`);
      await expectError(res, 400, "bad_request");
    }
    expect((await call("/runs")).status).toBe(401);
  });
});

describe("a run is listed the moment it is accepted", () => {
  it("is listed right after the 202 (accepted or running) and shows its final status after it ends", async () => {
    await sim.reset();
    await sim.seed({ demo: true });
    await clearHolds();
    const hrId = uniqueId("E");
    const res = await sendHr(offboardedEvent({ id: hrId, koodriveUserId: DEMO.leaver }));
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    const first = await list(`person=${hrId}`);
    expect(first.runs.map((r) => r.runId)).toEqual([runId]);
    expect(["accepted", "running"]).toContain(first.runs[0]?.status);
    const done = await waitForRun(runId);
    expect(done.status).toBe("completed");
    // The ledger's last change reaches the index without anyone waiting for it: poll briefly.
    let last: ListedRun | undefined;
    for (let i = 0; i < 50 && last?.status !== "completed"; i++) {
      last = (await list(`person=${hrId}`)).runs[0];
      if (last?.status !== "completed") await new Promise((r) => setTimeout(r, 50));
    }
    expect(last).toMatchObject({ status: "completed", finishedAt: expect.any(String) });
    expect(last?.counts).toEqual({
      planned: done.counts.total ?? 0,
      cancelled: (done.counts.cancelled ?? 0) + (done.counts.already_gone ?? 0),
      failed: 0,
    });
    expect(last?.counts.cancelled).toBeGreaterThan(0);
  });
});

describe("the sweeper and POST /runs/reindex bring the index back in line with the ledgers", () => {
  it("the sweeper fixes a row whose status disagrees and fills in a watched run with no row", async () => {
    await sim.reset();
    await sim.seed({ demo: true });
    const hrId = uniqueId("E");
    const res = await sendHr(offboardedEvent({ id: hrId, koodriveUserId: DEMO.leaver }, {}));
    const { runId } = (await res.json()) as { runId: string };
    await waitForRun(runId);
    // A lost update: the row still says running (and was last checked long ago).
    await runInDurableObject(index(), (_i: RunIndex, state) => {
      state.storage.sql.exec(
        "UPDATE runs SET status = 'running', finished_at = NULL, checked_at = 0 WHERE run_id = ?",
        runId,
      );
    });
    expect((await list(`person=${hrId}`)).runs[0]?.status).toBe("running");

    // A watched run (sleeping until its leaver's last day) whose row was never written.
    const later = uniqueId("E");
    const sleeping = await sendHr({
      ...offboardedEvent({ id: later, koodriveUserId: DEMO.seller }),
      data: {
        employee: { id: later, koodriveUserId: DEMO.seller },
        effectiveAt: new Date(Date.now() + 86_400_000).toISOString(),
      },
    });
    const sleepingId = ((await sleeping.json()) as { runId: string }).runId;
    expect(await env.AUDIT.get(activeRunKey(sleepingId))).not.toBeNull();
    await runInDurableObject(index(), (_i: RunIndex, state) => {
      state.storage.sql.exec("DELETE FROM runs WHERE run_id = ?", sleepingId);
      state.storage.sql.exec("DELETE FROM run_people WHERE run_id = ?", sleepingId);
    });
    expect((await list(`person=${later}`)).runs).toEqual([]);

    await sweep();
    expect((await list(`person=${hrId}`)).runs[0]?.status).toBe("completed");
    expect((await list(`person=${later}`)).runs.map((r) => r.runId)).toEqual([sleepingId]);
    await env.AUDIT.delete(activeRunKey(sleepingId)); // it sleeps a day: later sweeps leave it alone
  });

  it("POST /runs/reindex (admin) fills rows of runs from before the index from the audit trail", async () => {
    await sim.reset();
    await sim.seed({ demo: true });
    const hrId = uniqueId("E");
    const res = await sendHr(offboardedEvent({ id: hrId, koodriveUserId: DEMO.leaver }));
    const { runId } = (await res.json()) as { runId: string };
    await waitForRun(runId);
    await new Promise((r) => setTimeout(r, 200)); // the ledger's last push, not awaited by the run
    const done = (await (await admin(`/runs/${runId}`)).json()) as { finishedAt: string };
    // As if the run predates the index: no row, not watched by the sweeper.
    await runInDurableObject(index(), (_i: RunIndex, state) => {
      state.storage.sql.exec("DELETE FROM runs WHERE run_id = ?", runId);
      state.storage.sql.exec("DELETE FROM run_people WHERE run_id = ?", runId);
    });
    await sweep();
    expect((await list(`person=${hrId}`)).runs).toEqual([]);

    let cursor: string | undefined;
    let calls = 0;
    do {
      const { res: r, requestId } = await adminCall(
        `/runs/reindex${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`,
        { method: "POST" },
      );
      expect(r.status).toBe(200);
      const report = (await r.json()) as { runs: number; indexed: number; nextCursor?: string };
      if (calls === 0) {
        const audit = (await (await admin("/audit?limit=20")).json()) as {
          records: Array<{ type: string; actor: string; verifiedBy?: string; requestId?: string }>;
        };
        expect(audit.records.find((a) => a.requestId === requestId)).toMatchObject({
          type: "admin.reindex",
          actor: "break-glass",
          verifiedBy: "break-glass",
        });
      }
      cursor = report.nextCursor;
      calls++;
    } while (cursor && calls < 200);
    expect(cursor).toBeUndefined();
    const row = (await list(`person=${hrId}`)).runs[0];
    expect(row).toMatchObject({
      runId,
      status: "completed",
      finishedAt: done.finishedAt ?? expect.any(String),
    });

    const { res: bad } = await adminCall("/runs/reindex?cursor=%%%", { method: "POST" });
    await expectError(bad, 400, "bad_request");
  });
});

/** Synthetic rows far in the past (2001), so they never mix with the runs the other tests start. */
const BULK = 100_000;
const BULK_START = Date.parse("2001-01-01T00:00:00Z");
const BULK_SOURCES = ["hr", "okta", "scim", "slack", "teams", "api", "console"];
const BULK_STATUSES = [
  "completed",
  "completed",
  "completed",
  "partial",
  "failed",
  "unresolved",
  "dry_run",
  "running",
];

describe("the index at 100,000 runs", () => {
  beforeAll(async () => {
    await runInDurableObject(index(), (_i: RunIndex, state) => {
      const sql = state.storage.sql;
      const before = sql
        .exec<{ n: number }>(
          "SELECT COUNT(*) AS n FROM runs WHERE created_at < ?",
          BULK_START + BULK * 60_000,
        )
        .one().n;
      if (before >= BULK) return;
      const sources = BULK_SOURCES.map((s) => `'${s}'`).join(",");
      const statuses = BULK_STATUSES.map((s) => `'${s}'`).join(",");
      // One statement: a recursive CTE makes the rows (run ids in the real format, one a minute).
      sql.exec(
        `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
         INSERT INTO runs (run_id, source, event_id, status, dry_run, hr_id, email, name, koodrive_user_id,
                           created_at, updated_at, finished_at, planned, cancelled, failed, rev)
         SELECT 'bulk-' || printf('%032x', i), json_extract(json_array(${sources}), '$[' || (i % 7) || ']'),
                'evt-' || i, json_extract(json_array(${statuses}), '$[' || (i % 8) || ']'), 0,
                'B' || (i % 5000), 'person' || (i % 5000) || '@example.com', NULL, NULL,
                ? + i * 60000, ? + i * 60000, NULL, 3, 3, 0, 1
         FROM n`,
        BULK,
        BULK_START,
        BULK_START,
      );
      sql.exec(
        `INSERT OR IGNORE INTO run_people (person, created_at, run_id)
         SELECT 'email:' || email, created_at, run_id FROM runs WHERE run_id LIKE 'bulk-%'
         UNION ALL SELECT 'hr:' || hr_id, created_at, run_id FROM runs WHERE run_id LIKE 'bulk-%'`,
      );
    });
  });

  const window = `since=2001-01-01T00:00:00Z&until=${new Date(BULK_START + (BULK - 1) * 60_000).toISOString()}`;

  it("counts all of them and pages a filtered slice completely, newest first", async () => {
    const first = await list(`${window}&limit=200`);
    expect(first.runs).toHaveLength(200);
    expect(Object.values(first.counts).reduce((a, b) => a + b, 0)).toBe(BULK);
    expect(first.counts.completed).toBe((BULK / 8) * 3);
    expect(first.runs[0]?.runId).toBe(`bulk-${(BULK - 1).toString(16).padStart(32, "0")}`);

    // source=okta and status=failed: i % 7 == 1 and i % 8 == 4, one run in 56.
    const { runs, pages } = await listAll(`${window}&source=okta&status=failed`, 200);
    const expected: string[] = [];
    for (let i = BULK - 1; i >= 0; i--)
      if (i % 7 === 1 && i % 8 === 4) expected.push(`bulk-${i.toString(16).padStart(32, "0")}`);
    expect(runs.map((r) => r.runId)).toEqual(expected);
    expect(pages).toBe(Math.ceil(expected.length / 200));

    // A person: every 5,000th run has person0's e-mail (20 runs), found by e-mail and by HR id.
    const person = await listAll(`person=person0@example.com`, 7);
    expect(person.runs).toHaveLength(BULK / 5000);
    expect(new Set(person.runs.map((r) => r.runId)).size).toBe(BULK / 5000);
    expect((await list("person=B0&limit=200")).runs).toHaveLength(BULK / 5000);
  });

  it("reads an index for every query of the list (EXPLAIN QUERY PLAN: no table scan, no sort)", async () => {
    const after = {
      createdAt: BULK_START + 50_000 * 60_000,
      runId: `bulk-${(50_000).toString(16).padStart(32, "0")}`,
    };
    const filters = [
      { limit: 50 },
      { limit: 50, after },
      { limit: 50, since: BULK_START, until: BULK_START + 1e9, after },
      { limit: 50, statuses: ["failed", "partial"] as const, after },
      { limit: 50, sources: ["okta", "hr"] as const, since: BULK_START },
      { limit: 50, statuses: ["completed"] as const, sources: ["scim", "api"] as const, after },
      {
        limit: 50,
        personKeys: ["email:person0@example.com", "hr:person0@example.com"],
        statuses: ["completed"] as const,
        after,
      },
    ];
    for (const filter of filters) {
      const plans = await runInDurableObject(index(), (instance: RunIndex) =>
        instance.explain(filter as Parameters<RunIndex["explain"]>[0]),
      );
      for (const plan of plans) {
        const text = plan.join(" | ");
        // Every table access is through an index (a bare "SCAN runs" reads every row).
        for (const line of plan)
          if (/^(SCAN|SEARCH) /.test(line))
            expect(line, text).toMatch(/USING (COVERING INDEX|INDEX|PRIMARY KEY)/);
        // Pages come from one index in order: no sort of the matching rows.
        if (/ORDER BY/.test(text) || plan.some((l) => l.includes("ORDER BY")))
          expect(text).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
      }
      // The page queries (ORDER BY) never sort; only the person count's GROUP BY over their few rows may.
      const pagePlans = plans.slice(
        0,
        plans.length - (filter.personKeys ? 1 : 8 * (filter.sources?.length ?? 1)),
      );
      for (const plan of pagePlans) expect(plan.join(" | ")).not.toMatch(/TEMP B-TREE/);
    }
  });
});
