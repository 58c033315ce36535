import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { expectEnvelope } from "./helpers/expect";
import { newPerson, type Person } from "./helpers/leaver";
import { sim } from "./helpers/sim";
import {
  admin,
  call,
  clearHolds,
  HR_SECRET,
  offboardedEvent,
  sendHr,
  signHr,
  uniqueId,
  waitForRun,
  waitForStatus,
} from "./helpers/worker";

/**
 * Issue 11, "Scheduled runs can be changed": an Okta `user.lifecycle.reactivate` / `unsuspend` event or a
 * SCIM reactivation of a person withdraws their waiting runs (a rehire or an HR mistake must not revoke
 * anything later); a run already acting or finished is never stopped, and the record says so.
 */

/** The secret and token configured in vitest.config.ts (OKTA_EVENT_HOOK_SECRETS, SCIM_BEARER_TOKENS). */
const OKTA_SECRET = "okta-test-secret-0123456789";
const SCIM_TOKEN = "scim-test-token-0123456789abcdef";
const SHARES = 3;
/** A last day far enough ahead that no test sees the run act on its own. */
const AN_HOUR = 3_600_000;

async function seed(...people: Person[]): Promise<void> {
  await sim.seed({
    users: people.map((p) => ({ userId: p.kd, name: p.name, shares: SHARES })),
    seed: 77,
  });
}

/** The HR event of a leaver whose last day is `inMs` ahead; resolves once the run waits for it. */
async function scheduledRun(
  p: Person,
  inMs = AN_HOUR,
  employee: Record<string, unknown> = { id: p.hrId, email: p.email, koodriveUserId: p.kd },
): Promise<string> {
  const event = offboardedEvent(employee);
  event.data.effectiveAt = new Date(Date.now() + inMs).toISOString();
  const res = await sendHr(event);
  expect(res.status).toBe(202);
  const { runId } = (await res.json()) as { runId: string };
  if (inMs > 0) await waitScheduled(runId);
  return runId;
}

/** The run's ledger (the truth) says it waits for its effectiveAt. */
async function waitScheduled(runId: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const meta = await env.RUNS.getByName(runId).getMeta();
    if (meta?.scheduled) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${runId} never waited for its effectiveAt`);
}

async function isScheduled(runId: string): Promise<boolean> {
  const meta = await env.RUNS.getByName(runId).getMeta();
  return meta?.status !== "withdrawn" && meta?.scheduled === true;
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

function oktaEvent(eventType: string, p: Person, published = new Date()) {
  return {
    uuid: uniqueId("okta-evt"),
    published: published.toISOString(),
    eventType,
    displayMessage: "Reactivate Okta user",
    target: [
      { id: p.oktaId, type: "User", alternateId: p.email, displayName: p.name },
      { id: "0oa1appinstance", type: "AppInstance", alternateId: "KooDrive", displayName: "KooDrive" },
    ],
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

/** Okta sends its configured header (`Authorization: <secret>`) on every POST [webhook-sources.md]. */
function sendOkta(body: unknown, secret: string | null = OKTA_SECRET, requestId?: string) {
  const headers = new Headers({ "content-type": "application/json" });
  if (secret !== null) headers.set("authorization", secret);
  if (requestId) headers.set("x-request-id", requestId);
  return call("/webhooks/okta", { method: "POST", headers, body: JSON.stringify(body) });
}

interface OktaAnswer {
  runs: unknown[];
  reactivated: Array<{
    uuid: string;
    eventType: string;
    withdrawn?: string[];
    underWay?: string[];
    duplicate?: boolean;
  }>;
  ignored: number;
}

function scim(path: string, method: string, body?: unknown) {
  return call(`/scim/v2${path}`, {
    method,
    headers: { "content-type": "application/scim+json", authorization: `Bearer ${SCIM_TOKEN}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function scimUser(p: Person, active: boolean) {
  return {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName: p.email,
    externalId: uniqueId("ext"),
    name: { formatted: p.name },
    emails: [{ value: p.email, type: "work", primary: true }],
    active,
  };
}

async function createScimUser(p: Person, active: boolean): Promise<string> {
  const res = await scim("/Users", "POST", scimUser(p, active));
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

interface AuditRecord {
  type: string;
  source?: string;
  status?: string;
  reason?: string;
  runId?: string;
  requestId?: string;
  eventId?: string;
  details?: Record<string, unknown>;
}

async function recordsOf(p: Person): Promise<AuditRecord[]> {
  const res = await admin(`/audit?user=${encodeURIComponent(p.email)}&limit=100`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { records: AuditRecord[] }).records;
}

const reactivations = (records: AuditRecord[]) =>
  records.filter((r) => r.type === "request.received" && r.status === "reactivated");

/** A SCIM reactivation withdraws after its answer (waitUntil): its record comes a moment later. */
async function scimReactivationRecorded(p: Person): Promise<AuditRecord[]> {
  await expect.poll(async () => reactivations(await recordsOf(p)).length).toBeGreaterThan(0);
  return recordsOf(p);
}

async function cancelCalls(): Promise<number> {
  return (await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel").length;
}

/** Nothing of the person's was cancelled in KooDrive. */
async function expectSharesKept(p: Person): Promise<void> {
  expect(await sim.shares(p.kd, "active")).toHaveLength(SHARES);
}

beforeEach(async () => {
  await sim.reset();
  await clearHolds();
});

describe("Okta: a reactivated or unsuspended person's waiting run is withdrawn", () => {
  for (const eventType of ["user.lifecycle.reactivate", "user.lifecycle.unsuspend"]) {
    it(`${eventType} withdraws the run waiting for the person's last day; nothing is cancelled`, async () => {
      const dana = newPerson("dana");
      await seed(dana);
      const runId = await scheduledRun(dana);

      const event = oktaEvent(eventType, dana);
      const res = await sendOkta(delivery([event]));
      expect(res.status).toBe(200);
      const body = (await res.json()) as OktaAnswer;
      expect(body.runs).toEqual([]);
      expect(body.ignored).toBe(0);
      expect(body.reactivated).toEqual([{ uuid: event.uuid, eventType, withdrawn: [runId], underWay: [] }]);

      await waitForStatus(runId, "withdrawn");
      const meta = await env.RUNS.getByName(runId).getMeta();
      expect(meta?.withdrawnBy).toMatchObject({
        by: "source:okta",
        reason: `okta ${eventType} ${event.uuid}: the person was reactivated`,
      });
      expect(await cancelCalls()).toBe(0);
      await expectSharesKept(dana);

      const records = await recordsOf(dana);
      const [received] = reactivations(records);
      expect(reactivations(records)).toHaveLength(1);
      expect(received).toMatchObject({
        source: "okta",
        eventId: event.uuid,
        details: { withdrawn: runId, underWay: "" },
      });
      expect(received?.reason).toMatch(/the person was reactivated; withdrew 1 waiting run/);
      expect(received?.reason).not.toMatch(/revocation began/);
      expect(records.find((r) => r.type === "run.cancel" && r.runId === runId)?.status).toBe("withdrawn");
    });
  }

  it("leaves another person's waiting run alone, even one with the same name (a name is never matched)", async () => {
    const dana = newPerson("dana");
    const other = newPerson("other");
    await seed(dana, other);
    const danas = await scheduledRun(dana);
    const others = await scheduledRun(other, AN_HOUR, {
      id: other.hrId,
      email: other.email,
      koodriveUserId: other.kd,
      name: dana.name,
    });

    const body = (await (
      await sendOkta(delivery([oktaEvent("user.lifecycle.reactivate", dana)]))
    ).json()) as OktaAnswer;
    expect(body.reactivated[0]?.withdrawn).toEqual([danas]);
    await waitForStatus(danas, "withdrawn");
    expect(await isScheduled(others)).toBe(true);
    expect(reactivations(await recordsOf(other))).toHaveLength(0);
    await withdraw(others);
  });

  it("finds a run the HR event named by another identifier through the identity map's KooDrive user", async () => {
    const dana = newPerson("dana");
    await seed(dana);
    const mapped = await admin("/identities", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ identities: [{ email: dana.email, koodriveUserId: dana.kd }] }),
    });
    expect(mapped.status).toBe(200);
    // The HR event knows Dana by her HR id and KooDrive id only; Okta by her Okta id and login.
    const runId = await scheduledRun(dana, AN_HOUR, { id: dana.hrId, koodriveUserId: dana.kd });
    const body = (await (
      await sendOkta(delivery([oktaEvent("user.lifecycle.reactivate", dana)]))
    ).json()) as OktaAnswer;
    expect(body.reactivated[0]?.withdrawn).toEqual([runId]);
    await waitForStatus(runId, "withdrawn");
    await expectSharesKept(dana);
  });

  it("withdraws a run waiting for approval", async () => {
    const dana = newPerson("dana");
    await seed(dana);
    // HR runs need approval here (APPROVAL_REQUIRED=hr): the run plans, then waits for a decision.
    const { buildApp } = await import("../src/app");
    const raw = JSON.stringify(
      offboardedEvent({ id: dana.hrId, email: dana.email, koodriveUserId: dana.kd }),
    );
    const id = uniqueId();
    const ts = Math.floor(Date.now() / 1000);
    const res = await buildApp().fetch(
      new Request("https://offboard.example.com/webhooks/hr", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "webhook-id": id,
          "webhook-timestamp": String(ts),
          "webhook-signature": signHr(HR_SECRET, id, ts, raw),
        },
        body: raw,
      }),
      { ...env, APPROVAL_REQUIRED: "hr" },
    );
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    await waitForStatus(runId, "awaiting_approval");

    const body = (await (
      await sendOkta(delivery([oktaEvent("user.lifecycle.unsuspend", dana)]))
    ).json()) as OktaAnswer;
    expect(body.reactivated[0]?.withdrawn).toEqual([runId]);
    await waitForStatus(runId, "withdrawn");
    expect(await cancelCalls()).toBe(0);
    await expectSharesKept(dana);
  });

  it("does not stop a run that already acted, and the record says the reactivation came after the revocation began", async () => {
    const dana = newPerson("dana");
    await seed(dana);
    const runId = await scheduledRun(dana, 0); // last day now: the run acts at once
    const done = await waitForRun(runId);
    expect(done.status).toBe("completed");
    const cancels = await cancelCalls();

    const body = (await (
      await sendOkta(delivery([oktaEvent("user.lifecycle.reactivate", dana)]))
    ).json()) as OktaAnswer;
    expect(body.reactivated[0]).toMatchObject({ withdrawn: [], underWay: [runId] });
    const after = await waitForRun(runId);
    expect(after).toMatchObject({ status: "completed", attempt: 1 });
    expect(after.counts.cancelled).toBe(done.counts.cancelled);
    expect(await cancelCalls()).toBe(cancels);

    const [received] = reactivations(await recordsOf(dana));
    expect(received?.reason).toMatch(/no waiting run to withdraw; reactivated after the revocation began/);
    expect(received?.details).toMatchObject({ withdrawn: "", underWay: runId });
  });
});

describe("Okta: replays and authentication", () => {
  it("a redelivered reactivation withdraws nothing twice and writes a bounded number of records", async () => {
    const dana = newPerson("dana");
    await seed(dana);
    const runId = await scheduledRun(dana);
    const body = delivery([oktaEvent("user.lifecycle.reactivate", dana)]);
    const ids = new Set<string>();
    const answers: OktaAnswer[] = [];
    for (let i = 0; i < 10; i++) {
      const requestId = `react-replay-${i}-${Date.now()}`;
      ids.add(requestId);
      const res = await sendOkta(body, OKTA_SECRET, requestId);
      expect(res.status).toBe(200);
      answers.push((await res.json()) as OktaAnswer);
    }
    expect(answers[0]?.reactivated[0]?.withdrawn).toEqual([runId]);
    for (const a of answers.slice(1)) expect(a.reactivated[0]?.duplicate).toBe(true);
    await waitForStatus(runId, "withdrawn");

    const records = await recordsOf(dana);
    expect(reactivations(records)).toHaveLength(1);
    expect(records.filter((r) => r.type === "run.cancel")).toHaveLength(1);
    // The reactivation and its one withdrawal; not one per delivery (10 or 20).
    expect(records.filter((r) => r.requestId && ids.has(r.requestId)).length).toBeLessThanOrEqual(2);
  });

  it("a replay after the guard forgot it cannot withdraw a run accepted after the reactivation", async () => {
    const dana = newPerson("dana");
    await seed(dana);
    const event = oktaEvent("user.lifecycle.reactivate", dana, new Date(Date.now() - 60_000));
    const body = delivery([event]);
    expect(((await (await sendOkta(body)).json()) as OktaAnswer).reactivated[0]?.withdrawn).toEqual([]);

    // A later leaver event (a new decision), then the captured delivery again a day later.
    const runId = await scheduledRun(dana);
    await env.REPLAY.getByName("okta").forget(`reactivation\n${event.uuid}`);
    const replay = (await (await sendOkta(body)).json()) as OktaAnswer;
    expect(replay.reactivated[0]).toMatchObject({ withdrawn: [], underWay: [] });
    expect(await isScheduled(runId)).toBe(true);
    const latest = reactivations(await recordsOf(dana))[0];
    expect(latest?.details).toMatchObject({ withdrawn: "", later: runId });
    await withdraw(runId);
  });

  for (const [name, secret] of [
    ["no secret", null],
    ["a wrong secret", "okta-test-secret-0123456780"],
  ] as const) {
    it(`a reactivation with ${name} is refused (401) and withdraws nothing`, async () => {
      const dana = newPerson("dana");
      await seed(dana);
      const runId = await scheduledRun(dana);
      await expectEnvelope(
        await sendOkta(delivery([oktaEvent("user.lifecycle.reactivate", dana)]), secret),
        401,
        "unauthorized",
      );
      expect(await isScheduled(runId)).toBe(true);
      expect(reactivations(await recordsOf(dana))).toHaveLength(0);
      await withdraw(runId);
    });
  }

  it("a reactivation event without its published time is answered as invalid and withdraws nothing", async () => {
    const dana = newPerson("dana");
    await seed(dana);
    const runId = await scheduledRun(dana);
    const { published: _p, ...event } = oktaEvent("user.lifecycle.reactivate", dana);
    const res = await sendOkta(delivery([event]));
    expect(res.status).toBe(200);
    const body = (await res.json()) as OktaAnswer & { invalid: Array<{ path: string }> };
    expect(body.reactivated).toEqual([]);
    expect(body.invalid).toEqual([expect.objectContaining({ path: "data.events.0.published" })]);
    expect(await isScheduled(runId)).toBe(true);
    await withdraw(runId);
  });
});

describe("SCIM: a user set active again withdraws the person's waiting run", () => {
  it("PATCH active:true (Okta's form, no path) on an inactive user withdraws it and answers the user", async () => {
    const dana = newPerson("dana");
    await seed(dana);
    const id = await createScimUser(dana, false);
    const runId = await scheduledRun(dana);

    const res = await scim(`/Users/${id}`, "PATCH", {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", value: { active: true } }],
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/scim+json");
    expect(await res.json()).toMatchObject({ id, userName: dana.email, active: true });

    await waitForStatus(runId, "withdrawn");
    expect(await cancelCalls()).toBe(0);
    await expectSharesKept(dana);
    const records = await scimReactivationRecorded(dana);
    const [received] = reactivations(records);
    expect(received).toMatchObject({ source: "scim", eventId: id, details: { withdrawn: runId } });
    expect(received?.reason).toMatch(/^SCIM PATCH active=true .*the person was reactivated; withdrew 1/);
    expect(records.some((r) => r.type === "scim.user" && r.status === "reactivated")).toBe(true);
  });

  it('Entra\'s PATCH (path active, value "True") and a PUT with active:true withdraw it too', async () => {
    const dana = newPerson("dana");
    const lee = newPerson("lee");
    await seed(dana, lee);
    const danaId = await createScimUser(dana, false);
    const leeId = await createScimUser(lee, false);
    const danas = await scheduledRun(dana);
    const lees = await scheduledRun(lee);

    const patched = await scim(`/Users/${danaId}`, "PATCH", {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "Replace", path: "active", value: "True" }],
    });
    expect(patched.status).toBe(200);
    const put = await scim(`/Users/${leeId}`, "PUT", scimUser(lee, true));
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ id: leeId, active: true });

    await waitForStatus(danas, "withdrawn");
    await waitForStatus(lees, "withdrawn");
    expect(reactivations(await scimReactivationRecorded(lee))[0]?.reason).toMatch(/^SCIM PUT active=true/);
    expect(await cancelCalls()).toBe(0);
  });

  it("a run that already acted is not stopped, and the record says the reactivation came after it began", async () => {
    const dana = newPerson("dana");
    await seed(dana);
    const id = await createScimUser(dana, false);
    const runId = await scheduledRun(dana, 0);
    expect((await waitForRun(runId)).status).toBe("completed");
    const cancels = await cancelCalls();
    const res = await scim(`/Users/${id}`, "PATCH", {
      Operations: [{ op: "replace", value: { active: true } }],
    });
    expect(res.status).toBe(200);
    const [received] = reactivations(await scimReactivationRecorded(dana));
    expect((await waitForRun(runId)).status).toBe("completed");
    expect(await cancelCalls()).toBe(cancels);
    expect(received?.source).toBe("scim");
    expect(received?.reason).toMatch(/reactivated after the revocation began/);
    expect(received?.details).toMatchObject({ withdrawn: "", underWay: runId });
  });

  it("a write to a user who is already active (a routine profile sync) withdraws nothing", async () => {
    const dana = newPerson("dana");
    await seed(dana);
    const id = await createScimUser(dana, true);
    const runId = await scheduledRun(dana);
    const patched = await scim(`/Users/${id}`, "PATCH", {
      Operations: [{ op: "replace", value: { active: true, displayName: "Dana R." } }],
    });
    expect(patched.status).toBe(200);
    const put = await scim(`/Users/${id}`, "PUT", scimUser(dana, true));
    expect(put.status).toBe(200);
    expect(await isScheduled(runId)).toBe(true);
    expect(reactivations(await recordsOf(dana))).toHaveLength(0);
    await withdraw(runId);
  });
});
