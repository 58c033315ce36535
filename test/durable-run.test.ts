/**
 * The durable run under an operator's and the engine's hands: pause and resume, a Workflow gone while the
 * run waits for a confirmation, runs accepted by version 0.1, and the SCIM directory's oldest schema. Each
 * test failed before its fix (a review of the durable run found them).
 */
import { evictDurableObject, introspectWorkflowInstance, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/env";
import { sweepRuns } from "../src/offboarding/sweep";
import { auditStore } from "../src/services";
import { postHr, sweep } from "./helpers/env";
import { acceptLegacyRun } from "./helpers/legacy";
import { DEMO, sim } from "./helpers/sim";
import {
  admin,
  clearHolds,
  offboardedEvent,
  sendHr,
  uniqueId,
  waitForRun,
  waitForStatus,
} from "./helpers/worker";

const LEAVER = "1505084218764549471";
const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeEach(async () => {
  await sim.reset();
  await clearHolds();
});

describe("a replay after the effectiveAt sleep", () => {
  // The Workflow is replayed from the top whenever its engine restarts (resume after pause, eviction while
  // sleeping). The replayed `step.sleepUntil(name, until)` then gets a timestamp in the past.
  it("a run paused while it waits for effectiveAt and resumed after it still revokes", async () => {
    await sim.seed({ users: [{ userId: LEAVER, name: "Pat Paused", shares: 3 }], seed: 47 });
    const event = offboardedEvent({ id: "E-9701", koodriveUserId: LEAVER });
    event.data.effectiveAt = new Date(Date.now() + 1500).toISOString();
    const { runId } = (await (await sendHr(event)).json()) as { runId: string };
    await sleepMs(500);
    const instance = await env.OFFBOARDING.get(runId);
    await instance.pause();
    await sleepMs(2000); // effectiveAt passes while paused
    await instance.resume();
    const run = await waitForRun(runId, 20_000);
    expect(run.detail).not.toMatch(/time-traveler|pause/);
    expect(run.status).toBe("completed");
    expect(await sim.shares(LEAVER, "active")).toHaveLength(0);
  });
});

async function startConfirmRun(): Promise<string> {
  const id = uniqueId();
  const body = JSON.stringify(offboardedEvent({ id: `E-97${id.slice(-4)}`, name: "Dana Leaver" }));
  const res = await postHr(body, { RESOLVE_BY_NAME: "confirm" }, id);
  expect(res.status).toBe(202);
  return ((await res.json()) as { runId: string }).runId;
}

async function statusOf(runId: string): Promise<{ status: string; detail?: string }> {
  return (await (await admin(`/runs/${runId}`)).json()) as { status: string; detail?: string };
}

/**
 * Ends a run a test leaves waiting (for a confirmation, 72 h): its Workflow instances terminated and the
 * run closed, so nothing of it keeps running into the next test file (the sweeper lists every active run).
 */
async function endRun(runId: string, attempts = 3): Promise<void> {
  for (let n = 1; n <= attempts; n++) {
    try {
      await (await env.OFFBOARDING.get(n === 1 ? runId : `${runId}-r${n}`)).terminate();
    } catch {
      // no such attempt, or already finished
    }
  }
  await env.RUNS.getByName(runId).update({ status: "unresolved", detail: "ended by the test" });
  await env.AUDIT.delete(`active-run:${runId}`);
}

const confirmRun = (runId: string) =>
  admin(`/runs/${runId}/confirm`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-audit-actor": "alice@example.com" },
    body: JSON.stringify({ koodriveUserId: DEMO.leaver }),
  });

describe("a run waiting for an operator", () => {
  beforeEach(async () => {
    await sim.seed({ demo: true });
  });

  it("pausing a run that waits for confirmation does not end it (it still waits after resume)", async () => {
    const runId = await startConfirmRun();
    await waitForStatus(runId, "awaiting_approval");
    const instance = await env.OFFBOARDING.get(runId);
    await instance.pause();
    await sleepMs(1000);
    // Paused by an operator: still waiting for a "yes", not "not confirmed within 72 h".
    expect(await statusOf(runId)).toMatchObject({ status: "awaiting_approval" });
    await instance.resume();
    await sleepMs(1000);
    expect(await statusOf(runId)).toMatchObject({ status: "awaiting_approval" });
    expect((await confirmRun(runId)).status).toBe(202);
    expect((await waitForRun(runId)).status).toBe("completed");
  });

  it("a confirmed run whose Workflow is gone is picked up by the next sweep (as the confirm route says)", async () => {
    const runId = await startConfirmRun();
    await waitForStatus(runId, "awaiting_approval");
    await (await env.OFFBOARDING.get(runId)).terminate();
    await sleepMs(500);
    expect((await confirmRun(runId)).status).toBe(202);
    // Confirmed (status running) but the confirmation deadline, 72 h ahead, is still the run's waitUntil:
    // the sweeper reads the run as asleep and skips it.
    await sweep();
    const run = await waitForRun(runId, 10_000);
    expect(run.status).toBe("completed");
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(0);
  });

  it("an unconfirmed run whose Workflow is gone is not orphaned in needs_confirmation forever", async () => {
    const runId = await startConfirmRun();
    await waitForStatus(runId, "awaiting_approval");
    await (await env.OFFBOARDING.get(runId)).terminate();
    await sleepMs(500);
    const config = loadConfig(env);
    // Long after the confirmation deadline: the run must be resumed (or ended), not skipped forever.
    const report = await sweepRuns(env, config, auditStore(env.AUDIT, config), Date.now() + 73 * 3_600_000);
    expect(report.resumed).toContain(runId);
    // The new attempt waits again, with the deadline the first one gave (an operator's window never restarts).
    const before = (await env.RUNS.getByName(runId).getMeta())?.confirmDeadline;
    await waitForStatus(runId, "awaiting_approval");
    expect((await env.RUNS.getByName(runId).getMeta())?.confirmDeadline).toBe(before);
    await endRun(runId);
  });
});

describe("runs accepted by the previous version", () => {
  beforeEach(async () => {
    await sim.seed({ demo: true });
  });

  // Before this deploy a unique name match acted on its own (no RESOLVE_BY_NAME, no `nameMatch` on the
  // request) and was stored as the run's koodriveUserId. A new attempt (sweeper resume or admin retry)
  // reads it as settled and cancels, although the policy for such runs is now `off`.
  it("a run resolved by name under the old code is not acted on by a new attempt without confirmation", async () => {
    const { runId, ledger } = await acceptLegacyRun("legacy-1", { hrId: "E-LEGACY", name: "Dana Leaver" });
    await ledger.update({
      status: "failed",
      koodriveUserId: DEMO.leaver,
      resolvedBy: "name_match",
      detail: "KooDrive outage",
    });
    const before = await sim.shares(DEMO.leaver, "active");
    expect(before.length).toBeGreaterThan(0);
    const res = await admin(`/runs/${runId}/retry`, { method: "POST" });
    expect(res.status).toBe(202);
    // It waits for an operator, as a `confirm` match does, and cancels nothing meanwhile.
    await waitForStatus(runId, "awaiting_approval");
    expect((await env.RUNS.getByName(runId).getMeta())?.candidate?.koodriveUserId).toBe(DEMO.leaver);
    const cancels = (await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel");
    expect(cancels).toHaveLength(0);
    await endRun(runId);
  });
});

describe("a name match from version 0.1, never confirmed", () => {
  beforeEach(async () => {
    await sim.seed({ demo: true });
  });

  it("once its confirmation window closes, a retry resolves afresh (the identity map now knows the leaver)", async () => {
    const CARA = "1505084218764549402";
    await sim.seed({ users: [{ userId: CARA, name: "Cara Contractor", shares: 2 }], seed: 42 });
    const { runId, ledger } = await acceptLegacyRun("legacy-2", {
      hrId: "E-LEGACY-2",
      email: "cara2@partner.example",
      name: "Dana Leaver",
    });
    await ledger.update({ status: "failed", koodriveUserId: DEMO.leaver, resolvedBy: "name_match" });
    // The operator never confirms the 0.1 match: the wait of attempt 2 times out.
    const second = await introspectWorkflowInstance(env.OFFBOARDING, `${runId}-r2`);
    await second.modify(async (m) => {
      await m.forceEventTimeout({ name: "wait for approval" });
    });
    expect((await admin(`/runs/${runId}/retry`, { method: "POST" })).status).toBe(202);
    const expired = await waitForRun(runId, 30_000, 2);
    expect(expired.status).toBe("expired");
    expect(expired.koodriveUserId).toBeNull(); // the unconfirmed match is no resolution any more

    const put = await admin("/identities", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ identities: [{ email: "cara2@partner.example", koodriveUserId: CARA }] }),
    });
    expect(put.status).toBe(200);
    expect((await admin(`/runs/${runId}/retry`, { method: "POST" })).status).toBe(202);
    const third = await waitForRun(runId, 30_000, 3);
    expect(third).toMatchObject({ status: "completed", koodriveUserId: CARA, resolvedBy: "identity_map" });
    expect((await sim.shares(DEMO.leaver, "all")).filter((s) => s.cancelRequests > 0)).toHaveLength(0);
    expect(await sim.shares(CARA, "active")).toHaveLength(0);
  });
});

describe("the SCIM directory migration from its first schema", () => {
  // src/sources/scim/tables.ts says "a directory of any age ... ends on the same schema". The first SCIM
  // directory on main (28d3fd6) had no runs_started / deleting columns; 3ed7073 added them only to
  // `CREATE TABLE IF NOT EXISTS`, which leaves an existing table as it is.
  it("a directory created by 28d3fd6 (no runs_started, no deleting) still opens and answers", async () => {
    const stub = env.SCIM.getByName(`migration-v0-${crypto.randomUUID()}`);
    const now = new Date().toISOString();
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      for (const t of sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray()) {
        if (!String(t.name).startsWith("_cf") && !String(t.name).startsWith("sqlite")) {
          sql.exec(`DROP TABLE ${String(t.name)}`);
        }
      }
      sql.exec(`CREATE TABLE users (
        id TEXT PRIMARY KEY, user_name TEXT NOT NULL UNIQUE COLLATE NOCASE, external_id TEXT,
        attributes TEXT NOT NULL, created TEXT NOT NULL, last_modified TEXT NOT NULL, version INTEGER NOT NULL,
        deactivations INTEGER NOT NULL DEFAULT 0)`);
      sql.exec(
        "INSERT INTO users (id, user_name, attributes, created, last_modified, version) VALUES (?, ?, ?, ?, ?, 1)",
        "u1",
        "old@example.com",
        JSON.stringify({ userName: "old@example.com", active: true }),
        now,
        now,
      );
    });
    await evictDurableObject(stub);
    const found = (await stub.find({ attr: "userName", value: "OLD@example.com" }, 1, 10)) as {
      total: number;
    };
    expect(found.total).toBe(1);
  });
});
