import { beforeEach, describe, expect, it } from "vitest";
import { sim } from "./helpers/sim";
import { clearHolds, offboardedEvent, sendHr, waitForRun } from "./helpers/worker";

const LEAVER = "1505084218764549500";
const SHARES = 120;

beforeEach(async () => {
  await sim.reset();
  await clearHolds();
});

/**
 * Chaos: 20% of calls fail with 5xx, 429 bursts, latency spikes, shares failing inside batches, `code` as a
 * string, short and empty pages. Deterministic: each seed fails the same calls every time.
 */
describe.each([101, 202, 303])("chaos run (seed %i)", (seed) => {
  it("ends terminal with per-share outcomes that match KooDrive's final state, none cancelled twice", async () => {
    await sim.seed({ users: [{ userId: LEAVER, name: `Chaos ${seed}`, shares: SHARES }], seed });
    await sim.quirks({ shortPages: true, emptyPages: true, codeAsString: "alternate" });
    await sim.faults({
      seed,
      rules: [
        { endpoint: "*", kind: "http5xx", rate: 0.2, status: [500, 502, 503][seed % 3] },
        { endpoint: "list", kind: "http429", next: 2, retryAfter: 1 },
        { endpoint: "*", kind: "http429", rate: 0.05, retryAfter: 0 },
        { endpoint: "*", kind: "latency", rate: 0.1, ms: 150 },
        { endpoint: "cancel", kind: "shareFailure", rate: 0.15 },
      ],
    });
    const res = await sendHr(offboardedEvent({ id: `E-chaos-${seed}`, koodriveUserId: LEAVER }));
    expect(res.status).toBe(202);
    const run = await waitForRun(((await res.json()) as { runId: string }).runId, 120_000);
    expect(["completed", "partial"]).toContain(run.status);

    const simShares = await sim.shares(LEAVER, "all");
    const activeInKooDrive = new Set(simShares.filter((s) => s.cancelledAt === null).map((s) => s.shareId));
    expect(new Set(run.shares.map((s) => s.shareId))).toEqual(new Set(simShares.map((s) => s.shareId)));
    for (const share of run.shares) {
      const reportedActive = share.state === "failed" || share.state === "still_active";
      expect([share.shareId, reportedActive]).toEqual([share.shareId, activeInKooDrive.has(share.shareId)]);
      expect(["cancelled", "already_gone", "failed", "still_active"]).toContain(share.state);
    }
    expect(run.status).toBe(activeInKooDrive.size === 0 ? "completed" : "partial");
    for (const s of simShares) {
      expect(s.cancelSuccesses).toBeLessThanOrEqual(1);
      expect(s.cancelAfterCancelled).toBe(0);
    }
    const stats = await sim.stats();
    expect(Object.keys(stats.statuses).some((status) => Number(status) >= 500)).toBe(true);
    expect(stats.statuses["429"] ?? 0).toBeGreaterThan(0);
  });
});
