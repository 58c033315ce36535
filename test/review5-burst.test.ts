import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runIdFor } from "../src/offboarding/start";
import { at, postHr } from "./helpers/env";
import { offboardedEvent, uniqueId } from "./helpers/worker";

/** Review 5: the layoff guard counts runs accepted, not deliveries. */

const vars = { BURST_APPROVAL_THRESHOLD: "2", OFFBOARDING_ACTIONS: "revoke_shares" };

async function policyOf(runId: string) {
  return (await env.RUNS.getByName(runId).getMeta())?.request.approvalPolicy;
}

describe("review5: layoff guard and redeliveries", () => {
  it("review5: a redelivery of an event accepted more than 10 minutes ago is not a new run in the burst", async () => {
    // Run A was accepted 11 minutes ago (its own burst, long over).
    const idA = uniqueId("burstA");
    const eventA = offboardedEvent({ id: "E-R5A", email: `r5a-${idA}@example.com` });
    const first = await at(Date.now() - 11 * 60_000, () => postHr(eventA, vars, idA));
    expect(first.status).toBe(202);
    // The HR system redelivers A now (Standard Webhooks retries for hours): the same run, no new run.
    const again = await postHr(eventA, vars, idA);
    expect(again.status).toBe(202);
    expect(((await again.json()) as { duplicate?: boolean }).duplicate).toBe(true);
    // Two new runs within the window: threshold 2 means neither is held.
    const ids = [uniqueId("burstB"), uniqueId("burstC")];
    for (const [i, id] of ids.entries())
      expect(
        (await postHr(offboardedEvent({ id: `E-R5${i}`, email: `r5-${i}-${id}@example.com` }), vars, id))
          .status,
      ).toBe(202);
    const c = await runIdFor("hr", ids[1] as string);
    expect((await policyOf(c))?.burst).toBeUndefined();
  });
});
