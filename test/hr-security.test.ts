import { beforeEach, describe, expect, it } from "vitest";
import { expectEnvelope, expectNoRun } from "./helpers/expect";
import { captureWarnings, withinOneWindow } from "./helpers/limits";
import { DEMO, sim } from "./helpers/sim";
import {
  admin,
  call,
  HR_SECRET_2,
  offboardedEvent,
  sendHr,
  signHr,
  uniqueId,
  waitForRun,
} from "./helpers/worker";

const event = () =>
  offboardedEvent({ id: "E-2001", koodriveUserId: DEMO.leaver }, { options: { dryRun: true } });
const ROTATED_OUT = "whsec_cm90YXRlZC1vdXQtc2VjcmV0LW5vLWxvbmdlci11c2Vk";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
});

describe("POST /webhooks/hr rejects what is not signed by a configured secret", () => {
  const cases: Array<[string, (id: string) => Promise<Response>]> = [
    [
      "a forged signature",
      (id) => sendHr(event(), { id, signature: "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=" }),
    ],
    ["a garbage signature", (id) => sendHr(event(), { id, signature: "v1,dawfeoifkpqwoekfpqoekf" })],
    ["an empty v1 signature", (id) => sendHr(event(), { id, signature: "v1," })],
    [
      "a stale timestamp (301 s old)",
      (id) => sendHr(event(), { id, timestamp: Math.floor(Date.now() / 1000) - 301 }),
    ],
    [
      "a future timestamp (301 s ahead)",
      (id) => sendHr(event(), { id, timestamp: Math.floor(Date.now() / 1000) + 301 }),
    ],
    ["a missing signature header", (id) => sendHr(event(), { id, signature: null })],
    ["a missing timestamp header", (id) => sendHr(event(), { id, headers: { "webhook-timestamp": null } })],
    [
      "a non-integer timestamp",
      (id) => sendHr(event(), { id, headers: { "webhook-timestamp": "16142653a0" } }),
    ],
    ["a rotated-out secret", (id) => sendHr(event(), { id, secret: ROTATED_OUT })],
    [
      "a body changed after signing",
      async (id) => {
        const ts = Math.floor(Date.now() / 1000);
        const sig = signHr("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id, ts, JSON.stringify(event()));
        return sendHr({ ...event(), options: { dryRun: false } }, { id, timestamp: ts, signature: sig });
      },
    ],
  ];
  for (const [name, send] of cases) {
    it(`answers 401 to ${name}, starts no run and leaves a security record`, async () => {
      const id = uniqueId("forged");
      await expectEnvelope(await send(id), 401, "unauthorized");
      await expectNoRun("hr", id);
      const audit = (await (await admin("/audit?limit=5")).json()) as {
        records: Array<{ type: string; source?: string; clientIp?: string; reason?: string }>;
      };
      const rec = audit.records.find((r) => r.type === "request.rejected" && r.source === "hr");
      expect(rec).toMatchObject({ source: "hr", clientIp: expect.any(String), reason: expect.any(String) });
      expect(JSON.stringify(audit)).not.toContain("v1,");
    });
  }

  it("a missing webhook-id is 401", async () => {
    const res = await sendHr(event(), { headers: { "webhook-id": null } });
    await expectEnvelope(res, 401, "unauthorized");
  });

  it("accepts a delivery signed with the second configured secret (rotation)", async () => {
    const res = await sendHr(event(), { secret: HR_SECRET_2 });
    expect(res.status).toBe(202);
    await waitForRun(((await res.json()) as { runId: string }).runId);
  });

  it("accepts a header listing several signatures of which one is valid", async () => {
    const id = uniqueId();
    const ts = Math.floor(Date.now() / 1000);
    const raw = JSON.stringify(event());
    const good = signHr(HR_SECRET_2, id, ts, raw);
    const res = await sendHr(raw, {
      id,
      timestamp: ts,
      signature: `v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ${good}`,
    });
    expect(res.status).toBe(202);
    await waitForRun(((await res.json()) as { runId: string }).runId);
  });

  it("caps security records so a flood cannot fill KV", async () => {
    // Deterministic: the flood comes from its own client IP (its own per-IP limiter key, and its records
    // are told apart from the other tests'), fits in one limiter window, and the assertion is on what the
    // limiter allowed (every rejection is logged with `audited`), not on wall-clock luck.
    const ip = `198.51.100.${(Date.now() % 200) + 1}`;
    const FLOOD = 40;
    const CAP = 20; // SECURITY_AUDIT_LIMITER: 20 a minute per source and client IP (wrangler.toml)
    await withinOneWindow(10_000);
    const logs = await captureWarnings(async () => {
      for (let i = 0; i < FLOOD; i++) {
        const res = await sendHr(event(), {
          signature: "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
          headers: { "cf-connecting-ip": ip },
        });
        expect(res.status).toBe(401);
      }
    });
    const flood = logs.filter((l) => l.msg === "request rejected" && l.ip === ip);
    expect(flood).toHaveLength(FLOOD);
    const allowed = flood.filter((l) => l.audited).length;
    expect(allowed).toBeLessThanOrEqual(CAP);
    const audit = (await (await admin("/audit?limit=100")).json()) as {
      records: Array<{ type: string; source?: string; clientIp?: string }>;
    };
    const recorded = audit.records.filter(
      (r) => r.type === "request.rejected" && r.source === "hr" && r.clientIp === ip,
    );
    expect(recorded).toHaveLength(allowed);
  });
});

describe("POST /webhooks/hr validates the body after the signature", () => {
  it("answers 422 listing the invalid fields", async () => {
    const id = uniqueId();
    const res = await sendHr(
      { type: "employee.offboarded", timestamp: "yesterday", data: { employee: {} } },
      { id },
    );
    const body = await expectEnvelope(res, 422, "invalid_body");
    const details = (body.error as unknown as { details: Array<{ path: string }> }).details;
    expect(details.map((d) => d.path).sort()).toEqual(["data.employee.id", "timestamp"]);
    await expectNoRun("hr", id);
  });

  it("answers 422 to a body that is not JSON", async () => {
    await expectEnvelope(await sendHr("{not json"), 422, "invalid_body");
  });

  it("answers 422 to an invalid scope or KooDrive id", async () => {
    const res = await sendHr(
      offboardedEvent({ id: "E-1", koodriveUserId: "42" }, { options: { scopes: [4] } }),
    );
    const body = await expectEnvelope(res, 422, "invalid_body");
    const paths = (body.error as unknown as { details: Array<{ path: string }> }).details.map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(["data.employee.koodriveUserId", "options.scopes.0"]));
  });

  it("tolerates unknown extra fields", async () => {
    const res = await sendHr({
      ...event(),
      extra: { nested: true },
      data: { ...event().data, department: "Sales" },
    });
    expect(res.status).toBe(202);
    await waitForRun(((await res.json()) as { runId: string }).runId);
  });

  it("acknowledges other event types with 2xx and ignored, starting nothing", async () => {
    const id = uniqueId();
    const res = await sendHr(
      { type: "employee.hired", timestamp: new Date().toISOString(), data: {} },
      { id },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ignored: true, type: "employee.hired" });
    await expectNoRun("hr", id);
  });

  it("refuses a body over 256 KiB with 413 before any work", async () => {
    const id = uniqueId();
    const big = JSON.stringify({ ...event(), padding: "x".repeat(256 * 1024) });
    await expectEnvelope(await sendHr(big, { id }), 413, "payload_too_large");
    await expectNoRun("hr", id);
  });
});

describe("admin API", () => {
  for (const [method, path] of [
    ["GET", "/runs/hr-00000000000000000000000000000000"],
    ["GET", "/runs/hr-00000000000000000000000000000000/export?format=csv"],
    ["POST", "/runs/hr-00000000000000000000000000000000/retry"],
    ["GET", "/audit"],
    ["PUT", "/identities"],
    ["GET", "/identities/dana@example.com"],
    ["PUT", "/holds"],
    ["GET", "/holds"],
  ] as const) {
    it(`${method} ${path} without the token is 401`, async () => {
      await expectEnvelope(await call(path, { method }), 401, "unauthorized");
      await expectEnvelope(
        await call(path, { method, headers: { authorization: "Bearer wrong-token-123456" } }),
        401,
        "unauthorized",
      );
    });
  }

  it("an unknown run is 404 and a bad audit query 400", async () => {
    await expectEnvelope(await admin("/runs/hr-00000000000000000000000000000000"), 404, "not_found");
    await expectEnvelope(await admin("/runs/not-a-run"), 404, "not_found");
    await expectEnvelope(await admin("/audit?limit=0"), 400, "bad_request");
    await expectEnvelope(await admin("/audit?since=yesterday"), 400, "bad_request");
    await expectEnvelope(await admin("/audit?cursor=@@@"), 400, "bad_request");
  });
});
