import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { postHr, sweep } from "./helpers/env";
import { DEMO, sim } from "./helpers/sim";
import { admin, clearHolds, offboardedEvent, uniqueId, waitForRun, waitForStatus } from "./helpers/worker";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("a confirmed name match whose Workflow cannot be woken", () => {
  it("is resumed by the next sweep, not 72 hours later", async () => {
    const id = uniqueId();
    const body = JSON.stringify(offboardedEvent({ id: "E-9101", name: "Dana Leaver" }));
    const res = await postHr(body, { RESOLVE_BY_NAME: "confirm" }, id);
    const { runId } = (await res.json()) as { runId: string };
    await waitForStatus(runId, "awaiting_approval");
    // The run's Workflow is gone (terminated, or the wake-up event is lost).
    await (await env.OFFBOARDING.get(runId)).terminate();

    const ok = await admin(`/runs/${runId}/confirm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ koodriveUserId: DEMO.leaver }),
    });
    expect(ok.status).toBe(202); // "recorded; a run that cannot be woken is resumed by the sweeper"
    await sweep(); // STUCK_RUN_MINUTES=0 in tests: any silent unfinished run is stuck
    const run = await waitForRun(runId, 15_000, 2);
    expect(run).toMatchObject({ status: "completed", koodriveUserId: DEMO.leaver });
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(0);
  });
});
