import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { DEMO, sim } from "./helpers/sim";
import { admin, call, offboardedEvent, sendHr, uniqueId, waitForRun } from "./helpers/worker";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
});

describe("GET /healthz", () => {
  it("answers 200 with the version", async () => {
    const res = await call("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", version: expect.any(String) });
  });
});

describe("POST /webhooks/hr: the demo leaver", () => {
  it("cancels every share of the leaver and reports each one", async () => {
    const before = await sim.shares(DEMO.leaver, "active");
    expect(before.length).toBeGreaterThan(20);

    const res = await sendHr(
      offboardedEvent({ id: "E-1001", koodriveUserId: DEMO.leaver, email: "dana@example.com" }),
    );
    expect(res.status).toBe(202);
    const { runId, status } = (await res.json()) as { runId: string; status: string };
    expect(status).toBe("accepted");

    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    expect(run.counts.cancelled).toBe(before.length);
    expect(new Set(run.shares.map((s) => s.shareId))).toEqual(new Set(before.map((s) => s.shareId)));
    expect(run.shares.every((s) => s.state === "cancelled")).toBe(true);

    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(0);
    const all = await sim.shares(DEMO.leaver, "all");
    expect(all.every((s) => s.cancelSuccesses === 1 && s.cancelAfterCancelled === 0)).toBe(true);

    const audit = await admin(`/audit?user=${DEMO.leaver}&limit=100`);
    const records = (
      (await audit.json()) as { records: Array<{ type: string; shares?: Array<{ shareId: string }> }> }
    ).records;
    const audited = records.filter((r) => r.type === "shares.cancelled").flatMap((r) => r.shares ?? []);
    expect(new Set(audited.map((s) => s.shareId))).toEqual(new Set(before.map((s) => s.shareId)));
    expect(records.some((r) => r.type === "request.received")).toBe(true);
  });

  it("a dry run cancels nothing and returns the plan", async () => {
    const before = await sim.shares(DEMO.leaver, "active");
    const res = await sendHr(
      offboardedEvent({ id: "E-1002", koodriveUserId: DEMO.leaver }, { options: { dryRun: true } }),
    );
    const { runId } = (await res.json()) as { runId: string };
    const run = await waitForRun(runId);
    expect(run.status).toBe("dry_run");
    expect(run.counts.planned).toBe(before.length);
    expect(run.shares).toHaveLength(before.length);
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(before.length);
    const calls = await sim.calls(0);
    expect(calls.calls.filter((c) => c.endpoint === "cancel")).toHaveLength(0);
  });

  it("the same webhook-id twice starts one run", async () => {
    const id = uniqueId();
    const event = offboardedEvent(
      { id: "E-1003", koodriveUserId: DEMO.leaver },
      { options: { dryRun: true } },
    );
    const first = (await (await sendHr(event, { id })).json()) as { runId: string; duplicate?: boolean };
    const second = await sendHr(event, { id });
    expect(second.status).toBe(202);
    const body = (await second.json()) as { runId: string; duplicate?: boolean };
    expect(body).toMatchObject({ runId: first.runId, duplicate: true });
    expect(first.duplicate).toBeUndefined();
    await waitForRun(first.runId);
    void env;
  });
});
