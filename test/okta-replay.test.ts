import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, uniqueId } from "./helpers/worker";

const OKTA_SECRET = "okta-test-secret-0123456789";

/** Audit records (any type) whose requestId is one of ours. */
async function recordsOf(requestIds: Set<string>): Promise<number> {
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = await env.AUDIT.list({ prefix: "audit:", ...(cursor ? { cursor } : {}) });
    for (const k of page.keys) {
      const v = await env.AUDIT.get<{ requestId?: string }>(k.name, "json");
      if (v?.requestId && requestIds.has(v.requestId)) n++;
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return n;
}

describe("a replayed Okta delivery is recorded once per event (finding 4, Okta)", () => {
  it("the same delivery of an ignored event and an invalid leaver event, sent 20 times, writes a bounded number of records", async () => {
    // Okta's credential is a static header: a captured delivery can be replayed at any time, byte for byte.
    const body = JSON.stringify({
      eventType: "com.okta.event_hook",
      eventId: uniqueId("okta-delivery"),
      data: {
        events: [
          { uuid: uniqueId("evt"), eventType: "user.session.start", published: new Date().toISOString() },
          {
            uuid: uniqueId("evt"),
            eventType: "user.lifecycle.deactivate",
            published: new Date().toISOString(),
          },
        ],
      },
    });
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const requestId = `okta-replay-${i}-${Date.now()}`;
      ids.add(requestId);
      const res = await call("/webhooks/okta", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: OKTA_SECRET,
          "x-request-id": requestId,
        },
        body,
      });
      expect(res.status).toBe(200);
    }
    // Once per event (2), or once per event plus a counted duplicate: not 2 per delivery (40).
    expect(await recordsOf(ids)).toBeLessThanOrEqual(4);
  });
});
