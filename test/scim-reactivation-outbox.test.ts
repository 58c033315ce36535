import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RunLedger } from "../src/offboarding/ledger";
import { runIdFor } from "../src/offboarding/start";
import { newPerson as newLeaver, type Person } from "./helpers/leaver";
import { sim } from "./helpers/sim";
import { admin, call, clearHolds, offboardedEvent, sendHr, uniqueId, waitForStatus } from "./helpers/worker";

/**
 * A SCIM reactivation is durable (nothing lost): the withdrawal of the person's waiting runs is committed in
 * the directory's outbox with the user's change, done after the answer, and retried by the directory's
 * alarm until it succeeds; a retry never withdraws a run accepted after the reactivation.
 */

/** The token configured in vitest.config.ts (SCIM_BEARER_TOKENS). */
const SCIM_TOKEN = "scim-test-token-0123456789abcdef";
const SHARES = 3;
/** A last day far enough ahead that no test sees the run act on its own. */
const AN_HOUR = 3_600_000;
/** What the route logs when the withdrawal after its answer failed (src/sources/scim/reactivate.ts). */
const LEFT_TO_ALARM = "scim reactivation left to the directory's alarm";

/** A person of this file's own (KooDrive ids apart from reactivation.test.ts's). */
const newPerson = (tag: string) => newLeaver(tag, "1505084219");

function scim(path: string, method: string, body?: unknown) {
  return call(`/scim/v2${path}`, {
    method,
    headers: { "content-type": "application/scim+json", authorization: `Bearer ${SCIM_TOKEN}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** A SCIM user for the person, inactive (deprovisioned earlier, by the IdP). */
async function inactiveUser(p: Person): Promise<string> {
  const res = await scim("/Users", "POST", {
    userName: p.email,
    externalId: uniqueId("ext"),
    name: { formatted: p.name },
    emails: [{ value: p.email, type: "work", primary: true }],
    active: false,
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

const reactivate = (id: string) =>
  scim(`/Users/${id}`, "PATCH", { Operations: [{ op: "replace", value: { active: true } }] });

/** The HR event of a leaver whose last day is an hour ahead; resolves once the run waits for it. */
async function scheduledRun(p: Person): Promise<string> {
  const event = offboardedEvent({ id: p.hrId, email: p.email, koodriveUserId: p.kd });
  event.data.effectiveAt = new Date(Date.now() + AN_HOUR).toISOString();
  const res = await sendHr(event);
  expect(res.status).toBe(202);
  const { runId } = (await res.json()) as { runId: string };
  await expect
    .poll(async () => (await env.RUNS.getByName(runId).getMeta())?.scheduled, { timeout: 30_000 })
    .toBe(true);
  return runId;
}

const statusOf = async (runId: string) => (await env.RUNS.getByName(runId).getMeta())?.status;
/** The run still waits for its last day (its ledger, the truth, says so). */
async function stillWaits(runId: string): Promise<boolean> {
  const meta = await env.RUNS.getByName(runId).getMeta();
  return meta?.status !== "withdrawn" && meta?.scheduled === true;
}

/** The directory's outbox entries of kind `reactivation` for this SCIM user (read in the Durable Object). */
function outboxOf(userId: string): Promise<number> {
  return runInDurableObject(env.SCIM.getByName("directory"), (_instance, state) =>
    state.storage.sql
      .exec<{ n: number }>(
        "SELECT COUNT(*) AS n FROM audit_outbox WHERE kind = 'reactivation' AND json_extract(record, '$.eventId') = ?",
        userId,
      )
      .one(),
  ).then((r) => r.n);
}

interface AuditRecord {
  type: string;
  status?: string;
  reason?: string;
  runId?: string;
  details?: Record<string, unknown>;
}

async function reactivationsOf(p: Person): Promise<AuditRecord[]> {
  const res = await admin(`/audit?user=${encodeURIComponent(p.email)}&limit=100`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { records: AuditRecord[] }).records.filter(
    (r) => r.type === "request.received" && r.status === "reactivated",
  );
}

async function cancelCalls(): Promise<number> {
  return (await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel").length;
}

/** A waiting run left by a test is withdrawn by an operator (no Workflow sleeps past its test). */
async function withdraw(runId: string): Promise<void> {
  const res = await admin(`/runs/${runId}/cancel`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ reason: "test clean-up" }),
  });
  expect(res.status).toBe(200);
}

/**
 * The ledger's `cancel` fails once (the Durable Object unreachable), as a withdrawal after the answer may;
 * resolves when the route has logged that it left the reactivation to the directory's alarm.
 */
function failFirstWithdrawal() {
  const cancel = vi.spyOn(RunLedger.prototype, "cancel").mockImplementationOnce(() => {
    throw new Error("ledger unavailable");
  });
  const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
  const leftToAlarm = () =>
    expect
      .poll(() => errors.mock.calls.some((args) => String(args[0]).includes(LEFT_TO_ALARM)), {
        timeout: 10_000,
      })
      .toBe(true);
  return { cancel, errors, leftToAlarm };
}

beforeEach(async () => {
  await sim.reset();
  await clearHolds();
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("SCIM reactivation: the withdrawal is kept in the directory's outbox until it succeeds", () => {
  it("a withdrawal that fails after the answer is retried by the directory's alarm: the run ends withdrawn, the entry is gone", async () => {
    const dana = newPerson("dana");
    await sim.seed({ users: [{ userId: dana.kd, name: dana.name, shares: SHARES }], seed: 7 });
    const id = await inactiveUser(dana);
    const runId = await scheduledRun(dana);
    const { cancel, errors, leftToAlarm } = failFirstWithdrawal();

    const res = await reactivate(id);
    expect(res.status).toBe(200); // the IdP's answer does not wait for (or fail with) the withdrawal
    expect(await res.json()).toMatchObject({ id, active: true });
    await leftToAlarm();
    expect(await stillWaits(runId)).toBe(true);
    expect(await outboxOf(id)).toBe(1);
    expect(await reactivationsOf(dana)).toHaveLength(0);
    // The log names the request and the entry, never the person.
    const logged = errors.mock.calls.map((a) => String(a[0])).find((l) => l.includes(LEFT_TO_ALARM)) ?? "";
    expect(logged).not.toContain(dana.email);

    expect(await runDurableObjectAlarm(env.SCIM.getByName("directory"))).toBe(true);
    expect(await statusOf(runId)).toBe("withdrawn");
    expect(await outboxOf(id)).toBe(0);
    expect(cancel).toHaveBeenCalledTimes(2);
    expect(await cancelCalls()).toBe(0);
    expect(await sim.shares(dana.kd, "active")).toHaveLength(SHARES);
    const [received] = await reactivationsOf(dana);
    expect(received).toMatchObject({ details: { withdrawn: runId } });
    expect(received?.reason).toMatch(
      /^SCIM PATCH active=true \(user .*\), retried: the person was reactivated/,
    );
  });

  it("a retried entry does not withdraw a run accepted after the reactivation", async () => {
    const lee = newPerson("lee");
    await sim.seed({ users: [{ userId: lee.kd, name: lee.name, shares: SHARES }], seed: 8 });
    const id = await inactiveUser(lee);
    const before = await scheduledRun(lee);
    const { leftToAlarm } = failFirstWithdrawal();
    expect((await reactivate(id)).status).toBe(200);
    await leftToAlarm();

    // A later leaver event for the same person (a new decision), then the retry.
    const after = await scheduledRun(lee);
    expect(await runDurableObjectAlarm(env.SCIM.getByName("directory"))).toBe(true);
    expect(await statusOf(before)).toBe("withdrawn");
    expect(await stillWaits(after)).toBe(true);
    expect(await outboxOf(id)).toBe(0);
    const [received] = await reactivationsOf(lee);
    expect(received?.details).toMatchObject({ withdrawn: before, later: after });
    await withdraw(after);
  });

  it("a reactivation whose request died after the directory's write is withdrawn by the alarm", async () => {
    const kim = newPerson("kim");
    await sim.seed({ users: [{ userId: kim.kd, name: kim.name, shares: SHARES }], seed: 9 });
    const id = await inactiveUser(kim);
    const runId = await scheduledRun(kim);
    const stub = env.SCIM.getByName("directory");
    // The write happens in the directory; the request that made it never withdraws anything.
    await stub.patch(id, [{ op: "replace", value: { active: true } }]);
    expect(await stillWaits(runId)).toBe(true);
    expect(await outboxOf(id)).toBe(1);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await statusOf(runId)).toBe("withdrawn");
    expect(await outboxOf(id)).toBe(0);
  });

  it("the happy path withdraws after the answer and leaves no outbox entry", async () => {
    const ann = newPerson("ann");
    await sim.seed({ users: [{ userId: ann.kd, name: ann.name, shares: SHARES }], seed: 10 });
    const id = await inactiveUser(ann);
    const runId = await scheduledRun(ann);
    expect((await reactivate(id)).status).toBe(200);
    await waitForStatus(runId, "withdrawn");
    await expect.poll(() => outboxOf(id), { timeout: 10_000 }).toBe(0);
    await expect.poll(async () => (await reactivationsOf(ann)).length).toBe(1);
    const [received] = await reactivationsOf(ann);
    expect(received).toMatchObject({ details: { withdrawn: runId } });
    expect(received?.reason).not.toMatch(/retried/);
  });
});

describe("SCIM: a deactivation undone before its run was started", () => {
  it("is not started by the directory's alarm once the user is active again (nothing revoked later)", async () => {
    const joe = newPerson("joe");
    await sim.seed({ users: [{ userId: joe.kd, name: joe.name, shares: SHARES }], seed: 11 });
    const res = await scim("/Users", "POST", {
      userName: joe.email,
      externalId: uniqueId("ext"),
      emails: [{ value: joe.email, type: "work", primary: true }],
      active: true,
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const stub = env.SCIM.getByName("directory");
    // The deactivation's request died before starting its run; the IdP then set the user active again.
    await stub.patch(id, [{ op: "replace", value: { active: false } }]);
    expect((await reactivate(id)).status).toBe(200);
    await expect.poll(() => outboxOf(id), { timeout: 10_000 }).toBe(0);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const runId = await runIdFor("scim", `${id}:1`);
    expect((await admin(`/runs/${runId}`)).status).toBe(404);
    expect(await sim.shares(joe.kd, "active")).toHaveLength(SHARES);
    // Nothing left for the alarm about this user: a second run starts nothing either.
    await runDurableObjectAlarm(stub);
    expect((await admin(`/runs/${runId}`)).status).toBe(404);
  });
});
