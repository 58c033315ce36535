import { introspectWorkflowInstance } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { runIdFor } from "../src/offboarding/start";
import { sim } from "./helpers/sim";
import { admin, clearHolds, offboardedEvent, sendHr, uniqueId, waitForRun } from "./helpers/worker";

const LEAVER = "1505084218764549300";

beforeEach(async () => {
  await sim.reset();
  await clearHolds();
});

describe("durability: nothing lost, nothing done twice", () => {
  it("a cancel whose answer is lost is confirmed on retry, not reported as someone else's doing", async () => {
    await sim.seed({ users: [{ userId: LEAVER, name: "Lou Lost", shares: 150 }], seed: 21 });
    // The first cancel call is processed by KooDrive but its answer never arrives.
    await sim.faults({ rules: [{ endpoint: "cancel", kind: "lostResponse", next: 1, status: 502 }] });
    const res = await sendHr(offboardedEvent({ id: "E-4001", koodriveUserId: LEAVER }));
    const run = await waitForRun(((await res.json()) as { runId: string }).runId);
    expect(run.status).toBe("completed");
    expect(run.counts.cancelled).toBe(150);
    expect(run.counts.already_gone).toBe(0);
    const all = await sim.shares(LEAVER, "all");
    expect(all.every((s) => s.cancelSuccesses === 1)).toBe(true);
    // Only the lost batch was re-sent (100 ids), and each of those shares exactly once more.
    expect(all.filter((s) => s.cancelRequests === 2)).toHaveLength(100);
    expect(all.filter((s) => s.cancelRequests > 2)).toHaveLength(0);
  });

  it("a Workflow step that fails mid-way is retried without losing or repeating work", async () => {
    await sim.seed({ users: [{ userId: LEAVER, name: "Stu Step", shares: 250 }], seed: 22 });
    // Every attempt of the first 12 cancel calls is processed but answered 503: each of the 3 batches
    // exhausts the client's 4 attempts, so the step itself fails and the Workflow retries it.
    await sim.faults({ rules: [{ endpoint: "cancel", kind: "lostResponse", next: 12, status: 503 }] });
    const id = uniqueId();
    const runId = await runIdFor("hr", id);
    const instance = await introspectWorkflowInstance(env.OFFBOARDING, runId);
    await instance.modify(async (m) => {
      await m.disableRetryDelays();
    });
    const res = await sendHr(offboardedEvent({ id: "E-4002", koodriveUserId: LEAVER }), { id });
    expect(((await res.json()) as { runId: string }).runId).toBe(runId);
    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    expect(run.counts.cancelled).toBe(250);
    expect(run.shares.every((s) => s.state === "cancelled")).toBe(true);
    const all = await sim.shares(LEAVER, "all");
    expect(all.every((s) => s.cancelSuccesses === 1)).toBe(true);
    const cancels = (await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel");
    // 12 lost calls, then one replay per batch: nothing beyond what the failure forced.
    expect(cancels).toHaveLength(15);
    const audited = (
      (await (await admin(`/audit?user=${LEAVER}&limit=100`)).json()) as {
        records: Array<{ type: string; shares?: Array<{ shareId: string }> }>;
      }
    ).records
      .filter((r) => r.type === "shares.cancelled")
      .flatMap((r) => r.shares ?? []);
    expect(new Set(audited.map((s) => s.shareId)).size).toBe(250);
  });
});

describe("paging across steps", () => {
  it("lists each page once (the next step's first page is fetched ahead) and verifies only after every cancel", async () => {
    await sim.quirks({ shortPages: false, emptyPages: false, codeAsString: "never" });
    // 15 pages: two plan steps (10 pages + 5), the second starting from the page fetched ahead.
    await sim.seed({ users: [{ userId: LEAVER, name: "Pia Pages", shares: 1500 }], seed: 25 });
    const res = await sendHr(offboardedEvent({ id: "E-4004", koodriveUserId: LEAVER }));
    const run = await waitForRun(((await res.json()) as { runId: string }).runId);
    expect(run.status).toBe("completed");
    expect(run.counts.cancelled).toBe(1500);
    const calls = (await sim.calls(0)).calls;
    const lists = calls.filter((c) => c.endpoint === "list");
    const cancels = calls.filter((c) => c.endpoint === "cancel");
    // 15 plan pages + 1 verify page; no page fetched twice, none fetched and thrown away.
    expect(lists).toHaveLength(16);
    expect(new Set(lists.slice(0, 15).map((c) => c.query)).size).toBe(15);
    expect(cancels).toHaveLength(15);
    // The verify listing is KooDrive's answer after every cancel: never a page fetched before them.
    const verify = lists.at(-1);
    expect(cancels.every((c) => c.seq < (verify?.seq ?? 0))).toBe(true);
    expect((await sim.shares(LEAVER, "all")).every((s) => s.cancelSuccesses === 1)).toBe(true);
  });
});

describe("verification catches what the plan never saw", () => {
  it("plans and cancels shares that appear after planning, in another pass", async () => {
    await sim.seed({ users: [{ userId: LEAVER, name: "Nia New", shares: 120 }], seed: 23 });
    // Slow cancels leave a window between planning and verification.
    await sim.faults({ rules: [{ endpoint: "cancel", kind: "latency", rate: 1, ms: 1000 }] });
    const res = await sendHr(offboardedEvent({ id: "E-4003", koodriveUserId: LEAVER }));
    const runId = ((await res.json()) as { runId: string }).runId;
    const deadline = Date.now() + 20_000;
    while ((await sim.calls(0)).calls.every((c) => c.endpoint !== "cancel") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // Planning is over (a cancel has been sent): the leaver shares 5 more files.
    await sim.seed({ users: [{ userId: LEAVER, name: "Nia New", shares: 5 }], seed: 24 });
    const run = await waitForRun(runId, 60_000);
    expect(run.status).toBe("completed");
    expect(run.counts.cancelled).toBe(125);
    expect(await sim.shares(LEAVER, "active")).toHaveLength(0);
  });
});
