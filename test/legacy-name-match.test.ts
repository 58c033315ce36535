/**
 * Review 3: failing reproductions for the name-match confirmation flow (see the review report).
 */
import { introspectWorkflowInstance } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { acceptLegacyRun } from "./helpers/legacy";
import { DEMO, sim } from "./helpers/sim";
import { admin, clearHolds, waitForRun } from "./helpers/worker";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("a 0.1 name match with a share left in flight, never confirmed", () => {
  it("a retry resolved to another person never sends the namesake's in-flight share as that person", async () => {
    const CARA = "1505084218764549403";
    await sim.seed({ users: [{ userId: CARA, name: "Cara Contractor", shares: 2 }], seed: 43 });
    const dana = await sim.shares(DEMO.leaver, "active");
    const inFlight = dana[0];
    if (!inFlight) throw new Error("demo leaver has no shares");
    const { runId, ledger } = await acceptLegacyRun("legacy-3", {
      hrId: "E-LEGACY-3",
      email: "cara3@partner.example",
      name: "Dana Leaver",
    });
    // 0.1 matched "Dana Leaver" by name, planned her share and failed (KooDrive outage) with its cancel in
    // flight: the ledger holds a sent row, and no plannedFor (0.1 had none).
    await ledger.addPlanned([
      {
        shareId: inFlight.shareId,
        scope: inFlight.scope,
        displayName: inFlight.displayName,
        linkUrl: "https://example.invalid/l",
        shortUrl: "https://example.invalid/s",
        expireTime: "",
        shareStatus: inFlight.status,
        state: "planned",
        reason: "",
      },
    ]);
    await ledger.markInFlight([inFlight.shareId]);
    await ledger.update({ status: "failed", koodriveUserId: DEMO.leaver, resolvedBy: "name_match" });

    // Attempt 2 waits for a confirmation of Dana that never comes.
    const second = await introspectWorkflowInstance(env.OFFBOARDING, `${runId}-r2`);
    await second.modify(async (m) => {
      await m.forceEventTimeout({ name: "wait for approval" });
    });
    expect((await admin(`/runs/${runId}/retry`, { method: "POST" })).status).toBe(202);
    expect((await waitForRun(runId, 30_000, 2)).status).toBe("expired");

    // The operator maps the leaver's e-mail to the right person and retries.
    const put = await admin("/identities", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ identities: [{ email: "cara3@partner.example", koodriveUserId: CARA }] }),
    });
    expect(put.status).toBe(200);
    expect((await admin(`/runs/${runId}/retry`, { method: "POST" })).status).toBe(202);
    const third = await waitForRun(runId, 30_000, 3);
    // The run already sent a cancel for Dana (0.1's name match): it can never act for anyone else. It fails,
    // saying so, and Dana's share gets no cancel request as Cara, nor is it recorded as cancelled.
    expect(third.status).toBe("failed");
    expect(third.detail).toContain(`already sent cancels for KooDrive user ${DEMO.leaver}`);
    const after = (await sim.shares(DEMO.leaver, "all")).find((s) => s.shareId === inFlight.shareId);
    expect(after?.cancelRequests).toBe(0);
    expect(third.shares.find((s) => s.shareId === inFlight.shareId)?.state).toBe("in_flight");
    expect((await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel")).toHaveLength(0);
  });
});

describe("a 0.1 name match that already cancelled shares, never confirmed", () => {
  it("the run does not end saying 'nothing was cancelled' while its ledger holds shares 0.1 cancelled", async () => {
    const dana = await sim.shares(DEMO.leaver, "active");
    const done = dana[0];
    if (!done) throw new Error("demo leaver has no shares");
    const { runId, ledger } = await acceptLegacyRun("legacy-4", { hrId: "E-LEGACY-4", name: "Dana Leaver" });
    // 0.1 matched by name, cancelled one share and ended partial.
    await ledger.addPlanned([
      {
        shareId: done.shareId,
        scope: done.scope,
        displayName: done.displayName,
        linkUrl: "https://example.invalid/l",
        shortUrl: "https://example.invalid/s",
        expireTime: "",
        shareStatus: done.status,
        state: "planned",
        reason: "",
      },
    ]);
    await ledger.record([{ shareId: done.shareId, state: "cancelled", code: "0", msg: "success" }]);
    await ledger.update({ status: "partial", koodriveUserId: DEMO.leaver, resolvedBy: "name_match" });

    const second = await introspectWorkflowInstance(env.OFFBOARDING, `${runId}-r2`);
    await second.modify(async (m) => {
      await m.forceEventTimeout({ name: "wait for approval" });
    });
    expect((await admin(`/runs/${runId}/retry`, { method: "POST" })).status).toBe(202);
    const run = await waitForRun(runId, 30_000, 2);
    expect(run.status).toBe("expired");
    expect(run.counts.cancelled).toBe(1);
    // The run's last word (GET /runs/:id, the audit record, a chat post) must not deny what was done.
    expect(run.detail).not.toMatch(/nothing was cancelled/);
  });
});
