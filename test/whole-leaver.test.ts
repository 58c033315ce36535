import { introspectWorkflowInstance } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { runIdFor } from "../src/offboarding/start";
import { postHr, sweep } from "./helpers/env";
import { actionOf, freeLeaver, runView as run, waitForView as waitFor } from "./helpers/leaver";
import { DEMO, type SimCall, sim } from "./helpers/sim";
import { admin, clearHolds, offboardedEvent, uniqueId, waitForRun, waitForStatus } from "./helpers/worker";

/**
 * The whole leaver (issue 10), end to end against the simulator: the actions of a run in their order
 * (revoke, hand over, block, watch), each with its own outcome; the handover task created exactly once;
 * holds, dry runs, retries, the sweeper and KooDrive's own audit log as evidence.
 */

const LEAVER = "1505084218764549601";
const MANAGER = "1505084218764549602";
const CONFIGURED = "1505084218764549603";
const ALL = { OFFBOARDING_ACTIONS: "revoke_shares,handover,block_login" };

async function seed(opts: { handoverTo?: string; shares?: number } = {}) {
  await sim.seed({
    users: [
      {
        userId: LEAVER,
        name: "Lea Leaver",
        shares: opts.shares ?? 5,
        ...(opts.handoverTo ? { handoverTo: opts.handoverTo } : {}),
      },
      // The directory user the app acts as for task and user calls (KOODRIVE_DIRECTORY_USER_ID).
      { userId: DEMO.admin, name: "Ada Admin", shares: 0 },
      { userId: MANAGER, name: "Max Manager", shares: 0 },
      { userId: CONFIGURED, name: "Cora Configured", shares: 0 },
    ],
    seed: 61,
  });
}

/** Sends an HR event for the leaver with `vars` over the env; sleeps are off (polls come at once). */
async function offboard(
  vars: Record<string, string>,
  employee: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Promise<string> {
  const id = uniqueId();
  const runId = await runIdFor("hr", id);
  const instance = await introspectWorkflowInstance(env.OFFBOARDING, runId);
  await instance.modify(async (m) => {
    await m.disableSleeps();
  });
  const res = await postHr(
    offboardedEvent({ id: "E-1001", koodriveUserId: LEAVER, ...employee }, extra),
    vars,
    id,
  );
  expect(res.status).toBe(202);
  return runId;
}

const endpoints = (calls: SimCall[]) => calls.map((c) => c.endpoint);

beforeEach(async () => {
  await sim.reset();
  await clearHolds();
  await freeLeaver(LEAVER);
  await sim.taskTiming({ newMs: 0, executingMs: 0 });
});

describe("handover and block, in order", () => {
  it("hands the files to KooDrive's configured recipient, then blocks the login: completed, verified", async () => {
    await seed({ handoverTo: CONFIGURED });
    const runId = await offboard(ALL);
    const done = await waitFor(runId);
    expect(done.status).toBe("completed");
    expect(done.actions.map((a) => [a.action, a.state])).toEqual([
      ["revoke_shares", "completed"],
      ["handover", "completed"],
      ["block_login", "completed"],
    ]);
    const handover = actionOf(done, "handover");
    expect(handover.recipient).toMatchObject({ koodriveUserId: CONFIGURED, foundBy: "koodrive" });
    // KooDrive's state: one task, leaver -> configured recipient, succeeded; the leaver is gone with it.
    const tasks = await sim.tasks(LEAVER);
    expect(tasks.map((t) => [t.dstUserId, t.status])).toEqual([[CONFIGURED, 2]]);
    expect((await sim.user(LEAVER)).removed).not.toBeNull();
    expect(actionOf(done, "block_login").detail).toMatch(/no longer exists/);
    // Order in KooDrive's call log: every cancel before the task, the task before the block.
    const calls = endpoints((await sim.calls(0)).calls);
    const lastCancel = calls.lastIndexOf("cancel");
    const create = calls.indexOf("taskCreate");
    const block = calls.indexOf("userUpdate");
    expect(lastCancel).toBeGreaterThan(-1);
    expect(create).toBeGreaterThan(lastCancel);
    expect(block).toBeGreaterThan(calls.lastIndexOf("taskGet"));
    expect(calls.filter((e) => e === "taskCreate")).toHaveLength(1);
    expect(calls.filter((e) => e === "userUpdate")).toHaveLength(1);
  });

  it("an HR event naming the manager hands the files to the manager, then blocks the login", async () => {
    await seed({ handoverTo: CONFIGURED });
    const runId = await offboard(ALL, { manager: { koodriveUserId: MANAGER } });
    const done = await waitFor(runId);
    expect(done.status).toBe("completed");
    expect(actionOf(done, "handover").recipient).toMatchObject({ koodriveUserId: MANAGER, foundBy: "event" });
    expect((await sim.tasks(LEAVER)).map((t) => t.dstUserId)).toEqual([MANAGER]);
    const calls = endpoints((await sim.calls(0)).calls);
    expect(calls.indexOf("userUpdate")).toBeGreaterThan(calls.lastIndexOf("taskGet"));
    // The configured recipient was not even asked: the event named someone.
    expect(calls).not.toContain("dstUserInfo");
  });

  it("block_login alone disables the user in KooDrive and adds no task call", async () => {
    await seed();
    const runId = await offboard({ OFFBOARDING_ACTIONS: "revoke_shares,block_login" });
    const done = await waitFor(runId);
    expect(done.status).toBe("completed");
    expect(actionOf(done, "block_login").blockedAt).toBeTruthy();
    expect((await sim.user(LEAVER)).status).toBe(1);
    const calls = endpoints((await sim.calls(0)).calls);
    expect(calls.filter((e) => e.startsWith("task") || e === "dstUserInfo")).toEqual([]);
  });

  it("a run of revoke_shares alone (the default) makes no task, user or audit-log call beyond the evidence", async () => {
    await seed();
    const id = uniqueId();
    const res = await postHr(offboardedEvent({ id: "E-1002", koodriveUserId: LEAVER }), {}, id);
    const done = await waitFor(((await res.json()) as { runId: string }).runId);
    expect(done.status).toBe("completed");
    expect(done.actions.map((a) => a.action)).toEqual(["revoke_shares"]);
    const calls = endpoints((await sim.calls(0)).calls);
    expect(calls.filter((e) => !["list", "cancel", "userGet", "auditlog"].includes(e))).toEqual([]);
    expect((await sim.user(LEAVER)).status).toBe(0);
  });
});

describe("no recipient, failed tasks, lost answers", () => {
  it("no recipient anywhere: needs_recipient (partial, the login still blocked); a retry with handoverTo completes", async () => {
    await seed();
    const runId = await offboard(ALL);
    const first = await waitFor(runId);
    expect(first.status).toBe("partial");
    expect(actionOf(first, "handover").state).toBe("needs_recipient");
    expect(first.detail).toMatch(/handover: needs_recipient/);
    expect(actionOf(first, "block_login").state).toBe("completed");
    expect(await sim.tasks(LEAVER)).toEqual([]);

    const second = await introspectWorkflowInstance(env.OFFBOARDING, `${runId}-r2`);
    await second.modify(async (m) => {
      await m.disableSleeps();
    });
    const retry = await admin(`/runs/${runId}/retry`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ handoverTo: MANAGER }),
    });
    expect(retry.status).toBe(202);
    const done = await waitFor(runId, 60_000, 2);
    expect(done.status).toBe("completed");
    expect(actionOf(done, "handover").recipient).toMatchObject({
      koodriveUserId: MANAGER,
      foundBy: "request",
    });
    expect((await sim.tasks(LEAVER)).map((t) => t.dstUserId)).toEqual([MANAGER]);
  });

  it("a retry naming the leaver themselves as recipient is not a recipient", async () => {
    await seed();
    const runId = await offboard(ALL);
    await waitForRun(runId);
    const second = await introspectWorkflowInstance(env.OFFBOARDING, `${runId}-r2`);
    await second.modify(async (m) => {
      await m.disableSleeps();
    });
    await admin(`/runs/${runId}/retry`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ handoverTo: LEAVER }),
    });
    const done = await waitFor(runId, 60_000, 2);
    expect(actionOf(done, "handover").state).toBe("needs_recipient");
    expect(actionOf(done, "handover").detail).toMatch(/leaver themselves/);
    expect(await sim.tasks(LEAVER)).toEqual([]);
  });

  it("a retry's body is checked: not JSON or not a person is 422, handoverTo on a run without handover is 409; nothing starts", async () => {
    await seed();
    const plain = await offboard({ OFFBOARDING_ACTIONS: "revoke_shares" }, { id: "E-1010" });
    await waitFor(plain);
    const post = (runId: string, body: string) =>
      admin(`/runs/${runId}/retry`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
    // A completed run is not retryable at all; make one that is: an unknown person ends unresolved.
    const unresolved = await offboard(
      { OFFBOARDING_ACTIONS: "revoke_shares" },
      { id: "E-1011", koodriveUserId: "1505084218764549999" },
    );
    expect((await waitFor(unresolved)).status).toBe("unresolved");
    const notJson = await post(unresolved, "{handoverTo:");
    expect(notJson.status).toBe(422);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe("invalid_body");
    expect((await post(unresolved, JSON.stringify({ handoverTo: "<b>ann</b>" }))).status).toBe(422);
    expect((await post(unresolved, JSON.stringify({ handoverTo: MANAGER, extra: 1 }))).status).toBe(422);
    const noHandover = await post(unresolved, JSON.stringify({ handoverTo: MANAGER }));
    expect(noHandover.status).toBe(409);
    expect(((await noHandover.json()) as { error: { message: string } }).error.message).toMatch(
      /does not hand over/,
    );
    const after = await run(unresolved);
    expect([after.status, after.attempt]).toEqual(["unresolved", 1]);
  });

  it("a task that fails (18000205): partial with the code; a retry creates a new task and completes", async () => {
    await seed({ handoverTo: CONFIGURED });
    await sim.faults({ rules: [{ endpoint: "taskCreate", kind: "taskFailure", next: 1 }] });
    const runId = await offboard(ALL);
    const first = await waitFor(runId);
    expect(first.status).toBe("partial");
    const failed = actionOf(first, "handover");
    expect(failed.state).toBe("failed");
    expect(failed.detail).toMatch(/18000205/);
    expect(failed.tasks?.map((t) => [t.status, t.resultCode])).toEqual([[3, "18000205"]]);

    const second = await introspectWorkflowInstance(env.OFFBOARDING, `${runId}-r2`);
    await second.modify(async (m) => {
      await m.disableSleeps();
    });
    expect((await admin(`/runs/${runId}/retry`, { method: "POST" })).status).toBe(202);
    const done = await waitFor(runId, 60_000, 2);
    expect(done.status).toBe("completed");
    expect(actionOf(done, "handover").tasks?.map((t) => t.status)).toEqual([3, 2]);
    expect((await sim.tasks(LEAVER)).map((t) => t.status)).toEqual(expect.arrayContaining([2, 3]));
    expect(await sim.tasks(LEAVER)).toHaveLength(2);
  });

  it("a create whose answer is lost still makes exactly one task (found in KooDrive's task list)", async () => {
    await seed({ handoverTo: CONFIGURED });
    await sim.quirks({ taskListDtos: true });
    await sim.faults({ rules: [{ endpoint: "taskCreate", kind: "lostResponse", next: 1, status: 502 }] });
    const id = uniqueId();
    const runId = await runIdFor("hr", id);
    const instance = await introspectWorkflowInstance(env.OFFBOARDING, runId);
    await instance.modify(async (m) => {
      await m.disableSleeps();
      await m.disableRetryDelays();
    });
    await postHr(offboardedEvent({ id: "E-1003", koodriveUserId: LEAVER }), ALL, id);
    const done = await waitFor(runId);
    expect(done.status).toBe("completed");
    expect(await sim.tasks(LEAVER)).toHaveLength(1);
    expect(actionOf(done, "handover").tasks).toEqual([
      expect.objectContaining({ foundInList: true, status: 2 }),
    ]);
    const calls = endpoints((await sim.calls(0)).calls);
    expect(calls.filter((e) => e === "taskCreate")).toHaveLength(1);
    expect(calls).toContain("taskList");
  });

  it("replays and the sweeper never create a second task or a second block", async () => {
    await seed({ handoverTo: CONFIGURED });
    // The task stays EXECUTING until released: the run polls while we redeliver, stop it and sweep.
    await sim.faults({ rules: [{ endpoint: "taskCreate", kind: "taskStuck", next: 1 }] });
    const id = uniqueId();
    const runId = await runIdFor("hr", id);
    // Both attempts skip their sleeps: the first polls the stuck task, the sweeper's second replays the run.
    for (const instanceId of [runId, `${runId}-r2`]) {
      const instance = await introspectWorkflowInstance(env.OFFBOARDING, instanceId);
      await instance.modify(async (m) => {
        await m.disableSleeps();
      });
    }
    const event = offboardedEvent({ id: "E-1004", koodriveUserId: LEAVER });
    await postHr(event, ALL, id);
    for (let i = 0; i < 100 && (await sim.tasks(LEAVER)).length === 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    // The same delivery again (an HR retry) starts nothing.
    expect((await postHr(event, ALL, id)).status).toBe(202);
    // The Workflow stops while its task is in progress in KooDrive.
    const first = await env.OFFBOARDING.get(runId);
    await first.terminate();
    const stopped = (await sim.calls(0)).last;
    for (let i = 0; i < 100 && (await first.status()).status !== "terminated"; i++)
      await new Promise((r) => setTimeout(r, 100));
    // The sweeper leaves a run alone until its next poll is due; once it is (the wait is cleared as if that
    // time had come: faking the clock would carry into the governor), it starts attempt 2, which replays the
    // run from the start.
    await env.RUNS.getByName(runId).clearWait();
    await sweep();
    const [task] = await sim.tasks(LEAVER);
    expect(task?.status).toBe(1);
    await sim.taskFate(task?.taskId as string, "succeed");
    const done = await waitFor(runId, 60_000, 2);
    expect(done).toMatchObject({ status: "completed", attempt: 2 });
    // A sweep after the end starts nothing (STUCK_RUN_MINUTES=0 in tests would restart a live attempt).
    await sweep();
    expect((await run(runId)).attempt).toBe(2);
    expect(await sim.tasks(LEAVER)).toHaveLength(1);
    const calls = endpoints((await sim.calls(0)).calls);
    expect(calls.filter((e) => e === "taskCreate")).toHaveLength(1);
    expect(calls.filter((e) => e === "userUpdate")).toHaveLength(1);
    // Attempt 2 did not list the shares its predecessor verified: the task may remove the user meanwhile.
    expect(endpoints((await sim.calls(stopped)).calls)).not.toContain("list");
  });
});

describe("holds and dry runs", () => {
  it("a hold on the person stops every action: nothing cancelled, no task, no block", async () => {
    await seed({ handoverTo: CONFIGURED });
    const held = await admin("/holds", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "user", id: LEAVER, reason: "legal hold" }),
    });
    expect(held.status).toBe(200);
    const runId = await offboard(ALL);
    const done = await waitFor(runId);
    expect(done.status).toBe("completed");
    expect(done.actions.map((a) => a.state)).toEqual(["held", "held", "held"]);
    const calls = endpoints((await sim.calls(0)).calls);
    expect(calls.filter((e) => ["cancel", "taskCreate", "userUpdate", "dstUserInfo"].includes(e))).toEqual(
      [],
    );
    expect((await sim.summary(LEAVER)).cancelled).toBe(0);
    expect((await sim.user(LEAVER)).status).toBe(0);
  });

  it("a dry run changes nothing and lists every action it would take", async () => {
    await seed({ handoverTo: CONFIGURED });
    const vars = { OFFBOARDING_ACTIONS: "revoke_shares,handover,block_login,watch", WATCH_AFTER: "1h,24h" };
    const runId = await offboard(vars, {}, { options: { dryRun: true } });
    const done = await waitFor(runId);
    expect(done.status).toBe("dry_run");
    expect(done.actions.map((a) => [a.action, a.state])).toEqual([
      ["revoke_shares", "dry_run"],
      ["handover", "dry_run"],
      ["block_login", "dry_run"],
      ["watch", "dry_run"],
    ]);
    expect(actionOf(done, "handover").detail).toMatch(/configured recipient/);
    expect(actionOf(done, "handover").recipient?.koodriveUserId).toBe(CONFIGURED);
    expect(actionOf(done, "block_login").detail).toMatch(/would disable/);
    expect(actionOf(done, "watch").detail).toMatch(/1h, 1d/);
    const calls = endpoints((await sim.calls(0)).calls);
    expect(calls.filter((e) => ["cancel", "taskCreate", "userUpdate"].includes(e))).toEqual([]);
    expect(await sim.tasks(LEAVER)).toEqual([]);
  });
});

describe("the watch", () => {
  it("cancels a share created after the run and records it as late; the run shows watching until the last check", async () => {
    await seed({ shares: 3 });
    const runId = await offboard({ OFFBOARDING_ACTIONS: "revoke_shares,watch", WATCH_AFTER: "2s,4s" });
    await waitForStatus(runId, "watching", 30_000);
    const watching = await run(runId);
    expect(actionOf(watching, "watch")).toMatchObject({ state: "watching", checksDone: 0 });
    expect(actionOf(watching, "revoke_shares").state).toBe("completed");
    // The leaver shares again (their account still works: block_login is not asked for).
    await sim.seed({
      users: [{ userId: LEAVER, name: "Lea Leaver", shares: [{ displayName: "late.docx" }] }],
    });
    const done = await waitFor(runId, 60_000);
    expect(done.status).toBe("completed");
    const late = done.shares.filter((s) => s.late);
    expect(late).toHaveLength(1);
    expect(late[0]?.state).toBe("cancelled");
    expect(actionOf(done, "watch")).toMatchObject({ state: "completed", checksDone: 2, lateShares: 1 });
    expect((await sim.summary(LEAVER)).active).toBe(0);
    // In the audit trail too.
    const records = (
      (await (await admin(`/audit?user=${LEAVER}&limit=100`)).json()) as {
        records: Array<{ type: string; shares?: Array<{ shareId: string; late?: boolean }> }>;
      }
    ).records;
    const audited = records.flatMap((r) => (r.type === "shares.cancelled" ? (r.shares ?? []) : []));
    expect(audited.filter((s) => s.late).map((s) => s.shareId)).toEqual([late[0]?.shareId]);
  });

  it("a new run for the same person ends the older watch", async () => {
    await seed({ shares: 2 });
    const vars = { OFFBOARDING_ACTIONS: "revoke_shares,watch", WATCH_AFTER: "10m" };
    const older = await offboard(vars);
    await waitForStatus(older, "watching", 30_000);
    const newer = await offboard({ OFFBOARDING_ACTIONS: "revoke_shares" }, { id: "E-1005" });
    const second = await waitFor(newer);
    expect(second.status).toBe("completed");
    const ended = await waitFor(older, 30_000);
    expect(ended.status).toBe("completed");
    expect(actionOf(ended, "watch")).toMatchObject({ state: "completed", endedBy: newer, checksDone: 0 });
  });
});

describe("evidence from KooDrive's audit log", () => {
  it("counts the run's cancellations KooDrive logged, and says so when some are missing", async () => {
    await seed({ shares: 4 });
    const shares = await sim.shares(LEAVER, "all");
    await sim.faults({
      rules: [{ endpoint: "cancel", kind: "auditOmit", rate: 1, shareIds: [shares[0]?.shareId] }],
    });
    const id = uniqueId();
    const res = await postHr(offboardedEvent({ id: "E-1006", koodriveUserId: LEAVER }), {}, id);
    const runId = ((await res.json()) as { runId: string }).runId;
    await waitForRun(runId);
    let view = await run(runId);
    for (let i = 0; i < 50 && !view.evidence; i++) {
      await new Promise((r) => setTimeout(r, 100));
      view = await run(runId);
    }
    expect(view.status).toBe("completed");
    expect(view.evidence).toMatchObject({ found: 3, of: 4, complete: true });
    // Read after the result was recorded: it adds no time to the run.
    const finishedAt = (view as unknown as { finishedAt: string }).finishedAt;
    expect(Date.parse((view.evidence as unknown as { checkedAt: string }).checkedAt)).toBeGreaterThanOrEqual(
      Date.parse(finishedAt),
    );
  });

  it("in a layoff's crowded window, reads only the leaver's own entries (narrowed to them as operator): all found, one page", async () => {
    // Another leaver's 1,200 cancels in the same minutes: the whole window is more than EVIDENCE_MAX_PAGES
    // (10) pages of 100, and the leaver's own entries come after them.
    const OTHER = "1505084218764549609";
    await sim.seed({ users: [{ userId: OTHER, name: "Otto Other", shares: 1_200 }], seed: 62 });
    await seed({ shares: 3 });
    const first = await postHr(offboardedEvent({ id: "E-1007", koodriveUserId: OTHER }), {}, uniqueId());
    const otherRun = ((await first.json()) as { runId: string }).runId;
    expect((await waitForRun(otherRun, 60_000)).status).toBe("completed");
    const res = await postHr(offboardedEvent({ id: "E-1008", koodriveUserId: LEAVER }), {}, uniqueId());
    const runId = ((await res.json()) as { runId: string }).runId;
    await waitForRun(runId);
    const view = await run(runId);
    expect(view.status).toBe("completed");
    expect(view.evidence).toMatchObject({
      found: 3,
      of: 3,
      complete: true,
      entriesRead: 3,
      operatorName: "Lea Leaver",
    });
    const reads = (await sim.calls(0)).calls.filter((c) => c.endpoint === "auditlog");
    expect(reads.length).toBeGreaterThanOrEqual(2); // the other run's and this one's
  });
});
