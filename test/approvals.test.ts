import { introspectWorkflowInstance } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { runIdFor } from "../src/offboarding/start";
import { callWith, postHr } from "./helpers/env";
import { freeLeaver, runView } from "./helpers/leaver";
import { sim } from "./helpers/sim";
import { createToken, withToken } from "./helpers/tokens";
import {
  ADMIN_TOKEN,
  admin,
  clearHolds,
  offboardedEvent,
  uniqueId,
  waitForRun,
  waitForStatus,
} from "./helpers/worker";

/** Issue 11: the approval gate, four eyes, the layoff guard, and scheduled runs that can be changed. */

const BIG = "1505084218764549701";
const SMALL = "1505084218764549702";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({
    users: [
      { userId: BIG, name: "Bea Big", shares: 30 },
      { userId: SMALL, name: "Sam Small", shares: 3 },
      { userId: "1505084218764547200", name: "Ada Admin", shares: 0 },
    ],
    seed: 71,
  });
  await clearHolds();
  await freeLeaver(BIG);
  await freeLeaver(SMALL);
});

const json = (body: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** `POST /offboardings` as break-glass (the requester) with `vars` over the env. */
async function requestRun(vars: Record<string, string>, koodriveUserId: string, extra = {}): Promise<string> {
  const res = await callWith(vars, "/offboardings", {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ person: koodriveUserId, reason: "left", ...extra }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { runId: string }).runId;
}

/** Shares of the user still active in KooDrive (the simulator's own state). */
async function activeOf(userId: string): Promise<number> {
  return (await sim.shares(userId, "active")).length;
}

async function auditOf(runId: string, type: string) {
  const res = await admin("/audit?limit=100");
  const { records } = (await res.json()) as {
    records: Array<{
      runId?: string;
      type: string;
      status: string;
      actor: string;
      details?: Record<string, unknown>;
    }>;
  };
  return records.filter((r) => r.runId === runId && r.type === type);
}

describe("the approval gate", () => {
  it("waits with its plan, refuses the requester (four eyes), runs once another operator approves, once", async () => {
    const runId = await requestRun({ APPROVAL_REQUIRED: "api" }, BIG);
    await waitForStatus(runId, "awaiting_approval");
    const waiting = (await runView(runId)) as unknown as {
      approval: { reasons: string[]; planShares: number; planDigest: string; requester: string };
    };
    expect(waiting.approval).toMatchObject({ reasons: ["source"], planShares: 30, requester: "break-glass" });
    expect(waiting.approval.planDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(await activeOf(BIG)).toBe(30);

    // The requester (break-glass asked for it) cannot approve their own run.
    const own = await admin(`/runs/${runId}/approve`, json({}));
    expect(own.status).toBe(403);
    expect((await runView(runId)).status).toBe("awaiting_approval");

    // A viewer cannot decide at all.
    const viewer = await createToken("viewer");
    expect((await withToken(viewer.token, `/runs/${runId}/approve`, json({}))).status).toBe(403);

    const operator = await createToken("operator");
    const ok = await withToken(operator.token, `/runs/${runId}/approve`, json({ reason: "checked" }));
    expect(ok.status).toBe(202);
    const done = await waitForRun(runId);
    expect(done.status).toBe("completed");
    expect(done.counts.cancelled).toBe(30);
    expect(await activeOf(BIG)).toBe(0);

    // A second decision is refused and audited; every decision names who, how, and the plan approved.
    const again = await withToken(operator.token, `/runs/${runId}/reject`, json({ reason: "too late" }));
    expect(again.status).toBe(409);
    const decisions = await auditOf(runId, "run.decision");
    expect(decisions.map((d) => d.status).sort()).toEqual(["approved", "refused", "refused"]);
    const approved = decisions.find((d) => d.status === "approved");
    expect(approved?.actor).toBe(`token:${operator.name} (${operator.id})`);
    expect(approved?.details).toMatchObject({
      via: "api-token",
      planShares: 30,
      planDigest: waiting.approval.planDigest,
    });
  });

  it("a rejection ends the run `rejected` with nothing done", async () => {
    const runId = await requestRun({ APPROVAL_REQUIRED: "api,hr" }, BIG);
    await waitForStatus(runId, "awaiting_approval");
    const operator = await createToken("operator");
    expect((await withToken(operator.token, `/runs/${runId}/reject`, json({}))).status).toBe(422);
    const res = await withToken(operator.token, `/runs/${runId}/reject`, json({ reason: "wrong person" }));
    expect(res.status).toBe(202);
    const done = await waitForRun(runId);
    expect(done.status).toBe("rejected");
    expect(done.detail).toContain("wrong person");
    expect(await activeOf(BIG)).toBe(30);
    // Not retryable: a rejection is a decision.
    expect((await admin(`/runs/${runId}/retry`, { method: "POST" })).status).toBe(409);
  });

  it("no decision in time: `expired`, nothing cancelled", async () => {
    const id = uniqueId();
    const runId = await runIdFor("hr", id);
    const instance = await introspectWorkflowInstance(env.OFFBOARDING, runId);
    await instance.modify(async (m) => {
      await m.forceEventTimeout({ name: "wait for approval" });
    });
    const res = await postHr(
      offboardedEvent({ id: "E-7101", koodriveUserId: BIG }),
      { APPROVAL_REQUIRED: "hr" },
      id,
    );
    expect(res.status).toBe(202);
    const done = await waitForRun(runId);
    expect(done.status).toBe("expired");
    expect(done.detail).toContain("no decision within 72 h");
    expect(await activeOf(BIG)).toBe(30);
  });

  it("APPROVAL_ABOVE_SHARES holds a large run and lets a small one through", async () => {
    const vars = { APPROVAL_ABOVE_SHARES: "10" };
    const big = await requestRun(vars, BIG);
    const small = await requestRun(vars, SMALL);
    expect((await waitForRun(small)).status).toBe("completed");
    expect(await activeOf(SMALL)).toBe(0);
    await waitForStatus(big, "awaiting_approval");
    const view = (await runView(big)) as unknown as { approval: { reasons: string[]; detail: string } };
    expect(view.approval.reasons).toEqual(["above_shares"]);
    expect(view.approval.detail).toContain("30 shares, more than 10");
    expect(await activeOf(BIG)).toBe(30);
    const operator = await createToken("operator");
    expect((await withToken(operator.token, `/runs/${big}/cancel`, json({ reason: "not now" }))).status).toBe(
      200,
    );
    expect((await waitForRun(big)).status).toBe("withdrawn");
    expect(await activeOf(BIG)).toBe(30);
  });
});

describe("bad requests", () => {
  it("an unknown or malformed run is 404, a bad body 422: nothing is written", async () => {
    const operator = await createToken("operator");
    for (const runId of ["hr-00000000000000000000000000000000", "not-a-run", "..%2F..%2Ftokens"])
      for (const action of ["approve", "reject", "cancel"]) {
        const res = await withToken(operator.token, `/runs/${runId}/${action}`, json({ reason: "x" }));
        expect(res.status).toBe(404);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
      }
    const unknownField = await withToken(
      operator.token,
      "/runs/hr-00000000000000000000000000000000/approve",
      json({ reason: "ok", koodriveUserId: "123" }),
    );
    expect(unknownField.status).toBe(422);
    expect(await env.RUNS.getByName("hr-00000000000000000000000000000000").getMeta()).toBeNull();
  });
});

describe("dry runs and approval", () => {
  it("a dry run under an approval policy does not wait, and says a real run would", async () => {
    const runId = await requestRun({ APPROVAL_REQUIRED: "api", APPROVAL_ABOVE_SHARES: "10" }, BIG, {
      dryRun: true,
    });
    const done = await waitForRun(runId);
    expect(done.status).toBe("dry_run");
    expect(done.detail).toBe(
      "dry run: 30 share(s) would be cancelled (a real run would wait for approval (runs from api need it) and approval (more than 10 shares))",
    );
    expect(await activeOf(BIG)).toBe(30);
  });
});

describe("the layoff guard", () => {
  it("holds the 11th automated run of a burst of 11 with threshold 10", async () => {
    const vars = { BURST_APPROVAL_THRESHOLD: "10", OFFBOARDING_ACTIONS: "revoke_shares" };
    // Ten dry runs are never counted (they change nothing); eleven real HR runs for people nobody maps.
    const runIds: string[] = [];
    for (let i = 0; i < 11; i++) {
      const id = uniqueId("burst");
      runIds.push(await runIdFor("hr", id));
      const who = i === 10 ? { koodriveUserId: SMALL } : { email: `nobody-${i}-${id}@example.com` };
      expect((await postHr(offboardedEvent({ id: `E-B${i}`, ...who }), vars, id)).status).toBe(202);
    }
    const last = runIds[10] as string;
    await waitForStatus(last, "awaiting_approval");
    const view = (await runView(last)) as unknown as { approval: { reasons: string[] } };
    expect(view.approval.reasons).toEqual(["burst"]);
    expect(await activeOf(SMALL)).toBe(3);
    // The first ten were not held (they end unresolved: nobody is mapped).
    for (const runId of runIds.slice(0, 10)) expect((await waitForRun(runId)).status).toBe("unresolved");
    const operator = await createToken("operator");
    expect((await withToken(operator.token, `/runs/${last}/approve`, json({}))).status).toBe(202);
    expect((await waitForRun(last)).status).toBe("completed");
    expect(await activeOf(SMALL)).toBe(0);
  });
});

describe("scheduled runs can be changed", () => {
  it("a run waiting for its effectiveAt is moved, then withdrawn: nothing is ever cancelled", async () => {
    const later = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const runId = await requestRun({}, SMALL, { effectiveAt: later });
    for (let i = 0; i < 100 && !(await env.RUNS.getByName(runId).getMeta())?.scheduled; i++)
      await new Promise((r) => setTimeout(r, 50));
    const operator = await createToken("operator");
    const past = await withToken(
      operator.token,
      `/runs/${runId}/reschedule`,
      json({ effectiveAt: "2020-01-01T00:00:00Z" }),
    );
    expect(past.status).toBe(422);
    const moved = new Date(Date.now() + 5 * 86_400_000).toISOString();
    const res = await withToken(operator.token, `/runs/${runId}/reschedule`, json({ effectiveAt: moved }));
    expect(res.status).toBe(200);
    // The run waits for the new moment (the sweeper too).
    for (let i = 0; i < 100 && (await env.RUNS.getByName(runId).getMeta())?.waitUntil !== moved; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect((await env.RUNS.getByName(runId).getMeta())?.waitUntil).toBe(moved);

    expect((await withToken(operator.token, `/runs/${runId}/cancel`, json({}))).status).toBe(422);
    const cancelled = await withToken(operator.token, `/runs/${runId}/cancel`, json({ reason: "rehired" }));
    expect(cancelled.status).toBe(200);
    const done = await waitForRun(runId);
    expect(done.status).toBe("withdrawn");
    expect(await activeOf(SMALL)).toBe(3);
    expect((await auditOf(runId, "run.cancel")).map((r) => r.status)).toEqual(["withdrawn"]);
    expect((await auditOf(runId, "run.reschedule")).map((r) => r.status)).toEqual(["rescheduled"]);
    // Ended: neither can be done again.
    expect((await withToken(operator.token, `/runs/${runId}/cancel`, json({ reason: "again" }))).status).toBe(
      409,
    );
  });

  it("a run accepted with its effectiveAt ahead is withdrawn at once, wherever its Workflow is: it never acts", async () => {
    const later = new Date(Date.now() + 86_400_000).toISOString();
    const id = uniqueId();
    const runId = await runIdFor("hr", id);
    const event = offboardedEvent({ id: "E-7301", koodriveUserId: SMALL });
    event.data.effectiveAt = later;
    // Withdrawn right after the 202: the run may not even have reached its schedule step yet.
    const accepted = await postHr(event, {}, id);
    expect(accepted.status).toBe(202);
    const operator = await createToken("operator");
    const res = await withToken(operator.token, `/runs/${runId}/cancel`, json({ reason: "rehired" }));
    expect(res.status).toBe(200);
    const done = await waitForRun(runId);
    expect(done.status).toBe("withdrawn");
    expect(await activeOf(SMALL)).toBe(3);
    expect((await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel")).toHaveLength(0);
  });

  it("a run that already acts cannot be withdrawn or moved (409), and is not changed", async () => {
    const runId = await requestRun({}, SMALL);
    const done = await waitForRun(runId);
    expect(done.status).toBe("completed");
    const operator = await createToken("operator");
    expect((await withToken(operator.token, `/runs/${runId}/cancel`, json({ reason: "late" }))).status).toBe(
      409,
    );
    const soon = new Date(Date.now() + 86_400_000).toISOString();
    expect(
      (await withToken(operator.token, `/runs/${runId}/reschedule`, json({ effectiveAt: soon }))).status,
    ).toBe(409);
    expect((await runView(runId)).status).toBe("completed");
  });
});
