import { beforeEach, describe, expect, it } from "vitest";
import { runIdFor } from "../src/offboarding/start";
import { expectEnvelope, expectNoRun } from "./helpers/expect";
import { DEMO, sim } from "./helpers/sim";
import { admin, call, clearHolds, uniqueId, waitForRun } from "./helpers/worker";

/** The two secrets configured in vitest.config.ts (OKTA_EVENT_HOOK_SECRETS). */
const OKTA_SECRET = "okta-test-secret-0123456789";
const OKTA_SECRET_ROTATED = "Bearer okta-rotated-secret-abcdef";

interface AuditView {
  records: Array<{ type: string; source?: string; reason?: string; eventId?: string; runId?: string }>;
}

function oktaEvent(eventType: string, user: { id: string; login?: string; name?: string } | null) {
  return {
    uuid: uniqueId("okta-evt"),
    published: new Date().toISOString(),
    eventType,
    displayMessage: "Deactivate Okta user",
    target: user
      ? [
          { id: user.id, type: "User", alternateId: user.login, displayName: user.name },
          { id: "0oa1appinstance", type: "AppInstance", alternateId: "KooDrive", displayName: "KooDrive" },
        ]
      : [{ id: "0oa1appinstance", type: "AppInstance" }],
  };
}

function delivery(events: unknown[]) {
  return {
    eventType: "com.okta.event_hook",
    eventTypeVersion: "1.0",
    eventId: uniqueId("okta-delivery"),
    eventTime: new Date().toISOString(),
    contentType: "application/json",
    data: { events },
  };
}

function sendOkta(body: unknown, secret: string | null = OKTA_SECRET): Promise<Response> {
  const headers = new Headers({ "content-type": "application/json" });
  if (secret !== null) headers.set("authorization", secret);
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  return call("/webhooks/okta", { method: "POST", headers, body: raw });
}

const DANA = { id: "00u1danaleaver", login: "dana.leaver@example.com", name: "Dana Leaver" };

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
  // Okta names Dana by login (e-mail): the identity map is how she is found (a name alone is not enough).
  const mapped = await admin("/identities", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identities: [{ email: DANA.login, koodriveUserId: DEMO.leaver }] }),
  });
  expect(mapped.status).toBe(200);
});

describe("GET /webhooks/okta: the one-time verification", () => {
  it("echoes the challenge to a caller with the configured secret, and records it", async () => {
    const res = await call("/webhooks/okta", {
      headers: { authorization: OKTA_SECRET, "x-okta-verification-challenge": "Q7l0Xk8y_challenge" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ verification: "Q7l0Xk8y_challenge" });
    const audit = (await (await admin("/audit?limit=5")).json()) as AuditView;
    expect(audit.records.find((r) => r.source === "okta")?.reason).toMatch(/verification/);
  });

  it("answers 401 without the secret, and 400 without a challenge", async () => {
    await expectEnvelope(
      await call("/webhooks/okta", { headers: { "x-okta-verification-challenge": "abc" } }),
      401,
      "unauthorized",
    );
    await expectEnvelope(
      await call("/webhooks/okta", { headers: { authorization: OKTA_SECRET } }),
      400,
      "bad_request",
    );
  });
});

describe("POST /webhooks/okta: leaver events start runs", () => {
  it("a deactivated user is resolved through the identity map and every share they created is cancelled", async () => {
    const before = await sim.shares(DEMO.leaver, "active");
    const event = oktaEvent("user.lifecycle.deactivate", DANA);
    const res = await sendOkta(delivery([event]));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { runs: Array<{ uuid: string; runId: string }>; ignored: number };
    expect(body.ignored).toBe(0);
    expect(body.runs).toEqual([
      { uuid: event.uuid, eventType: "user.lifecycle.deactivate", runId: await runIdFor("okta", event.uuid) },
    ]);

    const run = await waitForRun(body.runs[0]?.runId ?? "");
    expect(run).toMatchObject({
      status: "completed",
      koodriveUserId: DEMO.leaver,
      resolvedBy: "identity_map",
    });
    expect(run.counts.cancelled).toBe(before.length);
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(0);
    // The trail names the source, the Okta event and the person by e-mail.
    const audit = (await (
      await admin(`/audit?user=${encodeURIComponent(DANA.login)}&limit=100`)
    ).json()) as AuditView;
    const received = audit.records.find((r) => r.type === "request.received");
    expect(received).toMatchObject({
      source: "okta",
      eventId: event.uuid,
      reason: "Okta user.lifecycle.deactivate",
    });
  });

  it("a redelivered batch (Okta delivers at least once) starts nothing new", async () => {
    const body = delivery([oktaEvent("user.lifecycle.suspend", DANA)]);
    const first = (await (await sendOkta(body)).json()) as { runs: Array<{ runId: string }> };
    const run = await waitForRun(first.runs[0]?.runId ?? "");
    const cancelsBefore = (await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel").length;

    const again = await sendOkta(body);
    expect(again.status).toBe(200);
    const second = (await again.json()) as { runs: Array<{ runId: string; duplicate?: boolean }> };
    expect(second.runs).toEqual([expect.objectContaining({ runId: run.runId, duplicate: true })]);
    expect((await waitForRun(run.runId)).attempt).toBe(1);
    expect((await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel")).toHaveLength(cancelsBefore);
  });

  it("starts one run per leaver event of a batch and ignores the rest, on record", async () => {
    const leaver = oktaEvent("user.lifecycle.delete.initiated", DANA);
    const other = oktaEvent("user.session.start", DANA);
    const res = await sendOkta(delivery([other, leaver]));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { runs: Array<{ uuid: string; runId: string }>; ignored: number };
    expect(body.runs.map((r) => r.uuid)).toEqual([leaver.uuid]);
    expect(body.ignored).toBe(1);
    expect((await waitForRun(body.runs[0]?.runId ?? "")).status).toBe("completed");
    await expectNoRun("okta", other.uuid);
    const audit = (await (await admin("/audit?limit=20")).json()) as AuditView;
    expect(
      audit.records.some((r) => r.source === "okta" && /user\.session\.start/.test(r.reason ?? "")),
    ).toBe(true);
  });

  it("accepts the second configured secret, a whole 'Bearer ...' value (rotation)", async () => {
    const res = await sendOkta(delivery([oktaEvent("user.session.start", DANA)]), OKTA_SECRET_ROTATED);
    expect(res.status).toBe(200);
  });
});

describe("POST /webhooks/okta: bad requests", () => {
  for (const [name, secret] of [
    ["no secret", null],
    ["a wrong secret", "okta-test-secret-0123456780"],
    ["the secret with a prefix", `Bearer ${OKTA_SECRET}`],
  ] as const) {
    it(`answers 401 to ${name}, starts no run and leaves a security record`, async () => {
      const event = oktaEvent("user.lifecycle.deactivate", DANA);
      await expectEnvelope(await sendOkta(delivery([event]), secret), 401, "unauthorized");
      await expectNoRun("okta", event.uuid);
      const audit = (await (await admin("/audit?limit=5")).json()) as AuditView;
      expect(audit.records.find((r) => r.type === "request.rejected" && r.source === "okta")).toBeDefined();
      expect(JSON.stringify(audit)).not.toContain("okta-test-secret");
      expect((await sim.shares(DEMO.leaver, "active")).length).toBeGreaterThan(0);
    });
  }

  it("one bad event does not sink the batch: valid leavers start, the invalid one is answered and audited", async () => {
    const good = oktaEvent("user.lifecycle.deactivate", DANA);
    const bad = oktaEvent("user.lifecycle.deactivate", null);
    const odd = {
      ...oktaEvent("group.user_membership.add", DANA),
      target: "not a list",
      published: "yesterday",
    };
    const res = await sendOkta(delivery([good, bad, odd]));
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      runs: Array<{ uuid: string; runId: string }>;
      ignored: number;
      invalid: Array<{ index: number; uuid: string; path: string }>;
    };
    expect(body.runs.map((r) => r.uuid)).toEqual([good.uuid]);
    expect(body.ignored).toBe(1);
    expect(body.invalid).toEqual([
      expect.objectContaining({ index: 1, uuid: bad.uuid, path: "data.events.1.target" }),
    ]);
    await expectNoRun("okta", bad.uuid);
    expect((await waitForRun(body.runs[0]?.runId ?? "")).status).toBe("completed");
    const audit = (await (await admin("/audit?limit=30")).json()) as AuditView;
    const rejected = audit.records.find((r) => r.type === "request.rejected" && r.eventId === bad.uuid);
    expect(rejected?.reason).toMatch(/data\.events\.1\.target/);
  });

  it("answers 422 with the field's path to an invalid delivery, and to a body that is not JSON", async () => {
    const noEvents = await expectEnvelope(await sendOkta({ data: { events: [] } }), 422, "invalid_body");
    expect(JSON.stringify(noEvents)).toContain("data.events");
    await expectEnvelope(await sendOkta("{not json"), 422, "invalid_body");
    await expectEnvelope(
      await sendOkta(`{"data":{"events":${"[".repeat(40)}${"]".repeat(40)}}}`),
      422,
      "invalid_body",
    );
    const noUuid = await sendOkta(delivery([{ eventType: "user.lifecycle.deactivate", target: [] }]));
    expect(noUuid.status).toBe(200);
    const body = (await noUuid.json()) as { runs: unknown[]; invalid: Array<{ path: string }> };
    expect(body.runs).toEqual([]);
    expect(body.invalid[0]?.path).toBe("data.events.0.uuid");
  });

  it("refuses a body over 256 KiB with 413 before reading it", async () => {
    const res = await sendOkta(`{"data":{"events":[]},"pad":"${"x".repeat(256 * 1024)}"}`);
    await expectEnvelope(res, 413, "payload_too_large");
  });

  it("a bad Okta header setting disables Okta only (503 misconfigured there, no details)", async () => {
    const { buildApp } = await import("../src/app");
    const { env } = await import("cloudflare:workers");
    const broken = { ...env, OKTA_EVENT_HOOK_HEADER: "not a header!" };
    const res = await buildApp().fetch(
      new Request("https://offboard.example.com/webhooks/okta", {
        method: "POST",
        headers: { authorization: OKTA_SECRET },
        body: JSON.stringify(delivery([oktaEvent("user.lifecycle.deactivate", DANA)])),
      }),
      broken,
    );
    // The caller is not told which setting is wrong (the log is).
    expect((await expectEnvelope(res, 503, "misconfigured")).error.message).not.toContain(
      "OKTA_EVENT_HOOK_HEADER",
    );
    const other = await buildApp().fetch(
      new Request("https://offboard.example.com/audit?limit=1", {
        headers: { authorization: "Bearer test-admin-token" },
      }),
      broken,
    );
    expect(other.status).toBe(200);
  });

  it("is off (404) when no Okta secret is configured", async () => {
    const { buildApp } = await import("../src/app");
    const { env } = await import("cloudflare:workers");
    const res = await buildApp().fetch(
      new Request("https://offboard.example.com/webhooks/okta", {
        method: "POST",
        headers: { authorization: OKTA_SECRET },
        body: JSON.stringify(delivery([oktaEvent("user.lifecycle.deactivate", DANA)])),
      }),
      { ...env, OKTA_EVENT_HOOK_SECRETS: "" },
    );
    await expectEnvelope(res, 404, "not_found");
  });
});
