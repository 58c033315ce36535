import { beforeEach, describe, expect, it } from "vitest";
import { postHr } from "./helpers/env";
import { DEMO, sim } from "./helpers/sim";
import { admin, call, clearHolds, offboardedEvent, uniqueId, waitForRun } from "./helpers/worker";

const OKTA_SECRET = "okta-test-secret-0123456789";

interface AuditRecord {
  type: string;
  runId?: string;
  reason?: string;
  details?: Record<string, unknown>;
}

async function auditOf(runId: string): Promise<AuditRecord[]> {
  const { records } = (await (await admin("/audit?limit=100")).json()) as { records: AuditRecord[] };
  return records.filter((r) => r.runId === runId);
}

function sendHr(id: string, body: string) {
  return postHr(body, {}, id);
}

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("replays of one delivery do not flood the audit trail", () => {
  it("records the first duplicate once and counts the rest on the run", async () => {
    const id = uniqueId();
    const body = JSON.stringify(
      offboardedEvent({ id: "E-8001", koodriveUserId: DEMO.leaver }, { options: { dryRun: true } }),
    );
    const first = await sendHr(id, body);
    expect(first.status).toBe(202);
    const { runId } = (await first.json()) as { runId: string };

    const replays = await Promise.all(Array.from({ length: 60 }, () => sendHr(id, body)));
    for (const r of replays) {
      expect(r.status).toBe(202);
      expect(await r.json()).toEqual({ runId, status: "accepted", duplicate: true });
    }
    await waitForRun(runId);
    const records = await auditOf(runId);
    expect(records.filter((r) => r.type === "request.duplicate")).toHaveLength(1);
    expect(records.filter((r) => r.type === "request.received")).toHaveLength(1);
    const view = (await (await admin(`/runs/${runId}`)).json()) as { duplicates: number };
    expect(view.duplicates).toBe(60);
  });
});

describe("replays of a delivery that starts no run", () => {
  it("an HR event of another type, replayed 20 times with its webhook-id, is recorded once", async () => {
    const id = uniqueId();
    const body = JSON.stringify({ type: "employee.updated", timestamp: new Date().toISOString(), data: {} });
    for (let i = 0; i < 20; i++) {
      const res = await sendHr(id, body);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ignored: true, type: "employee.updated" });
    }
    const { records } = (await (await admin("/audit?limit=100")).json()) as {
      records: Array<{ type: string; eventId?: string }>;
    };
    expect(records.filter((r) => r.eventId === id)).toHaveLength(1);
  });
});

describe("one person, one active run", () => {
  it("an HR resend with a new webhook-id and an Okta event for the same person cancel each share once", async () => {
    const before = await sim.shares(DEMO.leaver, "active");
    // Slow cancels keep the first run in flight while the others arrive.
    await sim.faults({ latencyMs: 0, rules: [{ endpoint: "cancel", kind: "latency", rate: 1, ms: 300 }] });
    const mapped = await admin("/identities", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        identities: [{ email: "dana.leaver@example.com", koodriveUserId: DEMO.leaver }],
      }),
    });
    expect(mapped.status).toBe(200);

    const event = JSON.stringify(offboardedEvent({ id: "E-8002", koodriveUserId: DEMO.leaver }));
    const [a, b] = await Promise.all([sendHr(uniqueId(), event), sendHr(uniqueId(), event)]);
    const okta = await call("/webhooks/okta", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: OKTA_SECRET },
      body: JSON.stringify({
        eventType: "com.okta.event_hook",
        data: {
          events: [
            {
              uuid: uniqueId("okta-evt"),
              published: new Date().toISOString(),
              eventType: "user.lifecycle.deactivate",
              target: [{ id: "00u1dana", type: "User", alternateId: "dana.leaver@example.com" }],
            },
          ],
        },
      }),
    });
    const runIds = [
      ((await a.json()) as { runId: string }).runId,
      ((await b.json()) as { runId: string }).runId,
      ((await okta.json()) as { runs: Array<{ runId: string }> }).runs[0]?.runId ?? "",
    ];
    expect(new Set(runIds).size).toBe(3);

    const runs = await Promise.all(runIds.map((id) => waitForRun(id)));
    for (const run of runs) expect(run).toMatchObject({ status: "completed", koodriveUserId: DEMO.leaver });
    // Every share was cancelled by exactly one run, and sent to KooDrive exactly once.
    expect(runs.map((r) => r.counts.cancelled ?? -1).sort((x, y) => x - y)).toEqual([0, 0, before.length]);
    const sent = (await sim.calls(0)).calls
      .filter((c) => c.endpoint === "cancel")
      .reduce((n, c) => n + c.ids, 0);
    expect(sent).toBe(before.length);
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(0);

    // The runs that came second waited for the first, on record.
    const waited = [];
    for (const id of runIds) {
      const records = await auditOf(id);
      if (records.some((r) => r.reason?.startsWith("waiting for run "))) waited.push(id);
    }
    expect(waited.length).toBeGreaterThanOrEqual(1);
  });

  it("a dry run never waits for, nor blocks, a real run of the same person", async () => {
    await sim.faults({ latencyMs: 0, rules: [{ endpoint: "cancel", kind: "latency", rate: 1, ms: 300 }] });
    const real = JSON.stringify(offboardedEvent({ id: "E-8003", koodriveUserId: DEMO.leaver }));
    const dry = JSON.stringify(
      offboardedEvent({ id: "E-8003", koodriveUserId: DEMO.leaver }, { options: { dryRun: true } }),
    );
    const [r1, r2] = await Promise.all([sendHr(uniqueId(), real), sendHr(uniqueId(), dry)]);
    const [realRun, dryRun] = await Promise.all([
      waitForRun(((await r1.json()) as { runId: string }).runId),
      waitForRun(((await r2.json()) as { runId: string }).runId),
    ]);
    expect(realRun.status).toBe("completed");
    expect(dryRun.status).toBe("dry_run");
    for (const id of [realRun.runId, dryRun.runId])
      expect((await auditOf(id)).some((r) => r.reason?.startsWith("waiting for run "))).toBe(false);
  });
});
