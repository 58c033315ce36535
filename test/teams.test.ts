import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { runIdFor } from "../src/offboarding/start";
import { commandKey, REPEAT_WINDOW_MS } from "../src/sources/chat/commands";
import { commandText } from "../src/sources/teams/route";
import { TEAMS_TOLERANCE_MS } from "../src/sources/teams/verify";
import { at } from "./helpers/env";
import { captureWarnings, withinOneWindow } from "./helpers/limits";
import { signTeams } from "./helpers/signers";
import { DEMO, sim } from "./helpers/sim";
import { admin, call, clearHolds, uniqueId, waitForRun } from "./helpers/worker";

/** The security token configured in vitest.config.ts (TEAMS_WEBHOOK_TOKENS), base64 as Teams shows it. */
const TOKEN = "dGVhbXMtdGVzdC1zZWN1cml0eS10b2tlbi0wMTIzNDU2Nzg5";
const OPERATOR = "6f1c7a2e-0000-4000-8000-0000000000aa";

const hmac = signTeams;

/** An outgoing-webhook activity as Teams posts it (signed `id` and `timestamp`, here sent just now). */
function activity(
  text: string,
  from: Record<string, string> = { aadObjectId: OPERATOR, name: "Olu Operator" },
  sentAt = Date.now(),
) {
  return JSON.stringify({
    type: "message",
    id: uniqueId("activity"),
    timestamp: new Date(sentAt).toISOString(),
    text: `<at>KooDrive</at>&nbsp;${text}`,
    from: { id: "29:1abc", ...from },
    conversation: { id: "19:general@thread.skype" },
    channelData: { tenant: { id: "tenant-1" } },
  });
}

async function send(body: string, auth?: string | null) {
  const headers = new Headers({ "content-type": "application/json" });
  const value = auth === undefined ? await hmac(TOKEN, body) : auth;
  if (value !== null) headers.set("authorization", value);
  return call("/chatops/teams", { method: "POST", headers, body });
}

async function reply(res: Response): Promise<string> {
  expect(res.status).toBe(200);
  const body = (await res.json()) as { type: string; text: string };
  expect(body.type).toBe("message");
  return body.text;
}

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("Teams outgoing webhook", () => {
  it("reads the command out of the @mention and HTML (the HMAC itself: test/unit/teams-verify)", () => {
    expect(commandText("<at>KooDrive</at>&nbsp;status <b>x</b>")).toBe("status  x");
  });

  it("an operator offboards through an @mention; status then reports the run", async () => {
    const before = await sim.shares(DEMO.leaver, "active");
    const text = await reply(await send(activity(`offboard ${DEMO.leaver}`)));
    expect(text).toMatch(/Offboarding started/);
    const runId = /`(teams-[0-9a-f]{32})`/.exec(text)?.[1] ?? "";
    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    expect(run.counts.cancelled).toBe(before.length);
    const audit = await (await admin(`/audit?user=${DEMO.leaver}&limit=50`)).text();
    expect(audit).toContain(`teams:${OPERATOR} (Olu Operator)`);
    expect(await reply(await send(activity(`status ${runId}`)))).toMatch(/\*\*completed\*\*/);
  });

  it("a non-operator gets help but cannot act; a bad or missing signature is 401 and nothing runs", async () => {
    const someone = { aadObjectId: "00000000-0000-4000-8000-00000000beef", name: "Sam" };
    expect(await reply(await send(activity("help", someone)))).toMatch(/offboard/);
    expect(await reply(await send(activity(`offboard ${DEMO.leaver}`, someone)))).toMatch(
      /not a KooDrive Offboard operator/,
    );
    const body = activity(`offboard ${DEMO.leaver}`);
    expect((await send(body, await hmac(btoa("wrong-token-0000000000"), body))).status).toBe(401);
    expect((await send(body, null)).status).toBe(401);
    expect((await sim.calls(0)).calls).toHaveLength(0);
    const bad = activity("help").replace('"from"', '"frm"');
    expect((await send(bad)).status).toBe(422);
  });
});

interface AuditView {
  records: Array<{ type: string; source?: string; actor?: string; reason?: string; runId?: string }>;
}

const audit = async (query: string) => (await (await admin(`/audit?${query}`)).json()) as AuditView;

describe("Teams replays (issue 8, finding 3)", () => {
  it("a captured activity replayed 2 minutes later, in a new 10-minute command window, runs nothing", async () => {
    // The finding: only the HMAC was checked, and the command key changes every 10 minutes, so a replay
    // two minutes later across that boundary started a second run. The clock is set so that it does.
    const boundary = (Math.floor(Date.now() / REPEAT_WINDOW_MS) + 1) * REPEAT_WINDOW_MS;
    const sentAt = boundary - 60_000;
    const body = activity(`offboard ${DEMO.leaver} dry-run`, undefined, sentAt);
    const first = await at(sentAt, async () => reply(await send(body)));
    expect(first).toMatch(/Dry run started/);
    const runId = /`(teams-[0-9a-f]{32})`/.exec(first)?.[1] ?? "";
    const replayAt = sentAt + 2 * 60_000;
    const replayed = await at(replayAt, async () => reply(await send(body)));
    expect(replayed).toMatch(/already handled/);
    expect(replayed).not.toContain("teams-");
    // The run the replay would have started (its command key in the new window) does not exist.
    const key = await commandKey([OPERATOR], `offboard ${DEMO.leaver} dry-run`, replayAt);
    expect((await admin(`/runs/${await runIdFor("teams", `teams:${key}`)}`)).status).toBe(404);
    await waitForRun(runId);
    const records = (await audit(`user=${DEMO.leaver}&limit=100`)).records;
    expect(records.filter((r) => r.runId === runId && r.type === "request.duplicate")).toHaveLength(0);
  });

  it("a replay within the window is answered once as handled, however often it comes", async () => {
    const target = `${uniqueId("leaver")}@example.com`;
    const body = activity(`offboard ${target} dry-run`, undefined, Date.now() - 2 * 60_000);
    const first = await reply(await send(body));
    expect(first).toMatch(/Dry run started/);
    const runId = /`(teams-[0-9a-f]{32})`/.exec(first)?.[1] ?? "";
    for (let i = 0; i < 5; i++) expect(await reply(await send(body))).toMatch(/already handled/);
    await waitForRun(runId);
    const records = (await audit(`user=${target}&limit=100`)).records;
    expect(records.length).toBeGreaterThan(0);
    expect(records.filter((r) => r.type === "request.duplicate")).toHaveLength(0);
    expect(records.every((r) => r.runId === runId)).toBe(true);
  });

  for (const [name, sentAt] of [
    ["more than 5 minutes old", () => Date.now() - TEAMS_TOLERANCE_MS - 5_000],
    ["more than 5 minutes ahead", () => Date.now() + TEAMS_TOLERANCE_MS + 5_000],
  ] as const) {
    it(`refuses a signed activity ${name} with 401, a security record and no run`, async () => {
      const body = activity(`offboard ${DEMO.leaver}`, undefined, sentAt());
      const res = await send(body);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
      const rec = (await audit("limit=5")).records.find(
        (r) => r.type === "request.rejected" && r.source === "teams",
      );
      expect(rec?.reason).toBe("stale_timestamp");
      expect((await sim.calls(0)).calls).toHaveLength(0);
      const active = await env.AUDIT.list({ prefix: "active-run:teams-" });
      expect(active.keys).toHaveLength(0);
    });
  }

  it("refuses a signed activity without a valid timestamp or id (nothing can tell a replay apart)", async () => {
    const base = JSON.parse(activity("help")) as Record<string, unknown>;
    for (const change of [{ timestamp: undefined }, { timestamp: "yesterday" }, { id: undefined }]) {
      const res = await send(JSON.stringify({ ...base, ...change }));
      expect(res.status).toBe(401);
    }
  });

  it("a non-operator's refusals are recorded once per activity and at most 5 a minute per user", async () => {
    const someone = {
      aadObjectId: `00000000-0000-4000-8000-${Date.now().toString().slice(-12)}`,
      name: "Sam",
    };
    const replayedBody = activity(`offboard ${DEMO.leaver}`, someone);
    await withinOneWindow(20_000);
    const logs = await captureWarnings(async () => {
      // 30 replays of one captured refusal: one command, one record.
      for (let i = 0; i < 30; i++) {
        expect(await reply(await send(replayedBody))).toMatch(
          i === 0 ? /not a KooDrive Offboard operator/ : /already handled/,
        );
      }
      // 20 distinct refused commands by the same person: the per-user limiter caps the records.
      for (let i = 0; i < 20; i++) {
        expect(await reply(await send(activity(`status teams-${i}`, someone)))).toMatch(/not a KooDrive/);
      }
    });
    const refusals = logs.filter((l) => l.msg === "chat command refused");
    expect(refusals).toHaveLength(21);
    const audited = refusals.filter((l) => l.audited).length;
    expect(audited).toBe(5); // CHAT_REFUSAL_LIMITER: 5 a minute per source and user (wrangler.toml)
    const records = (await audit("limit=100")).records.filter(
      (r) => r.type === "request.rejected" && r.actor === `teams:${someone.aadObjectId} (Sam)`,
    );
    expect(records).toHaveLength(audited);
    expect((await sim.calls(0)).calls).toHaveLength(0);
  });

  it("remembers activity ids until their timestamp is stale, then the alarm purges them", async () => {
    const guard = env.REPLAY.getByName("teams-purge-test");
    const now = Date.now();
    expect(await guard.remember("old", now - 1)).toBe(true);
    expect(await guard.remember("fresh", now + 60_000)).toBe(true);
    expect(await guard.remember("fresh", now + 60_000)).toBe(false);
    expect(await runDurableObjectAlarm(guard)).toBe(true);
    expect(await guard.size()).toBe(1);
    // The alarm is set again for the next expiry.
    const alarm = await runInDurableObject(guard, (_i, state) => state.storage.getAlarm());
    expect(alarm).toBe(now + 60_000);
    // An id past its lifetime would be refused by the timestamp check; the guard no longer needs it.
    expect(await guard.remember("old", now + 60_000)).toBe(true);
  });
});
