import { introspectWorkflowInstance } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { runIdFor } from "../src/offboarding/start";
import { postHr } from "./helpers/env";
import { DEMO, sim } from "./helpers/sim";
import { admin, clearHolds, offboardedEvent, uniqueId, waitForRun } from "./helpers/worker";

/** The contractor who really left: another KooDrive user than the namesake the name match found. */
const CARA = "1505084218764549401";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await sim.seed({ users: [{ userId: CARA, name: "Cara Contractor", shares: 2 }], seed: 41 });
  await clearHolds();
});

describe("a retried run never acts on a plan made for an unconfirmed name match", () => {
  it("after a confirmation timeout, fixing the identity map and retrying touches only the mapped person's shares", async () => {
    const danaBefore = await sim.shares(DEMO.leaver, "active");
    expect(danaBefore.length).toBeGreaterThan(0);
    const id = uniqueId();
    const runId = await runIdFor("hr", id);
    // The operator never confirms the (wrong) name match: the 72 h wait times out.
    const instance = await introspectWorkflowInstance(env.OFFBOARDING, runId);
    await instance.modify(async (m) => {
      await m.forceEventTimeout({ name: "wait for approval" });
    });
    const body = JSON.stringify(
      offboardedEvent({ id: "C-9001", email: "cara@partner.example", name: "Dana Leaver" }),
    );
    const res = await postHr(body, { RESOLVE_BY_NAME: "confirm" }, id);
    expect(res.status).toBe(202);
    const first = await waitForRun(runId);
    expect(first.status).toBe("expired");

    // As the run's detail told them, the operator maps the e-mail to the right person and retries.
    const put = await admin("/identities", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ identities: [{ email: "cara@partner.example", koodriveUserId: CARA }] }),
    });
    expect(put.status).toBe(200);
    const retry = await admin(`/runs/${runId}/retry`, { method: "POST" });
    expect(retry.status).toBe(202);
    const second = await waitForRun(runId, 60_000, 2);

    expect(second.koodriveUserId).toBe(CARA);
    expect(await sim.shares(CARA, "active")).toHaveLength(0);
    // Dana's shares: never sent to KooDrive in Cara's run, and not in Cara's run's record at all.
    const danaIds = new Set(danaBefore.map((s) => s.shareId));
    expect((await sim.shares(DEMO.leaver, "all")).filter((s) => s.cancelRequests > 0)).toHaveLength(0);
    expect(second.shares.filter((s) => danaIds.has(s.shareId))).toEqual([]);
    expect(second.counts.total).toBe(2);
  });
});
