import { Webhook } from "standardwebhooks";
import { beforeEach, describe, expect, it } from "vitest";
import { runIdFor } from "../src/offboarding/start";
import { postHr } from "./helpers/env";
import { OUTBOUND_SECRET } from "./helpers/events";
import { freeLeaver } from "./helpers/leaver";
import { hooks, sim } from "./helpers/sim";
import { createToken, withToken } from "./helpers/tokens";
import { clearHolds, offboardedEvent, uniqueId, waitForRun, waitForStatus } from "./helpers/worker";

/**
 * Issue 11 end to end: a run's state changes reach the outbound receiver configured for every test
 * (vitest.config.ts) through the real queue, signed; the receiver checks them with the official
 * `standardwebhooks` library, an oracle independent of our signer.
 */

const LEAVER = "1505084218764549781";
const RECEIVER = "all-runs";
const SLACK = "all-runs-slack";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ users: [{ userId: LEAVER, name: "Eve Evented", shares: 3 }], seed: 78 });
  await clearHolds();
  await freeLeaver(LEAVER);
  await hooks.clear(RECEIVER);
  await hooks.clear(SLACK);
});

/** The events the receiver got for a run, verified; waits until `types` all arrived. */
async function eventsFor(runId: string, types: string[]) {
  const wh = new Webhook(OUTBOUND_SECRET);
  let got: Array<{ type: string; id: string; data: { runId: string; status: string } }> = [];
  for (let i = 0; i < 100; i++) {
    got = (await hooks.received(RECEIVER))
      .map(
        (d) =>
          wh.verify(d.body, d.headers) as {
            type: string;
            id: string;
            data: { runId: string; status: string };
          },
      )
      .filter((e) => e.data.runId === runId);
    if (types.every((t) => got.some((e) => e.type === t))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return got;
}

describe("a run's events", () => {
  it("run.accepted then run.completed, each once, signed", async () => {
    const id = uniqueId();
    const runId = await runIdFor("hr", id);
    expect((await postHr(offboardedEvent({ id: "E-7801", koodriveUserId: LEAVER }), {}, id)).status).toBe(
      202,
    );
    expect((await waitForRun(runId)).status).toBe("completed");
    const events = await eventsFor(runId, ["run.accepted", "run.completed"]);
    expect(events.map((e) => e.type).sort()).toEqual(["run.accepted", "run.completed"]);
    expect(new Set(events.map((e) => e.id)).size).toBe(2);
  });

  it("a gated run announces run.awaiting_approval, then run.rejected", async () => {
    const id = uniqueId();
    const runId = await runIdFor("hr", id);
    const res = await postHr(
      offboardedEvent({ id: "E-7802", koodriveUserId: LEAVER }),
      { APPROVAL_REQUIRED: "hr" },
      id,
    );
    expect(res.status).toBe(202);
    await waitForStatus(runId, "awaiting_approval");
    await eventsFor(runId, ["run.awaiting_approval"]);
    const operator = await createToken("operator");
    const rejected = await withToken(operator.token, `/runs/${runId}/reject`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reason: "HR mistake" }),
    });
    expect(rejected.status).toBe(202);
    expect((await waitForRun(runId)).status).toBe("rejected");
    const events = await eventsFor(runId, ["run.accepted", "run.awaiting_approval", "run.rejected"]);
    expect(events.map((e) => e.type).sort()).toEqual([
      "run.accepted",
      "run.awaiting_approval",
      "run.rejected",
    ]);
    expect((await sim.shares(LEAVER, "active")).length).toBe(3);
  });

  it("the layoff guard tells the channel once per burst; every held run still has its outbound event", async () => {
    const vars = { BURST_APPROVAL_THRESHOLD: "2" };
    const runIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const id = uniqueId("burst");
      runIds.push(await runIdFor("hr", id));
      const who = i >= 2 ? { koodriveUserId: LEAVER } : { email: `nobody-${i}-${id}@example.com` };
      expect((await postHr(offboardedEvent({ id: `E-78B${i}`, ...who }), vars, id)).status).toBe(202);
    }
    const [, , third, fourth] = runIds as [string, string, string, string];
    await waitForStatus(third, "awaiting_approval");
    await waitForStatus(fourth, "awaiting_approval");
    await eventsFor(third, ["run.awaiting_approval"]);
    await eventsFor(fourth, ["run.awaiting_approval"]);
    // The channel heard about the first held run only (the 3rd of the burst), with its buttons.
    let slack: string[] = [];
    for (let i = 0; i < 50; i++) {
      slack = (await hooks.received(SLACK))
        .map((d) => d.body)
        .filter((b) => b.includes("Approval") || b.includes("approval"));
      if (slack.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500));
    slack = (await hooks.received(SLACK)).map((d) => d.body);
    expect(slack.filter((b) => b.includes(third))).toHaveLength(1);
    expect(slack.filter((b) => b.includes(fourth))).toHaveLength(0);
  });
});
