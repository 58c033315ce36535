/**
 * The read side of a run's actions (issue 10): `GET /runs/:id`, the export, chat `status`, the runs list and
 * the console show each requested action's outcome in order, KooDrive's audit-log evidence, the status
 * `watching` and late shares; a run from before 0.4 (no actions recorded) shows `revoke_shares` derived from
 * its status and counts and reads in chat exactly as it did. Runs are written straight into their ledgers
 * (the Workflow that records actions is tested on its own), then read through the Worker's real entry.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import Papa from "papaparse";
import { describe, expect, it } from "vitest";
import { exportRun } from "../src/admin/export";
import { actionLine, actionViews } from "../src/offboarding/action-view";
import type { ActionName, ActionOutcomes, Evidence } from "../src/offboarding/actions";
import type { RunLedger } from "../src/offboarding/ledger";
import { RUN_INDEX_NAME } from "../src/offboarding/run-index";
import type {
  PlannedShare,
  RunMeta,
  RunRequest,
  RunStatus,
  ShareRow,
  ShareState,
} from "../src/offboarding/types";
import { adminCall, auditOf, expectError } from "./helpers/admin";
import { signSlack } from "./helpers/signers";
import { DEMO, sim } from "./helpers/sim";
import { admin, call, clearHolds, offboardedEvent, sendHr, uniqueId, waitForRun } from "./helpers/worker";

const T0 = "2026-11-30T10:00:00.000Z";
const T1 = "2026-11-30T10:05:00.000Z";
const T2 = "2026-11-30T10:06:00.000Z";
const CHECKS = ["2026-11-30T11:06:00.000Z", "2026-12-01T10:06:00.000Z", "2026-12-07T10:06:00.000Z"];
const ANN = "1507947856550550784";
const TASK = "1534087020903704704";

/** Every action of a run that is watching: shares revoked, files handed over, login blocked, one check done. */
const WHOLE_LEAVER: ActionOutcomes = {
  // Recorded out of order on purpose: the view lists them in the order they run.
  watch: {
    state: "watching",
    detail: "check 1 of 3: nothing new",
    updatedAt: CHECKS[0] as string,
    schedule: CHECKS,
    checksDone: 1,
    lateShares: 0,
  },
  block_login: { state: "completed", detail: "user disabled", updatedAt: T2, blockedAt: T2 },
  handover: {
    state: "completed",
    detail: "task succeeded",
    updatedAt: T1,
    recipient: { koodriveUserId: ANN, name: "Ann Lee", foundBy: "koodrive" },
    tasks: [{ taskId: TASK, recipient: ANN, status: 2, createdAt: T0, settledAt: T1 }],
    intent: { recipient: ANN, at: T0 },
  },
  revoke_shares: { state: "completed", detail: "2 cancelled, 1 already gone, 0 skipped", updatedAt: T0 },
};

const EVIDENCE: Evidence = {
  found: 2,
  of: 3,
  from: T0,
  to: T1,
  entriesRead: 500,
  complete: false,
  checkedAt: T1,
};

function planned(shareId: string): PlannedShare {
  return {
    shareId,
    scope: 1,
    displayName: `doc ${shareId}`,
    linkUrl: `https://koodrive.example/s/${shareId}`,
    shortUrl: "",
    expireTime: "",
    shareStatus: 0,
    state: "planned",
    reason: "",
  };
}

interface SeedOptions {
  name: string;
  email?: string;
  actions?: ActionName[];
  outcomes?: ActionOutcomes;
  evidence?: Evidence;
  /** Share id -> final state. */
  shares: Record<string, ShareState>;
  status: RunStatus;
  detail: string;
}

/**
 * A run as its ledger holds it: accepted, planned, shares recorded, the action outcomes and evidence written
 * into the meta (as the Workflow records them), the final status set, and its runs-index row written.
 */
async function seedRun(o: SeedOptions): Promise<{ runId: string; meta: RunMeta }> {
  const runId = `hr-${crypto.randomUUID().replaceAll("-", "")}`;
  const ledger = env.RUNS.getByName(runId);
  const request: RunRequest = {
    runId,
    source: "hr",
    eventId: uniqueId("E"),
    subject: { hrId: uniqueId("H"), name: o.name, ...(o.email ? { email: o.email } : {}) },
    dryRun: false,
    scopes: [1, 2, 3],
    requestId: uniqueId("req"),
    receivedAt: new Date().toISOString(),
    actor: "source:hr",
    ...(o.actions ? { actions: o.actions } : {}),
  };
  await ledger.accept(request);
  const ids = Object.keys(o.shares);
  await ledger.addPlanned(ids.map(planned));
  await ledger.record(ids.map((shareId) => ({ shareId, state: o.shares[shareId] as ShareState })));
  if (o.outcomes || o.evidence)
    await runInDurableObject(ledger, (_instance: RunLedger, state) => {
      const sql = state.storage.sql;
      const meta = JSON.parse(sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'run'").one().v);
      const next = { ...meta, ...(o.outcomes ? { actions: o.outcomes } : {}), evidence: o.evidence };
      sql.exec("UPDATE meta SET v = ? WHERE k = 'run'", JSON.stringify(next));
    });
  const meta = await ledger.update({ status: o.status, detail: o.detail });
  const row = await ledger.indexRow();
  if (row) await env.RUN_INDEX.getByName(RUN_INDEX_NAME).upsert([row]);
  return { runId, meta };
}

const wholeLeaver = (email?: string) =>
  seedRun({
    name: "Wanda Watched",
    ...(email ? { email } : {}),
    actions: ["revoke_shares", "handover", "block_login", "watch"],
    outcomes: WHOLE_LEAVER,
    evidence: EVIDENCE,
    shares: { "101": "cancelled", "102": "cancelled", "103": "already_gone" },
    status: "watching",
    detail: "main actions done; watching for late shares",
  });

const oldRun = (status: RunStatus, shares: Record<string, ShareState>, detail: string) =>
  seedRun({ name: "Olga Old", shares, status, detail });

async function runJson(runId: string) {
  const res = await admin(`/runs/${runId}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown> & { actions: unknown[]; evidence: unknown };
}

/** `status <run id>` as a Slack operator types it (signed like Slack's published example). */
async function chatStatus(runId: string): Promise<string> {
  const body = new URLSearchParams({
    team_id: "T1DC2JH3J",
    user_id: "U2CERLKJA",
    user_name: "roadrunner",
    command: "/koodrive",
    text: `status ${runId}`,
    trigger_id: uniqueId("trigger"),
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  const res = await call("/chatops/slack", {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": String(ts),
      "x-slack-signature": await signSlack("8f742231b10e8888abcd99yyyzzz85a5", ts, body),
    },
    body,
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { text: string }).text;
}

/** An RFC 4180 CSV as records keyed by its header (papaparse, the same reader as the export's tests). */
function csvRecords(text: string): Array<Record<string, string>> {
  const parsed = Papa.parse(text.trimEnd(), { delimiter: ",", header: false });
  expect(parsed.errors).toEqual([]);
  const [header = [], ...rows] = parsed.data;
  for (const r of rows) expect(r).toHaveLength(header.length);
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ""])));
}

/** HTML text with the entities hono/jsx writes turned back into characters. */
const htmlText = (html: string) =>
  html
    .replaceAll("&#39;", "'")
    .replaceAll("&quot;", '"')
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");

describe("GET /runs/:id: actions and evidence", () => {
  it("lists the requested actions in the order they run, with what each recorded, and the evidence", async () => {
    const { runId } = await wholeLeaver();
    const run = await runJson(runId);
    expect(run.status).toBe("watching");
    expect(run.finishedAt).toBeNull();
    expect(run.actions).toEqual([
      {
        action: "revoke_shares",
        state: "completed",
        detail: "2 cancelled, 1 already gone, 0 skipped",
        updatedAt: T0,
      },
      {
        action: "handover",
        state: "completed",
        detail: "task succeeded",
        updatedAt: T1,
        recipient: { koodriveUserId: ANN, name: "Ann Lee", foundBy: "koodrive" },
        tasks: [{ taskId: TASK, recipient: ANN, status: 2, createdAt: T0, settledAt: T1 }],
      },
      { action: "block_login", state: "completed", detail: "user disabled", updatedAt: T2, blockedAt: T2 },
      {
        action: "watch",
        state: "watching",
        detail: "check 1 of 3: nothing new",
        updatedAt: CHECKS[0],
        schedule: CHECKS,
        checksDone: 1,
        nextCheck: CHECKS[1],
        lateShares: 0,
      },
    ]);
    // The handover's create intent is the Workflow's bookkeeping, not part of the answer.
    expect(JSON.stringify(run.actions)).not.toContain('"intent"');
    expect(run.evidence).toEqual({
      ...EVIDENCE,
      summary: "KooDrive's audit log shows 2 of 3 cancellations (first 500 entries read)",
    });
    // What the run showed before 0.4 is still there, unchanged.
    expect(run.counts).toMatchObject({ cancelled: 2, already_gone: 1, total: 3 });
    expect(run.detail).toBe("main actions done; watching for late shares");
  });

  it("shows only the actions the run asked for, one not started as pending, and 0 evidence as it is", async () => {
    const { runId } = await seedRun({
      name: "Nadia Nobody",
      actions: ["revoke_shares", "handover", "block_login"],
      outcomes: {
        revoke_shares: { state: "completed", detail: "1 cancelled", updatedAt: T0 },
        handover: { state: "needs_recipient", detail: "no recipient found", updatedAt: T1 },
        // Not asked for: never shown, whatever the meta holds.
        watch: { state: "completed", detail: "stray", updatedAt: T1 },
      },
      evidence: { ...EVIDENCE, found: 0, of: 1, complete: true, entriesRead: 12 },
      shares: { "201": "cancelled" },
      status: "partial",
      detail: "handover: no recipient",
    });
    const run = await runJson(runId);
    expect(run.actions).toEqual([
      { action: "revoke_shares", state: "completed", detail: "1 cancelled", updatedAt: T0 },
      { action: "handover", state: "needs_recipient", detail: "no recipient found", updatedAt: T1 },
      {
        action: "block_login",
        state: "pending",
        detail: "not run: the run ended before it",
        updatedAt: run.updatedAt,
      },
    ]);
    expect((run.evidence as { summary: string }).summary).toBe(
      "KooDrive's audit log shows 0 of 1 cancellation",
    );
  });

  it("derives revoke_shares for a run from before 0.4 from its status and counts, and shows no evidence", async () => {
    const done = await oldRun(
      "completed",
      { "301": "cancelled", "302": "cancelled", "303": "already_gone" },
      "2 cancelled, 1 already gone, 0 skipped",
    );
    const run = await runJson(done.runId);
    expect(run.actions).toEqual([
      {
        action: "revoke_shares",
        state: "completed",
        detail: "2 cancelled, 1 already gone",
        updatedAt: done.meta.updatedAt,
      },
    ]);
    expect(run.evidence).toBeNull();

    const partial = await oldRun(
      "partial",
      { "311": "cancelled", "312": "still_active" },
      "1 share(s) still active or failed",
    );
    expect((await runJson(partial.runId)).actions).toEqual([
      {
        action: "revoke_shares",
        state: "failed",
        detail: "1 cancelled, 1 still active or failed; 1 share(s) still active or failed",
        updatedAt: partial.meta.updatedAt,
      },
    ]);

    const unresolved = await oldRun("unresolved", {}, "no KooDrive user for this person");
    expect((await runJson(unresolved.runId)).actions).toMatchObject([
      { action: "revoke_shares", state: "failed", detail: "0 cancelled; no KooDrive user for this person" },
    ]);
  });

  it("shows a run of today (no actions asked for) as revoke_shares alone", async () => {
    await sim.reset();
    await sim.seed({ demo: true });
    await clearHolds();
    const res = await sendHr(offboardedEvent({ id: uniqueId("E"), koodriveUserId: DEMO.leaver }));
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    expect((await waitForRun(runId)).status).toBe("completed");
    const run = await runJson(runId);
    expect((run.actions as Array<{ action: string; state: string }>).map((a) => [a.action, a.state])).toEqual(
      [["revoke_shares", "completed"]],
    );
  });
});

describe("export: the actions part and late shares", () => {
  it("exports each action's outcome as CSV, the evidence on the revoke_shares row, and audits the part", async () => {
    const { runId } = await wholeLeaver();
    const { res, requestId } = await adminCall(`/runs/${runId}/export?format=csv&part=actions`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toContain(`${runId}-actions.csv`);
    const rows = csvRecords(await res.text());
    expect(rows.map((r) => [r.action, r.state])).toEqual([
      ["revoke_shares", "completed"],
      ["handover", "completed"],
      ["block_login", "completed"],
      ["watch", "watching"],
    ]);
    const [revoke, handover, block, watch] = rows as [
      Record<string, string>,
      Record<string, string>,
      Record<string, string>,
      Record<string, string>,
    ];
    expect(revoke).toMatchObject({
      runId,
      evidenceFound: "2",
      evidenceOf: "3",
      evidenceEntriesRead: "500",
      evidenceComplete: "false",
      evidence: "KooDrive's audit log shows 2 of 3 cancellations (first 500 entries read)",
    });
    expect(handover).toMatchObject({
      recipient: ANN,
      recipientName: "Ann Lee",
      recipientFoundBy: "koodrive",
      tasks: `${TASK}:SUCCESS`,
      summary: "handover: completed, files handed to Ann Lee (KooDrive's configured recipient)",
      evidence: "",
    });
    expect(block).toMatchObject({ blockedAt: T2, summary: "block_login: completed" });
    expect(watch).toMatchObject({
      schedule: CHECKS.join(" "),
      checksDone: "1",
      nextCheck: CHECKS[1],
      lateShares: "0",
      summary: "watch: watching, next check 2026-12-01 10:06 UTC, 0 late shares",
    });
    expect(await auditOf(requestId)).toEqual([
      expect.objectContaining({ type: "admin.export", details: { format: "csv", part: "actions" } }),
    ]);
  });

  it("exports the actions as NDJSON with the evidence object, and refuses an unknown part", async () => {
    const { runId } = await wholeLeaver();
    const res = await admin(`/runs/${runId}/export?format=ndjson&part=actions`);
    expect(res.status).toBe(200);
    const lines = (await res.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.action)).toEqual(["revoke_shares", "handover", "block_login", "watch"]);
    expect(lines[0]?.evidence).toMatchObject({ found: 2, of: 3, complete: false });
    expect(lines.slice(1).some((l) => "evidence" in l)).toBe(false);
    expect(lines[1]?.tasks).toEqual([
      { taskId: TASK, recipient: ANN, status: 2, createdAt: T0, settledAt: T1 },
    ]);
    await expectError(await admin(`/runs/${runId}/export?part=everything`), 400, "bad_request");
  });

  it("exports a run from before 0.4 as before: its shares, and an empty late column", async () => {
    const { runId } = await oldRun(
      "completed",
      { "401": "cancelled" },
      "1 cancelled, 0 already gone, 0 skipped",
    );
    const csv = csvRecords(await (await admin(`/runs/${runId}/export?format=csv`)).text());
    expect(csv).toEqual([expect.objectContaining({ shareId: "401", state: "cancelled", late: "" })]);
    const actions = await (await admin(`/runs/${runId}/export?format=ndjson&part=actions`)).text();
    expect(
      actions
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([
      expect.objectContaining({
        action: "revoke_shares",
        state: "completed",
        summary: "revoke_shares: completed, 1 cancelled",
      }),
    ]);
  });

  it("marks a late share in both formats when the ledger says so", async () => {
    const row = (shareId: string, late?: boolean): ShareRow => ({
      ...planned(shareId),
      state: "cancelled",
      code: "0",
      msg: "",
      attempts: 1,
      updatedAt: T1,
      ...(late === undefined ? {} : { late }),
    });
    const rows = [row("501", false), row("502", true)];
    // A ledger stand-in for the stream (the Workflow's ledger writes `late`; this checks only the rendering).
    const ledger = {
      shares: async (after: string) => rows.filter((r) => r.shareId > after),
    } as unknown as DurableObjectStub<RunLedger>;
    const csv = csvRecords(await exportRun(ledger, "hr-x", "csv").text());
    expect(csv.map((r) => [r.shareId, r.late])).toEqual([
      ["501", "false"],
      ["502", "true"],
    ]);
    const nd = (await exportRun(ledger, "hr-x", "ndjson").text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { shareId: string; late: boolean });
    expect(nd.map((r) => [r.shareId, r.late])).toEqual([
      ["501", false],
      ["502", true],
    ]);
  });
});

describe("chat status", () => {
  it("gives one line per action and the evidence line", async () => {
    const { runId } = await wholeLeaver();
    expect((await chatStatus(runId)).split("\n")).toEqual([
      `Run \`${runId}\` (Wanda Watched): *watching*, 2 cancelled, 1 already gone. main actions done; watching for late shares`,
      "• revoke_shares: completed, 2 cancelled, 1 already gone, 0 skipped",
      "• handover: completed, files handed to Ann Lee (KooDrive's configured recipient)",
      "• block_login: completed",
      "• watch: watching, next check 2026-12-01 10:06 UTC, 0 late shares",
      "KooDrive's audit log shows 2 of 3 cancellations (first 500 entries read).",
    ]);
  });

  it("reads a run from before 0.4 exactly as before: one line", async () => {
    const { runId } = await oldRun(
      "completed",
      { "601": "cancelled", "602": "already_gone" },
      "1 cancelled, 1 already gone, 0 skipped",
    );
    expect(await chatStatus(runId)).toBe(
      `Run \`${runId}\` (Olga Old): *completed*, 1 cancelled, 1 already gone. 1 cancelled, 1 already gone, 0 skipped`,
    );
  });

  it("says why a handover failed, with KooDrive's result code, and what a watch ended by a newer run found", () => {
    const meta = {
      request: { actions: ["handover", "watch"] },
      status: "partial",
      updatedAt: T2,
      actions: {
        handover: {
          state: "failed",
          detail: "the task failed; retry to create a new one",
          updatedAt: T2,
          recipient: { koodriveUserId: ANN, foundBy: "event" },
          tasks: [{ taskId: TASK, recipient: ANN, status: 3, resultCode: "18000205", createdAt: T0 }],
        },
        watch: {
          state: "completed",
          detail: "ended",
          updatedAt: T2,
          schedule: CHECKS,
          checksDone: 1,
          lateShares: 1,
          endedBy: "hr-0123456789abcdef0123456789abcdef",
        },
      },
    } as unknown as RunMeta;
    const counts = { total: 0 } as never;
    expect(actionViews(meta, counts).map(actionLine)).toEqual([
      `handover: failed, to KooDrive user ${ANN} (named by the event), task ${TASK} FAILED (result 18000205), the task failed; retry to create a new one`,
      "watch: completed, ended by run hr-0123456789abcdef0123456789abcdef, 1 late share",
    ]);
  });
});

describe("runs list and console", () => {
  it("filters and counts watching runs, and lists them as open (not finished)", async () => {
    const email = `${uniqueId("watch")}@nowhere.example`.toLowerCase();
    const { runId } = await wholeLeaver(email);
    const res = await admin(`/runs?status=watching&person=${encodeURIComponent(email)}`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as {
      runs: Array<{ runId: string; status: string; finishedAt: string | null }>;
      counts: Record<string, number>;
    };
    expect(page.runs).toEqual([expect.objectContaining({ runId, status: "watching", finishedAt: null })]);
    expect(page.counts.watching).toBe(1);
    // The sweeper compares open rows with their ledgers: a watching run is one of them.
    const open = await env.RUN_INDEX.getByName(RUN_INDEX_NAME).openRuns(100_000, Date.now() + 1, Date.now());
    expect(open.map((r) => r.runId)).toContain(runId);

    const html = await (
      await admin(`/console/runs?status=watching&person=${encodeURIComponent(email)}`)
    ).text();
    expect(html).toContain(`data-run-id="${runId}"`);
    expect(html).toContain('<option value="watching" selected');
    expect(html).toContain('data-status="watching"');
    expect(html).toContain('<span class="badge b-info">watching</span>');
    // Its shares are done and the next check is hours away: the row is not followed live.
    expect(html).not.toContain(`/console/runs/${runId}/progress.json`);
  });

  it("lists an open run as not finished even when an earlier attempt finished it", async () => {
    const { runId } = await oldRun("completed", { "701": "cancelled" }, "done");
    const ledger = env.RUNS.getByName(runId);
    expect((await ledger.getMeta())?.finishedAt).toBeTruthy();
    await ledger.update({ status: "watching" });
    expect((await ledger.indexRow())?.finishedAt).toBeNull();
  });

  it("shows the Actions section on the run page, with the evidence line and no inline script or style", async () => {
    const { runId } = await wholeLeaver();
    const res = await admin(`/console/runs/${runId}`);
    expect(res.status).toBe(200);
    const raw = await res.text();
    const html = htmlText(raw);
    expect([...raw.matchAll(/<tr data-action="([a-z_]+)"/g)].map((m) => m[1])).toEqual([
      "revoke_shares",
      "handover",
      "block_login",
      "watch",
    ]);
    const section = html.slice(
      html.indexOf("<h2>Actions</h2>"),
      html.indexOf("<h2>Exports and operations</h2>"),
    );
    expect(section).toContain("Hand over files");
    expect(section).toMatch(
      /To Ann Lee \(<code>1507947856550550784<\/code>\), found as KooDrive's configured recipient/,
    );
    expect(section).toContain(`Task <code>${TASK}</code>: SUCCESS`);
    expect(section).toContain(`Login blocked <time datetime="${T2}">2026-11-30 10:06:00 UTC</time>`);
    expect(section).toContain("1 check of 3 done");
    expect(section).toContain("0 late shares found and cancelled");
    expect(section).toMatch(/<time datetime="2026-12-01T10:06:00.000Z">[^<]*<\/time> · next/);
    expect(section).toContain('<span class="badge b-info">watching</span>');
    expect(section).toContain(
      '<p data-testid="evidence">KooDrive\'s audit log shows 2 of 3 cancellations (first 500 entries read)',
    );
    expect(html).toContain(`/runs/${runId}/export?format=csv&part=actions`);
    // CSP: scripts and styles from 'self' only; a watching run has nothing to follow live.
    expect(raw).not.toMatch(/ style=/);
    expect(raw).not.toMatch(/<script(?![^>]*\ssrc=)/);
    expect(raw).not.toContain("data-progress-url");
  });

  it("shows a run from before 0.4 with revoke_shares derived, on the run page and the evidence page", async () => {
    const { runId } = await oldRun(
      "completed",
      { "801": "cancelled" },
      "1 cancelled, 0 already gone, 0 skipped",
    );
    const page = htmlText(await (await admin(`/console/runs/${runId}`)).text());
    expect([...page.matchAll(/<tr data-action="([a-z_]+)"/g)].map((m) => m[1])).toEqual(["revoke_shares"]);
    expect(page).not.toContain('data-testid="evidence"');
    const evidence = htmlText(await (await admin(`/console/runs/${runId}/evidence`)).text());
    expect(evidence).toContain('<tr data-action="revoke_shares">');
  });
});
