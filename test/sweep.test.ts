import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { sweep } from "./helpers/env";
import { sim } from "./helpers/sim";
import { admin, clearHolds, offboardedEvent, sendHr, waitForRun } from "./helpers/worker";

const LEAVER = "1505084218764549700";

async function activeRunKeys() {
  return (await env.AUDIT.list({ prefix: "active-run:" })).keys.map((k) => k.name);
}

beforeEach(async () => {
  await sim.reset();
  await clearHolds();
});

describe("the sweeper (Cron Trigger)", () => {
  it("starts a new attempt for a run whose Workflow was terminated mid-way; nothing lost, nothing twice", async () => {
    await sim.seed({ users: [{ userId: LEAVER, name: "Sue Swept", shares: 250 }], seed: 31 });
    await sim.faults({ rules: [{ endpoint: "cancel", kind: "latency", rate: 1, ms: 600 }] });
    const res = await sendHr(offboardedEvent({ id: "E-5001", koodriveUserId: LEAVER }));
    const { runId } = (await res.json()) as { runId: string };
    expect(await activeRunKeys()).toContain(`active-run:${runId}`);

    const deadline = Date.now() + 20_000;
    while ((await sim.calls(0)).calls.every((c) => c.endpoint !== "cancel") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await (await env.OFFBOARDING.get(runId)).terminate();
    await new Promise((r) => setTimeout(r, 1500));
    const stuck = (await (await admin(`/runs/${runId}`)).json()) as { status: string; attempt: number };
    expect(stuck).toMatchObject({ status: "running", attempt: 1 });

    await sim.clearFaults();
    await sweep();
    const run = await waitForRun(runId, 60_000, 2);
    expect(run).toMatchObject({ status: "completed", attempt: 2 });
    expect(run.counts.cancelled).toBe(250);
    expect(run.counts.already_gone).toBe(0);
    const summary = await sim.summary(LEAVER);
    expect(summary.active).toBe(0);
    expect(summary.maxCancelSuccesses).toBe(1);
    expect(await activeRunKeys()).not.toContain(`active-run:${runId}`);

    const audit = (await (await admin(`/audit?user=${LEAVER}&limit=100`)).json()) as {
      records: Array<{ actor: string; reason?: string }>;
    };
    expect(audit.records.some((r) => r.actor === "sweeper" && r.reason?.includes("attempt 2 started"))).toBe(
      true,
    );
  });

  it("leaves finished runs alone and forgets them", async () => {
    await sim.seed({ users: [{ userId: LEAVER, name: "Fin Finished", shares: 3 }], seed: 32 });
    const res = await sendHr(offboardedEvent({ id: "E-5002", koodriveUserId: LEAVER }));
    const { runId } = (await res.json()) as { runId: string };
    await waitForRun(runId);
    await env.AUDIT.put(`active-run:${runId}`, "{}"); // as if the finish step's delete had been lost
    await sweep();
    expect(await activeRunKeys()).not.toContain(`active-run:${runId}`);
    const run = (await (await admin(`/runs/${runId}`)).json()) as { attempt: number; status: string };
    expect(run).toMatchObject({ attempt: 1, status: "completed" });
  });
});
