import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { callWith, sweep } from "./helpers/env";
import { freeLeaver } from "./helpers/leaver";
import { sim } from "./helpers/sim";
import { createToken, withToken } from "./helpers/tokens";
import { ADMIN_TOKEN, clearHolds, waitForRun, waitForStatus } from "./helpers/worker";

/** Review 5: a rejected run whose Workflow missed its wake-up is resumed by the sweeper. */

const BIG = "1505084218764549701";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({
    users: [
      { userId: BIG, name: "Bea Big", shares: 30 },
      { userId: "1505084218764547200", name: "Ada Admin", shares: 0 },
    ],
    seed: 71,
  });
  await clearHolds();
  await freeLeaver(BIG);
});

const json = (body: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

describe("review5: a rejected run resumed by the sweeper", () => {
  it("review5: a rejected run whose Workflow missed the wake-up must not cancel anything when the sweeper resumes it", async () => {
    const res = await callWith({ APPROVAL_REQUIRED: "api" }, "/offboardings", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ person: BIG, reason: "left" }),
    });
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    await waitForStatus(runId, "awaiting_approval");
    // The run's Workflow is gone (terminated, or the wake-up is lost): the documented sweeper path.
    await (await env.OFFBOARDING.get(runId)).terminate();

    const operator = await createToken("operator");
    const rejected = await withToken(operator.token, `/runs/${runId}/reject`, json({ reason: "HR mistake" }));
    expect(rejected.status).toBe(202);
    await sweep(); // STUCK_RUN_MINUTES=0 in tests
    const done = await waitForRun(runId, 15_000, 2);
    expect(await sim.shares(BIG, "active")).toHaveLength(30);
    expect(done.status).toBe("rejected");
  });
});
