import { beforeEach, describe, expect, it } from "vitest";
import { adminCall, auditOf, expectError } from "./helpers/admin";
import { DEMO, sim } from "./helpers/sim";
import { admin, call, clearHolds, uniqueId, waitForRun } from "./helpers/worker";

interface Started {
  runId: string;
  status: string;
  url: string;
  duplicate?: boolean;
}

interface RunDetail {
  status: string;
  source: string;
  dryRun: boolean;
  scopes: number[];
  reason: string;
  counts: Record<string, number>;
  plan: {
    shares: number;
    byScope: Record<string, number>;
    held: number;
    heldByScope: Record<string, number>;
    outOfScope: number;
  };
}

const offboard = (body: unknown, headers: Record<string, string> = {}) =>
  adminCall("/offboardings", { method: "POST", body, headers });

async function detail(runId: string): Promise<RunDetail> {
  const res = await admin(`/runs/${runId}`);
  expect(res.status).toBe(200);
  return (await res.json()) as RunDetail;
}

/** Number of cancel calls the simulator received. */
async function cancels(): Promise<number> {
  return (await sim.calls(0, 10_000)).calls.filter((c) => c.method === "POST" && /cancel/i.test(c.path))
    .length;
}

/** Dana's shares per scope, as KooDrive (the simulator) has them. */
async function byScope(state: "active" | "all" = "active"): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of await sim.shares(DEMO.leaver, state))
    out[String(s.scope)] = (out[String(s.scope)] ?? 0) + 1;
  return out;
}

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("POST /offboardings", () => {
  it("starts a run (source api) that cancels the person's shares, with the verified actor as who started it", async () => {
    expect((await sim.shares(DEMO.leaver, "active")).length).toBeGreaterThan(0);
    const { res, requestId } = await offboard({ person: DEMO.leaver, reason: "left the company" });
    expect(res.status).toBe(202);
    const started = (await res.json()) as Started;
    expect(started).toMatchObject({ runId: expect.stringMatching(/^api-[0-9a-f]{32}$/), status: "accepted" });
    expect(started.url).toBe(`https://offboard.example.com/runs/${started.runId}`);
    expect(res.headers.get("location")).toBe(started.url);
    const run = await waitForRun(started.runId);
    expect(run.status).toBe("completed");
    expect(await sim.shares(DEMO.leaver, "active")).toEqual([]);
    expect(await cancels()).toBeGreaterThan(0); // the oracle the dry-run and 4xx tests count with
    expect(await detail(started.runId)).toMatchObject({
      source: "api",
      dryRun: false,
      reason: "left the company",
    });
    const received = (await admin(`/audit?user=${DEMO.leaver}&limit=100`).then((r) => r.json())) as {
      records: Array<{
        type: string;
        actor: string;
        verifiedBy?: string;
        runId?: string;
        requestId?: string;
      }>;
    };
    expect(
      received.records.find((r) => r.type === "request.received" && r.runId === started.runId),
    ).toMatchObject({
      actor: "break-glass",
      verifiedBy: "break-glass",
      requestId,
    });
  });

  it("a dry run cancels nothing and shows the plan: shares by scope and those a hold keeps", async () => {
    const shares = await sim.shares(DEMO.leaver, "active");
    const held = shares[0];
    if (!held) throw new Error("the demo leaver has no shares");
    const hold = await admin("/holds", {
      method: "PUT",
      headers: { "content-type": "application/json", "if-match": "*" },
      body: JSON.stringify({ holds: [{ type: "share", id: held.shareId, reason: "LH-7 legal hold" }] }),
    });
    expect(hold.status).toBe(200);
    const { res } = await offboard({
      person: DEMO.leaver,
      reason: "check first",
      dryRun: true,
      scopes: [1, 2, 3],
    });
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as Started;
    expect((await waitForRun(runId)).status).toBe("dry_run");
    expect(await cancels()).toBe(0);
    expect((await sim.shares(DEMO.leaver, "active")).length).toBe(shares.length);

    const expected = await byScope();
    expected[String(held.scope)] = (expected[String(held.scope)] ?? 0) - 1;
    const { plan, counts } = await detail(runId);
    for (const [scope, n] of Object.entries(expected))
      expect(plan.byScope[scope] ?? 0, `scope ${scope}`).toBe(n);
    expect(plan.shares).toBe(shares.length - 1);
    expect(plan.held).toBe(1);
    expect(plan.heldByScope).toEqual({ [String(held.scope)]: 1 });
    expect(counts.planned).toBe(shares.length - 1);

    // The real run leaves the held share alone (the hold is respected whoever starts the run).
    const real = await offboard({ person: DEMO.leaver, reason: "go" });
    const realRun = await waitForRun(((await real.res.json()) as Started).runId);
    expect(realRun.status).toBe("completed");
    expect((await sim.shares(DEMO.leaver, "active")).map((s) => s.shareId)).toEqual([held.shareId]);
  });

  it("the same Idempotency-Key is the same run (a duplicate); the same key for another request is 422", async () => {
    const key = crypto.randomUUID();
    const body = { person: DEMO.leaver, reason: "once", dryRun: true };
    const first = await offboard(body, { "idempotency-key": key });
    expect(first.res.status).toBe(202);
    const a = (await first.res.json()) as Started;
    expect(a.duplicate).toBeUndefined();
    const again = await offboard(body, { "idempotency-key": key });
    expect(again.res.status).toBe(202);
    const b = (await again.res.json()) as Started;
    expect(b).toMatchObject({ runId: a.runId, duplicate: true });
    expect((await auditOf(again.requestId)).map((r) => r.type)).toEqual(["request.duplicate"]);

    const other = await offboard({ ...body, dryRun: false }, { "idempotency-key": key });
    await expectError(other.res, 422, "invalid_body");
    expect((await detail(a.runId)).dryRun).toBe(true);
    await waitForRun(a.runId);
    expect(await cancels()).toBe(0);

    const { res: badKey } = await offboard(body, { "idempotency-key": "has spaces in it" });
    await expectError(badKey, 400, "bad_request");
  });

  it("refuses a bad person, a missing reason or bad scopes with 4xx in our envelope, and starts nothing", async () => {
    const since = new Date().toISOString();
    for (const body of [
      { person: "not an e-mail@", reason: "x" },
      { person: "two words", reason: "x" },
      { person: "", reason: "x" },
      { person: DEMO.leaver },
      { person: DEMO.leaver, reason: "" },
      { person: DEMO.leaver, reason: "x".repeat(501) },
      { person: DEMO.leaver, reason: "x", scopes: [4] },
      { person: DEMO.leaver, reason: "x", scopes: [] },
      { person: DEMO.leaver, reason: "x", dryRun: "yes" },
      { person: DEMO.leaver, reason: "x", effectiveAt: "tomorrow" },
      { person: DEMO.leaver, reason: "x", unknown: 1 },
    ]) {
      const { res } = await offboard(body);
      await expectError(res, 422, "invalid_body");
    }
    const { res: notJson } = await offboard("{nope");
    expect(notJson.status).toBeGreaterThanOrEqual(400);
    expect(notJson.status).toBeLessThan(500);
    const listed = (await (await admin(`/runs?source=api&since=${since}`)).json()) as { runs: unknown[] };
    expect(listed.runs).toEqual([]);
    expect(await cancels()).toBe(0);
  });

  it("needs a credential (401 without one)", async () => {
    const res = await call("/offboardings", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ person: DEMO.leaver, reason: uniqueId() }),
    });
    await expectError(res, 401, "unauthorized");
  });
});
