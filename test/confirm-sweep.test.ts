import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../src/index";
import { callWith, signedHrHeaders } from "./helpers/env";
import { DEMO, sim } from "./helpers/sim";
import { admin, clearHolds, offboardedEvent, uniqueId, waitForRun } from "./helpers/worker";

async function sweep() {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/5 * * * *" }), env as never, ctx);
  await waitOnExecutionContext(ctx);
}

async function waitForStatus(runId: string, status: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await admin(`/runs/${runId}`);
    if (res.status === 200 && ((await res.json()) as { status: string }).status === status) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${runId} did not reach ${status}`);
}

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("a confirmed name match whose Workflow cannot be woken", () => {
  it("is resumed by the next sweep, not 72 hours later", async () => {
    const id = uniqueId();
    const body = JSON.stringify(offboardedEvent({ id: "E-9101", name: "Dana Leaver" }));
    const res = await callWith({ RESOLVE_BY_NAME: "confirm" }, "/webhooks/hr", {
      method: "POST",
      headers: signedHrHeaders(id, body),
      body,
    });
    const { runId } = (await res.json()) as { runId: string };
    await waitForStatus(runId, "needs_confirmation");
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
