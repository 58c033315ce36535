import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { postHr } from "./helpers/env";
import { DEMO, sim } from "./helpers/sim";
import {
  admin,
  call,
  clearHolds,
  offboardedEvent,
  type RunView,
  uniqueId,
  waitForRun,
  waitForStatus,
} from "./helpers/worker";

/** An id no KooDrive user has. */
const NOBODY = "1505084218764549999";
const OKTA_SECRET = "okta-test-secret-0123456789";

interface AuditRecord {
  type: string;
  actor: string;
  status?: string;
  reason?: string;
  runId?: string;
  details?: Record<string, unknown>;
}

/** Sends a signed HR event, optionally with some settings changed; returns the run id. */
async function startHr(employee: Record<string, unknown>, vars: Record<string, string> = {}, extra = {}) {
  const id = uniqueId();
  const body = JSON.stringify(offboardedEvent(employee, extra));
  const res = await postHr(body, vars, id);
  expect(res.status).toBe(202);
  return ((await res.json()) as { runId: string }).runId;
}

async function runView(runId: string) {
  return (await (await admin(`/runs/${runId}?limit=5000`)).json()) as RunView & {
    candidate?: { koodriveUserId: string; name: string };
    confirmedBy?: string;
  };
}

async function runAudit(runId: string): Promise<AuditRecord[]> {
  const res = await admin(`/audit?limit=100`);
  const { records } = (await res.json()) as { records: AuditRecord[] };
  return records.filter((r) => r.runId === runId);
}

const confirm = (runId: string, koodriveUserId: string, actor = "alice@example.com") =>
  admin(`/runs/${runId}/confirm`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-audit-actor": actor },
    body: JSON.stringify({ koodriveUserId }),
  });

const cancels = async () => (await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel");

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("never the wrong person: a name alone is not a match (RESOLVE_BY_NAME)", () => {
  it("by default an Okta event carrying only Dana's display name cancels nothing and says what to do", async () => {
    const before = await sim.shares(DEMO.leaver, "active");
    const uuid = uniqueId("okta-evt");
    const res = await call("/webhooks/okta", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: OKTA_SECRET },
      body: JSON.stringify({
        eventType: "com.okta.event_hook",
        eventId: uniqueId("okta-delivery"),
        data: {
          events: [
            {
              uuid,
              published: new Date().toISOString(),
              eventType: "user.lifecycle.deactivate",
              target: [{ id: "00u1someone", type: "User", displayName: "Dana Leaver" }],
            },
          ],
        },
      }),
    });
    expect(res.status).toBe(200);
    const { runs } = (await res.json()) as { runs: Array<{ runId: string }> };
    const run = await waitForRun(runs[0]?.runId ?? "");
    expect(run).toMatchObject({ status: "unresolved", koodriveUserId: null });
    expect(run.detail).toContain("RESOLVE_BY_NAME=off");
    expect(run.detail).toContain("identity map");
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(before.length);
    expect(await cancels()).toHaveLength(0);
  });

  it("a contractor with another e-mail but a colleague's display name is unresolved, and told which e-mail to map", async () => {
    const before = await sim.shares(DEMO.seller, "active");
    const run = await waitForRun(
      await startHr({ id: "C-7001", email: "sam.contractor@partner.example", name: "Sam Seller" }),
    );
    expect(run.status).toBe("unresolved");
    expect(run.detail).toContain("add sam.contractor@partner.example to the identity map");
    expect(await sim.shares(DEMO.seller, "active")).toHaveLength(before.length);
    expect((await sim.calls(0)).calls.filter((c) => c.endpoint === "userList")).toHaveLength(0);
  });

  it("with confirm, the run plans, waits for an operator, refuses another id, then cancels once confirmed", async () => {
    const before = await sim.shares(DEMO.leaver, "active");
    const runId = await startHr({ id: "E-7002", name: "Dana Leaver" }, { RESOLVE_BY_NAME: "confirm" });
    await waitForStatus(runId, "awaiting_approval");
    const waiting = await runView(runId);
    expect(waiting.candidate).toEqual({ koodriveUserId: DEMO.leaver, name: "Dana Leaver" });
    expect(waiting.koodriveUserId).toBeNull();
    expect(waiting.counts.planned).toBe(before.length); // the plan is there for the operator to see
    expect(waiting.detail).toContain(
      `a name match (KooDrive user ${DEMO.leaver}) needs an operator to confirm it`,
    );
    expect(await cancels()).toHaveLength(0);
    expect((await runAudit(runId)).some((r) => r.status === "awaiting_approval")).toBe(true);

    const wrong = await confirm(runId, DEMO.seller);
    expect(wrong.status).toBe(409);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe("conflict");
    expect((await runView(runId)).status).toBe("awaiting_approval");
    expect(await cancels()).toHaveLength(0);

    expect((await env.RUNS.getByName(runId).getMeta())?.waitUntil).toBeDefined(); // the sweeper waits too
    const ok = await confirm(runId, DEMO.leaver);
    expect(ok.status).toBe(202);
    // Confirmed: the sweeper watches the run again (no 72-hour deadline left to hide a stuck run behind).
    expect((await env.RUNS.getByName(runId).getMeta())?.waitUntil).toBeUndefined();
    const run = await waitForRun(runId);
    expect(run).toMatchObject({ status: "completed", koodriveUserId: DEMO.leaver, resolvedBy: "name_match" });
    expect(run.counts.cancelled).toBe(before.length);
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(0);
    expect((await runView(runId)).confirmedBy).toBe("break-glass");

    expect((await confirm(runId, DEMO.leaver)).status).toBe(409);
    const decisions = (await runAudit(runId)).filter((r) => r.type === "run.decision");
    expect(decisions.map((d) => d.status).sort()).toEqual(["approved", "refused", "refused"]);
    expect(decisions.find((d) => d.status === "approved")?.actor).toBe("break-glass");
  });

  it("with confirm, a dry run plans without waiting and says a real run would", async () => {
    const run = await waitForRun(
      await startHr(
        { id: "E-7003", name: "Dana Leaver" },
        { RESOLVE_BY_NAME: "confirm" },
        {
          options: { dryRun: true },
        },
      ),
    );
    expect(run.status).toBe("dry_run");
    expect(run.detail).toContain("confirm the name match");
    expect(await cancels()).toHaveLength(0);
  });

  it("auto acts on a unique exact name match (the opt-in risk), and never between two namesakes", async () => {
    const run = await waitForRun(
      await startHr(
        { id: "E-7004", name: "Dana Leaver" },
        { RESOLVE_BY_NAME: "auto" },
        {
          options: { dryRun: true },
        },
      ),
    );
    expect(run).toMatchObject({ status: "dry_run", koodriveUserId: DEMO.leaver, resolvedBy: "name_match" });

    await sim.seed({ users: [{ name: "Dana Leaver", shares: 1 }], seed: 5 });
    const twice = await waitForRun(
      await startHr({ id: "E-7005", name: "Dana Leaver" }, { RESOLVE_BY_NAME: "auto" }),
    );
    expect(twice.status).toBe("unresolved");
    expect(twice.detail).toContain("not guessing");
    expect(await cancels()).toHaveLength(0);
  });

  it("refuses an unknown RESOLVE_BY_NAME value as misconfiguration", async () => {
    const id = uniqueId();
    const body = JSON.stringify(offboardedEvent({ id: "E-7006" }));
    const res = await postHr(body, { RESOLVE_BY_NAME: "maybe" }, id);
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("misconfigured");
  });
});

describe("never a false success: the leaver must exist in KooDrive", () => {
  it("a KooDrive id no user has ends unresolved, not completed with 0 cancelled", async () => {
    const run = await waitForRun(await startHr({ id: "E-7010", koodriveUserId: NOBODY }));
    expect(run.status).toBe("unresolved");
    expect(run.detail).toContain(`KooDrive has no user ${NOBODY}`);
    expect((await sim.calls(0)).calls.filter((c) => c.endpoint === "list")).toHaveLength(0);
  });

  it("an identity-map entry pointing to a missing user ends unresolved", async () => {
    const put = await admin("/identities", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ identities: [{ email: "gone@example.com", koodriveUserId: NOBODY }] }),
    });
    expect(put.status).toBe(200);
    const run = await waitForRun(await startHr({ id: "E-7011", email: "gone@example.com" }));
    expect(run.status).toBe("unresolved");
    expect(run.detail).toContain(`KooDrive has no user ${NOBODY} (identity map`);
  });
});
