import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { runIdFor } from "../src/offboarding/start";
import { postHr } from "./helpers/env";
import { freeLeaver } from "./helpers/leaver";
import { sim } from "./helpers/sim";
import { createToken, withToken } from "./helpers/tokens";
import { admin, clearHolds, offboardedEvent, uniqueId, waitForRun, waitForStatus } from "./helpers/worker";

/** Issue 11 in the console: a run waiting for approval is approved, rejected or withdrawn from its page. */

const ORIGIN = "https://offboard.example.com";
const LEAVER = "1505084218764549751";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ users: [{ userId: LEAVER, name: "Gia Gated", shares: 4 }], seed: 75 });
  await clearHolds();
  await freeLeaver(LEAVER);
});

async function gatedRun(): Promise<string> {
  const id = uniqueId();
  const runId = await runIdFor("hr", id);
  const res = await postHr(
    offboardedEvent({ id: "E-7501", koodriveUserId: LEAVER }),
    { APPROVAL_REQUIRED: "hr" },
    id,
  );
  expect(res.status).toBe(202);
  await waitForStatus(runId, "awaiting_approval");
  return runId;
}

async function post(path: string, fields: Record<string, string>) {
  return admin(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
    body: new URLSearchParams(fields).toString(),
    redirect: "manual",
  });
}

const active = async () => (await sim.shares(LEAVER, "active")).length;

describe("console: approvals", () => {
  it("shows the plan waiting and approves it after the box is ticked", async () => {
    const runId = await gatedRun();
    const html = await (await admin(`/console/runs/${runId}`)).text();
    expect(html).toContain('data-testid="approval"');
    expect(html).toContain("runs from hr need approval (APPROVAL_REQUIRED)");
    expect(html).toContain(`action="/console/runs/${runId}/approve"`);
    expect(html).toContain(`action="/console/runs/${runId}/withdraw"`);

    expect((await post(`/console/runs/${runId}/approve`, {})).status).toBe(422);
    expect((await env.RUNS.getByName(runId).getMeta())?.status).toBe("awaiting_approval");
    const ok = await post(`/console/runs/${runId}/approve`, { confirmed: "yes" });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe(`/console/runs/${runId}?notice=approved`);
    expect((await waitForRun(runId)).status).toBe("completed");
    expect(await active()).toBe(0);
    // Decided once: the page offers no decision any more, and a second post is refused.
    expect((await post(`/console/runs/${runId}/reject`, { reason: "late" })).status).toBe(409);
  });

  it("rejects with a reason, or withdraws: nothing is cancelled", async () => {
    const first = await gatedRun();
    expect((await post(`/console/runs/${first}/reject`, { reason: "" })).status).toBe(422);
    expect((await post(`/console/runs/${first}/reject`, { reason: "HR mistake" })).status).toBe(303);
    expect((await waitForRun(first)).status).toBe("rejected");
    await freeLeaver(LEAVER);
    const second = await gatedRun();
    expect((await post(`/console/runs/${second}/withdraw`, { reason: "rehired" })).status).toBe(303);
    expect((await waitForRun(second)).status).toBe("withdrawn");
    expect(await active()).toBe(4);
  });

  it("a viewer cannot decide (403) and nothing changes", async () => {
    const runId = await gatedRun();
    const viewer = await createToken("viewer");
    const res = await withToken(viewer.token, `/console/runs/${runId}/approve`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
      body: "confirmed=yes",
      redirect: "manual",
    });
    expect(res.status).toBe(403);
    expect((await env.RUNS.getByName(runId).getMeta())?.status).toBe("awaiting_approval");
  });
});
