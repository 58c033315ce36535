import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { postHr } from "./helpers/env";
import { sim } from "./helpers/sim";
import { admin, call, clearHolds, offboardedEvent, uniqueId } from "./helpers/worker";

/** Review 5: a reactivation must withdraw a run that will wait for approval and has not acted. */

const OKTA_SECRET = "okta-test-secret-0123456789";

function sendOkta(body: unknown) {
  return call("/webhooks/okta", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: OKTA_SECRET },
    body: JSON.stringify(body),
  });
}

describe("review5: reactivation of a person whose run is about to wait for approval", () => {
  it("review5: an Okta reactivation right after an approval-gated HR run was accepted withdraws it (nothing acted)", async () => {
    await clearHolds();
    const id = uniqueId("r5re").toLowerCase();
    const kd = `1505084218${String((Date.now() % 100_000) * 100 + 7).padStart(9, "0")}`;
    const email = `${id}@example.com`;
    const oktaId = `00u${id.replace(/[^a-z0-9]/g, "")}`;
    await sim.seed({ users: [{ userId: kd, name: `Person ${id}`, shares: 200 }], seed: 78 });

    // HR offboards the person now; the policy holds HR runs for approval (nothing may act before one).
    const res = await postHr(offboardedEvent({ id: `E-${id}`, email, koodriveUserId: kd }), {
      APPROVAL_REQUIRED: "hr",
    });
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };

    // An HR mistake: Okta reactivates the person a moment later.
    const answer = await sendOkta({
      eventType: "com.okta.event_hook",
      eventTypeVersion: "1.0",
      eventId: uniqueId("okta-delivery"),
      eventTime: new Date().toISOString(),
      contentType: "application/json",
      data: {
        events: [
          {
            uuid: uniqueId("okta-evt"),
            published: new Date().toISOString(),
            eventType: "user.lifecycle.reactivate",
            displayMessage: "Reactivate Okta user",
            target: [{ id: oktaId, type: "User", alternateId: email, displayName: `Person ${id}` }],
          },
        ],
      },
    });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as {
      reactivated: Array<{ withdrawn?: string[]; underWay?: string[] }>;
    };

    // Wherever its Workflow was, the run had not acted: it must be withdrawn, not left to wait for approval.
    let status = "";
    for (let i = 0; i < 100; i++) {
      status = (await env.RUNS.getByName(runId).getMeta())?.status ?? "";
      if (status === "awaiting_approval" || status === "withdrawn") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const acted = (await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel").length;
    if (status === "awaiting_approval")
      await admin(`/runs/${runId}/cancel`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ reason: "test clean-up" }),
      });
    expect(acted).toBe(0);
    expect(body.reactivated[0]?.withdrawn).toEqual([runId]);
    expect(status).toBe("withdrawn");
  });
});
