import { beforeEach, describe, expect, it } from "vitest";
import { DEMO, sim } from "./helpers/sim";
import {
  admin,
  clearHolds,
  offboardedEvent,
  type RunView,
  sendHr,
  uniqueId,
  waitForRun,
} from "./helpers/worker";

const LEAVER = "1505084218764549100";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

async function start(
  employee: Record<string, unknown>,
  extra: Record<string, unknown> = {},
  id = uniqueId(),
) {
  const res = await sendHr(offboardedEvent(employee, extra), { id });
  expect(res.status).toBe(202);
  return ((await res.json()) as { runId: string }).runId;
}

describe("a run under faults", () => {
  it("offboards a leaver with 250 shares through 429s, 5xx and per-share failures, cancelling none twice", async () => {
    await sim.seed({ users: [{ userId: LEAVER, name: "Fay Faulty", shares: 250 }], seed: 11 });
    await sim.faults({
      seed: 42,
      rules: [
        { endpoint: "list", kind: "http429", next: 2, retryAfter: 1 },
        { endpoint: "list", kind: "http5xx", rate: 0.2, status: 502 },
        { endpoint: "cancel", kind: "http5xx", next: 1, status: 503 },
        { endpoint: "cancel", kind: "http5xx", rate: 0.2, status: 503 },
        { endpoint: "cancel", kind: "shareFailure", rate: 0.1 },
      ],
    });
    const runId = await start({ id: "E-3001", koodriveUserId: LEAVER });
    const run = await waitForRun(runId, 120_000);

    const active = new Set((await sim.shares(LEAVER, "active")).map((s) => s.shareId));
    const all = await sim.shares(LEAVER, "all");
    expect(all.every((s) => s.cancelSuccesses <= 1 && s.cancelAfterCancelled === 0)).toBe(true);
    const stillOpen = run.shares.filter((s) => s.state === "failed" || s.state === "still_active");
    expect(new Set(stillOpen.map((s) => s.shareId))).toEqual(active);
    expect(run.status).toBe(active.size === 0 ? "completed" : "partial");
    for (const s of run.shares.filter((s) => s.state === "cancelled"))
      expect(active.has(s.shareId)).toBe(false);
    const stats = await sim.stats();
    expect(stats.statuses["429"] ?? 0).toBeGreaterThan(0);
    expect(stats.statuses["503"] ?? 0).toBeGreaterThan(0);
  });

  it("ends partial, naming exactly the shares KooDrive keeps refusing, and a retry finishes the job", async () => {
    const { users } = await sim.seed({
      users: [{ userId: LEAVER, name: "Pat Partial", shares: 30 }],
      seed: 3,
    });
    const stubborn = (users[0]?.shareIds ?? []).slice(0, 4);
    await sim.faults({ rules: [{ endpoint: "cancel", kind: "shareFailure", shareIds: stubborn, rate: 1 }] });
    const runId = await start({ id: "E-3002", koodriveUserId: LEAVER });
    const run = await waitForRun(runId);
    expect(run.status).toBe("partial");
    expect(
      run.shares
        .filter((s) => s.state === "failed")
        .map((s) => s.shareId)
        .sort(),
    ).toEqual([...stubborn].sort());
    expect(run.shares.find((s) => s.state === "failed")).toMatchObject({ code: "13000201" });

    await sim.clearFaults();
    const retry = await admin(`/runs/${runId}/retry`, { method: "POST" });
    expect(retry.status).toBe(202);
    expect(await retry.json()).toMatchObject({ runId, attempt: 2, requeued: 4 });
    const again = await waitForRun(runId, 60_000, 2);
    expect(again.status).toBe("completed");
    expect(await sim.shares(LEAVER, "active")).toHaveLength(0);
    expect((await sim.summary(LEAVER)).doubleCancelAttempts).toBe(0);

    const conflict = await admin(`/runs/${runId}/retry`, { method: "POST" });
    expect(conflict.status).toBe(409);
  });
});

describe("idempotency", () => {
  it("two concurrent deliveries of one webhook-id start one run", async () => {
    const id = uniqueId();
    const event = offboardedEvent({ id: "E-3003", koodriveUserId: DEMO.leaver });
    const responses = await Promise.all([
      sendHr(event, { id }),
      sendHr(event, { id }),
      sendHr(event, { id }),
    ]);
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as Array<{
      runId: string;
      duplicate?: boolean;
    }>;
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(new Set(bodies.map((b) => b.runId)).size).toBe(1);
    expect(bodies.filter((b) => !b.duplicate)).toHaveLength(1);
    const run = await waitForRun(bodies[0]?.runId ?? "");
    expect(run.status).toBe("completed");
    expect((await sim.summary(DEMO.leaver)).doubleCancelAttempts).toBe(0);
    const lists = (await sim.calls(0)).calls.filter((c) => c.endpoint === "list" && c.userId === DEMO.leaver);
    // One plan listing and one verify listing: a second run would have listed again.
    expect(lists.filter((c) => c.query.includes("pageCursor=0"))).toHaveLength(2);
  });
});

describe("holds", () => {
  it("never cancels a held share, and records why", async () => {
    const shares = await sim.shares(DEMO.leaver, "active");
    const held = shares.slice(0, 2).map((s) => s.shareId);
    const put = await admin("/holds", {
      method: "PUT",
      headers: { "content-type": "application/json", "x-audit-actor": "legal@example.com", "if-match": "*" },
      body: JSON.stringify({ holds: held.map((id) => ({ type: "share", id, reason: "legal hold LH-7" })) }),
    });
    expect(put.status).toBe(200);
    expect(((await (await admin("/holds")).json()) as { holds: unknown[] }).holds).toHaveLength(2);

    const run = await waitForRun(await start({ id: "E-3004", koodriveUserId: DEMO.leaver }));
    expect(run.status).toBe("completed");
    expect(
      run.shares
        .filter((s) => s.state === "skipped_hold")
        .map((s) => s.shareId)
        .sort(),
    ).toEqual(held.sort());
    expect((await sim.shares(DEMO.leaver, "active")).map((s) => s.shareId).sort()).toEqual(held.sort());
  });

  it("a user hold leaves every share of that user alone", async () => {
    await admin("/holds", {
      method: "PUT",
      headers: { "content-type": "application/json", "if-match": "*" },
      body: JSON.stringify({ holds: [{ type: "user", id: DEMO.leaver, reason: "litigation" }] }),
    });
    const before = await sim.shares(DEMO.leaver, "active");
    const run = await waitForRun(await start({ id: "E-3005", koodriveUserId: DEMO.leaver }));
    expect(run.counts.skipped_hold).toBe(before.length);
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(before.length);
    expect((await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel")).toHaveLength(0);
  });

  it("rejects an invalid hold with 422 and keeps the old set", async () => {
    const res = await admin("/holds", {
      method: "PUT",
      headers: { "content-type": "application/json", "if-match": "*" },
      body: JSON.stringify({ holds: [{ type: "share", id: "12", reason: "" }] }),
    });
    expect(res.status).toBe(422);
    expect(((await (await admin("/holds")).json()) as { holds: unknown[] }).holds).toHaveLength(0);
  });
});

describe("resolving the leaver", () => {
  it("an unknown e-mail ends unresolved; after PUT /identities a retry completes", async () => {
    const runId = await start({ id: "E-3006", email: "ghost@example.com" });
    const run = await waitForRun(runId);
    expect(run.status).toBe("unresolved");
    expect(run.detail).toContain("no identity map entry");
    expect(
      (await sim.calls(0)).calls.filter((c) => c.endpoint === "list" || c.endpoint === "cancel"),
    ).toHaveLength(0);

    const put = await admin("/identities", {
      method: "PUT",
      headers: { "content-type": "text/csv" },
      body: `email,hrId,koodriveUserId,name\nghost@example.com,E-3006,${DEMO.leaver},Dana Leaver\n`,
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ stored: 1, keys: 2 });
    const byEmail = await admin("/identities/Ghost@Example.com");
    expect(await byEmail.json()).toMatchObject({ koodriveUserId: DEMO.leaver });
    expect((await admin("/identities/hr:E-3006")).status).toBe(200);

    expect((await admin(`/runs/${runId}/retry`, { method: "POST" })).status).toBe(202);
    const again = await waitForRun(runId, 60_000, 2);
    expect(again).toMatchObject({
      status: "completed",
      koodriveUserId: DEMO.leaver,
      resolvedBy: "identity_map",
    });
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(0);
  });

  it("rejects identities with a bad row as a whole (422, nothing stored)", async () => {
    const res = await admin("/identities", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        { email: "ok@example.com", koodriveUserId: DEMO.leaver },
        { email: "bad@example.com", koodriveUserId: "nope" },
      ]),
    });
    expect(res.status).toBe(422);
    expect((await admin("/identities/ok@example.com")).status).toBe(404);
  });
});

describe("scopes, report and export", () => {
  it("cancels only the requested scopes and records the rest as skipped", async () => {
    const before = await sim.shares(DEMO.leaver, "active");
    const run: RunView = await waitForRun(
      await start({ id: "E-3009", koodriveUserId: DEMO.leaver }, { options: { scopes: [1] } }),
    );
    const external = before.filter((s) => s.scope === 1).length;
    expect(run.counts.cancelled).toBe(external);
    expect(run.counts.skipped_scope).toBe(before.length - external);
    expect((await sim.shares(DEMO.leaver, "active")).every((s) => s.scope !== 1)).toBe(true);
  });

  it("exports every share as CSV and NDJSON", async () => {
    const before = await sim.shares(DEMO.leaver, "active");
    const runId = await start({ id: "E-3010", koodriveUserId: DEMO.leaver });
    await waitForRun(runId);
    const csv = await admin(`/runs/${runId}/export?format=csv`);
    expect(csv.headers.get("content-type")).toContain("text/csv");
    const lines = (await csv.text()).trim().split("\r\n");
    expect(lines[0]).toBe(
      "runId,shareId,scope,displayName,linkUrl,shortUrl,expireTime,shareStatus,state,reason,code,msg,attempts,updatedAt,late",
    );
    expect(lines).toHaveLength(before.length + 1);
    const nd = (await (await admin(`/runs/${runId}/export?format=ndjson`)).text()).trim().split("\n");
    expect(nd.map((l) => (JSON.parse(l) as { shareId: string }).shareId).sort()).toEqual(
      before.map((s) => s.shareId).sort(),
    );
    expect((await admin(`/runs/${runId}/export?format=xml`)).status).toBe(400);
  });
});
