import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { cancelRun } from "../src/offboarding/decide";
import { newRunRequest } from "../src/offboarding/start";
import { freeLeaver } from "./helpers/leaver";
import { sim } from "./helpers/sim";
import { clearHolds, uniqueId, waitForRun } from "./helpers/worker";

/**
 * Review 5: the Workflow's start step reads the ledger (`getMeta`: not withdrawn) and then writes
 * `update({ status: "running" })` in a second Durable Object call. A cancel (an operator, a reactivation)
 * landing between the two is overwritten. This test performs that interleaving with the very calls the start
 * step makes (workflow.ts `start`), then lets the run's Workflow go on.
 */

const KD = "1505084218764549711";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ users: [{ userId: KD, name: "Rae Race", shares: 5 }], seed: 72 });
  await clearHolds();
  await freeLeaver(KD);
});

describe("review5: a cancel between the start step's read and its write", () => {
  it("review5: a run withdrawn between the start step's getMeta and update stays withdrawn and never acts", async () => {
    const request = await newRunRequest({
      source: "hr",
      eventId: uniqueId("race"),
      subject: { hrId: "E-RACE", koodriveUserId: KD },
      effectiveAt: new Date(Date.now() + 4_000).toISOString(),
      actions: ["revoke_shares"],
      requestId: uniqueId("req"),
    } as Parameters<typeof newRunRequest>[0]);
    const ledger = env.RUNS.getByName(request.runId);
    await ledger.accept({
      ...request,
      nameMatch: "off",
      approvalPolicy: { source: false, aboveShares: 0, timeoutHours: 72 },
    } as never);

    // The start step: its read sees the run accepted (not withdrawn)...
    const read = await ledger.getMeta();
    expect(read?.status).toBe("accepted");
    // ...a reactivation / an operator withdraws it now (accepted, effectiveAt ahead: allowed)...
    const cancelled = await cancelRun(env, request.runId, "rehired", "source:okta");
    expect(cancelled.ok).toBe(true);
    // ...and the start step's write follows.
    await ledger.update({ status: "running" });
    const after = (await ledger.getMeta())?.status;

    // Its Workflow goes on (the start step's result was the read above); nothing may be cancelled.
    await env.OFFBOARDING.create({ id: request.runId, params: { runId: request.runId, attempt: 1 } });
    await waitForRun(request.runId, 20_000).catch(() => undefined);
    const cancelCalls = (await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel").length;
    const final = (await ledger.getMeta())?.status;
    expect({ after, final, cancelCalls, active: (await sim.shares(KD, "active")).length }).toEqual({
      after: "withdrawn",
      final: "withdrawn",
      cancelCalls: 0,
      active: 5,
    });
  });
});
