import { introspectWorkflowInstance } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { runIdFor } from "../src/offboarding/start";
import { postHr } from "./helpers/env";
import { actionOf, freeLeaver, runView as run, waitForView as waitFor } from "./helpers/leaver";
import { DEMO, sim } from "./helpers/sim";
import { admin, clearHolds, offboardedEvent, uniqueId, waitForStatus } from "./helpers/worker";

/**
 * Review 4 (issue 10, the whole leaver): defects found reading the leaver's actions as an attacker and as
 * a demanding IT admin. Each test states the invariant it checks; a failing test is a confirmed defect.
 */

// Ids of their own: a run left behind by test/whole-leaver.test.ts never holds this leaver.
const LEAVER = "1505084218764549801";
const MANAGER = "1505084218764549802";
const CONFIGURED = "1505084218764549803";
const ALL = { OFFBOARDING_ACTIONS: "revoke_shares,handover,block_login" };

async function seed(opts: { handoverTo?: string; shares?: number } = {}) {
  await sim.seed({
    users: [
      {
        userId: LEAVER,
        name: "Lea Leaver",
        shares: opts.shares ?? 3,
        ...(opts.handoverTo ? { handoverTo: opts.handoverTo } : {}),
      },
      { userId: DEMO.admin, name: "Ada Admin", shares: 0 },
      { userId: MANAGER, name: "Max Manager", shares: 0 },
      { userId: CONFIGURED, name: "Cora Configured", shares: 0 },
    ],
    seed: 61,
  });
}

/** Sends an HR event with `vars`; the first instance's sleeps and step retry delays are off. */
async function offboard(
  vars: Record<string, string>,
  employee: Record<string, unknown> = {},
): Promise<string> {
  const id = uniqueId();
  const runId = await runIdFor("hr", id);
  const instance = await introspectWorkflowInstance(env.OFFBOARDING, runId);
  await instance.modify(async (m) => {
    await m.disableSleeps();
    await m.disableRetryDelays();
  });
  const res = await postHr(offboardedEvent({ id: "E-4001", koodriveUserId: LEAVER, ...employee }), vars, id);
  expect(res.status).toBe(202);
  return runId;
}

/** `POST /runs/:id/retry` (with a body when given), the new attempt's sleeps and retry delays off. */
async function retry(runId: string, attempt: number, body?: unknown): Promise<Response> {
  const next = await introspectWorkflowInstance(env.OFFBOARDING, `${runId}-r${attempt}`);
  await next.modify(async (m) => {
    await m.disableSleeps();
    await m.disableRetryDelays();
  });
  return admin(`/runs/${runId}/retry`, {
    method: "POST",
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
}

beforeEach(async () => {
  await sim.reset();
  await clearHolds();
  await sim.taskTiming({ newMs: 0, executingMs: 0 });
  await freeLeaver(LEAVER);
});

describe("review4: the handover's recipient on record is the one KooDrive hands to", () => {
  it("a retry naming a new recipient while the earlier task is still in KooDrive is refused; the task that exists is polled and reported with its own recipient", async () => {
    await seed({ handoverTo: CONFIGURED });
    // The task stays EXECUTING and every poll fails: the run fails while the task is in KooDrive.
    await sim.faults({
      rules: [
        { endpoint: "taskCreate", kind: "taskStuck", next: 1 },
        { endpoint: "taskGet", kind: "http5xx", rate: 1 },
      ],
    });
    const runId = await offboard(ALL);
    const first = await waitFor(runId, 120_000);
    expect(first.status).toBe("failed");
    const [task] = await sim.tasks(LEAVER);
    expect(task?.dstUserId).toBe(CONFIGURED);
    await sim.clearFaults();

    // The operator names someone else while KooDrive still runs the task: refused (409), nothing started;
    // a retry without a recipient polls the task that exists.
    const refused = await retry(runId, 2, { handoverTo: MANAGER });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(
      /still in progress/,
    );
    expect((await run(runId)).attempt).toBe(1);
    expect((await retry(runId, 2)).status).toBe(202);
    // Attempt 2 polls the task still running in KooDrive; then KooDrive finishes it.
    for (let i = 0; i < 300; i++) {
      const v = await run(runId);
      if (v.attempt === 2 && actionOf(v, "handover")?.state === "running") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await sim.taskFate(task?.taskId as string, "succeed");
    const done = await waitFor(runId, 60_000, 2);
    const handover = actionOf(done, "handover");
    const tasks = await sim.tasks(LEAVER);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]?.dstUserId).toBe(CONFIGURED);
    expect(handover.state).toBe("completed");
    // KooDrive handed the files to CONFIGURED: the run must say so, not that MANAGER received them.
    expect(handover.recipient?.koodriveUserId).toBe(CONFIGURED);
    expect(handover.detail).not.toMatch(/Max Manager/);
  });

  it("a retry after the handover completed (the leaver removed by the transfer) completes; it does not fail listing a removed user", async () => {
    await seed({ handoverTo: CONFIGURED });
    await sim.faults({ rules: [{ endpoint: "userUpdate", kind: "http5xx", rate: 1 }] });
    const runId = await offboard(ALL);
    const first = await waitFor(runId, 120_000);
    expect(first.status).toBe("failed");
    expect(actionOf(first, "handover").state).toBe("completed");
    expect((await sim.user(LEAVER)).removed).not.toBeNull();
    await sim.clearFaults();
    expect((await retry(runId, 2)).status).toBe(202);
    const done = await waitFor(runId, 60_000, 2);
    // Left to do: the block, which counts "not found after a handover" as done (README).
    expect([done.status, done.detail]).toEqual(["completed", expect.anything()]);
    expect(actionOf(done, "block_login").state).toBe("completed");
  });

  it("a retry with handoverTo on a run whose handover already completed is refused, not accepted and ignored", async () => {
    await seed({ handoverTo: CONFIGURED });
    // The block fails (KooDrive 5xx on every user update): the handover completed, the run did not.
    await sim.faults({ rules: [{ endpoint: "userUpdate", kind: "http5xx", rate: 1 }] });
    const runId = await offboard(ALL);
    const first = await waitFor(runId, 120_000);
    expect(["failed", "partial"]).toContain(first.status);
    expect(actionOf(first, "handover").state).toBe("completed");
    await sim.clearFaults();
    const res = await retry(runId, 2, { handoverTo: MANAGER });
    // A 202 tells the operator MANAGER will receive the files; nothing will be handed to MANAGER.
    expect(res.status).toBe(409);
  });
});

describe("review4: a run that fails during its watch", () => {
  it("a retry with handoverTo of a run that failed in a watch check hands the files over", async () => {
    await seed(); // no configured recipient: the handover ends needs_recipient
    const runId = await offboard({
      OFFBOARDING_ACTIONS: "revoke_shares,handover,watch",
      WATCH_AFTER: "6s",
    });
    await waitForStatus(runId, "watching", 30_000);
    expect(actionOf(await run(runId), "handover").state).toBe("needs_recipient");
    // The watch's check cannot list the shares: the run fails inside the watch.
    await sim.faults({ rules: [{ endpoint: "list", kind: "http5xx", rate: 1 }] });
    const failed = await waitFor(runId, 120_000);
    expect(failed.status).toBe("failed");
    await sim.clearFaults();

    expect((await retry(runId, 2, { handoverTo: MANAGER })).status).toBe(202);
    const done = await waitFor(runId, 60_000, 2);
    // README: "A retry does only what is left": the handover is what is left, with the recipient named.
    expect(actionOf(done, "handover").state).toBe("completed");
    expect((await sim.tasks(LEAVER)).map((t) => t.dstUserId)).toEqual([MANAGER]);
  });

  it("a run that failed in a watch check does not still show its watch as watching", async () => {
    await seed();
    const runId = await offboard({ OFFBOARDING_ACTIONS: "revoke_shares,watch", WATCH_AFTER: "6s" });
    await waitForStatus(runId, "watching", 30_000);
    await sim.faults({ rules: [{ endpoint: "list", kind: "http5xx", rate: 1 }] });
    const failed = await waitFor(runId, 120_000);
    expect(failed.status).toBe("failed");
    expect(actionOf(failed, "watch").state).not.toBe("watching");
  });
});

describe("review4: holds and evidence as documented", () => {
  it("a hold placed during the watch ends the watch held (README: the watch ends held)", async () => {
    await seed();
    const runId = await offboard({ OFFBOARDING_ACTIONS: "revoke_shares,watch", WATCH_AFTER: "5s" });
    await waitForStatus(runId, "watching", 30_000);
    const held = await admin("/holds", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "user", id: LEAVER, reason: "legal hold" }),
    });
    expect(held.status).toBe(200);
    const done = await waitFor(runId, 60_000);
    expect(actionOf(done, "watch").state).toBe("held");
  });

  it("the evidence after a retry counts every share the run cancelled (M is the run's cancels, not attempt 1's)", async () => {
    await seed({ shares: 4 });
    const shares = await sim.shares(LEAVER, "all");
    await sim.faults({
      rules: [{ endpoint: "cancel", kind: "shareFailure", rate: 1, shareIds: [shares[0]?.shareId] }],
    });
    const runId = await offboard({});
    const first = await waitFor(runId, 120_000);
    expect(first.status).toBe("partial");
    for (let i = 0; i < 50 && !(await run(runId)).evidence; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await run(runId)).evidence?.of).toBe(3);
    await sim.clearFaults();
    expect((await retry(runId, 2)).status).toBe(202);
    const done = await waitFor(runId, 60_000, 2);
    expect(done.status).toBe("completed");
    expect(done.counts.cancelled).toBe(4);
    await new Promise((r) => setTimeout(r, 1000));
    // "KooDrive's audit log shows N of M cancellations": M must be the 4 the run cancelled.
    expect((await run(runId)).evidence?.of).toBe(4);
  });
});
