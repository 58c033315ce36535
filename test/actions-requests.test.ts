/**
 * Issue 10, the request side: every way a run is started records the actions it takes (the policy's,
 * OFFBOARDING_ACTIONS, or fewer as asked) and who receives the files (`handoverTo`), through the Worker's
 * real entry with the policy layered over the env (`callWith`). Asking beyond the policy is refused (422 in
 * our envelope, or a chat reply) and starts nothing. What a run then does with its actions is the
 * Workflow's (other tests); here the oracle is the run's stored request, read from its ledger.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import type { RunMeta, RunRequest } from "../src/offboarding/types";
import { newTeam } from "./helpers/access";
import { callWith, postHr } from "./helpers/env";
import { expectEnvelope, expectNoRun, snapshot } from "./helpers/expect";
import { signSlack, signTeams } from "./helpers/signers";
import { DEMO, sim } from "./helpers/sim";
import { ADMIN_TOKEN, admin, clearHolds, offboardedEvent, uniqueId, waitForRun } from "./helpers/worker";

const ALL = { OFFBOARDING_ACTIONS: "revoke_shares,handover,block_login,watch" };
const WITH_HANDOVER = { OFFBOARDING_ACTIONS: "revoke_shares,handover" };
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/** The request a run was accepted with, as its ledger keeps it. */
async function requestOf(runId: string): Promise<RunRequest> {
  const meta = (await env.RUNS.getByName(runId).getMeta()) as RunMeta | null;
  if (!meta) throw new Error(`no run ${runId}`);
  return meta.request;
}

/** Runs of this person in the runs index (written before a source answers). */
async function runsOf(person: string): Promise<string[]> {
  const res = await admin(`/runs?person=${encodeURIComponent(person)}&limit=200`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { runs: Array<{ runId: string }> }).runs.map((r) => r.runId);
}

/** A person no KooDrive user is: their runs end `unresolved` at once, touching nothing. */
const nobody = (tag = "leaver") => `${uniqueId(tag)}@nowhere.example`.toLowerCase();

/** An `employee.offboarded` event for someone unknown, effective now. */
function hrEvent(employee: Record<string, unknown>, options?: Record<string, unknown>) {
  return offboardedEvent({ id: uniqueId("E"), ...employee }, options ? { options } : {});
}

async function accepted(res: Response): Promise<string> {
  expect(res.status).toBe(202);
  const { runId } = (await res.json()) as { runId: string };
  return runId;
}

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("HR events: options.actions and data.employee.manager", () => {
  it("a run takes the policy's actions when the event asks for none (the default policy: revoke_shares)", async () => {
    const runId = await accepted(await postHr(hrEvent({ email: nobody() })));
    expect((await requestOf(runId)).actions).toEqual(["revoke_shares"]);
    const all = await accepted(await postHr(hrEvent({ email: nobody() }), ALL));
    expect((await requestOf(all)).actions).toEqual(["revoke_shares", "handover", "block_login", "watch"]);
    await waitForRun(runId);
    await waitForRun(all);
  });

  it("asking for fewer actions than the policy allows: those, in the order they run", async () => {
    const runId = await accepted(
      await postHr(hrEvent({ email: nobody() }, { actions: ["block_login", "Revoke_Shares"] }), ALL),
    );
    const request = await requestOf(runId);
    expect(request.actions).toEqual(["revoke_shares", "block_login"]);
    expect(request.handoverTo).toBeUndefined();
    await waitForRun(runId);
  });

  it("asking for more than the policy allows, an unknown action or none: 422 naming why, nothing started or written", async () => {
    const cases: Array<[unknown[], RegExp]> = [
      [["revoke_shares", "handover"], /not allowed by this deployment's policy.*handover/],
      [["revoke_shares", "shred"], /unknown action\(s\): shred/],
      [[], /no action asked for/],
    ];
    for (const [actions, message] of cases) {
      const id = uniqueId();
      // A KooDrive id: no suggested match is noted for the person either, so KV must not change at all.
      const event = hrEvent({ koodriveUserId: "1505084218764599901" }, { actions });
      const before = await snapshot();
      const body = await expectEnvelope(await postHr(event, {}, id), 422, "invalid_body");
      expect(body.error.message).toMatch(message);
      expect(body.error.details?.[0]).toMatchObject({ path: "options.actions", message });
      await expectNoRun("hr", id);
      const after = await snapshot();
      expect([...after.keys].filter((k) => !before.keys.has(k))).toEqual([]);
      expect(after.simCalls).toBe(before.simCalls);
    }
  });

  it("a manager named by the event is the handover recipient (from: event)", async () => {
    const manager = { email: "Mo.Manager@Example.com", hrId: "E-MGR-7", name: "Mo Manager" };
    const runId = await accepted(
      await postHr(hrEvent({ email: nobody(), manager: { ...manager, title: "Head of Sales" } }), ALL),
    );
    const request = await requestOf(runId);
    expect(request.handoverTo).toEqual({ person: manager, from: "event" });
    expect(request.actions).toEqual(["revoke_shares", "handover", "block_login", "watch"]);
    const byId = await accepted(
      await postHr(hrEvent({ email: nobody(), manager: { koodriveUserId: DEMO.seller } }), WITH_HANDOVER),
    );
    expect((await requestOf(byId)).handoverTo).toEqual({
      person: { koodriveUserId: DEMO.seller },
      from: "event",
    });
    await waitForRun(runId);
    await waitForRun(byId);
  });

  it("a manager who is the employee themselves, or names nobody, or a bad identifier: 422, no run", async () => {
    const email = nobody();
    const employee = { id: "E-SELF-1", email, koodriveUserId: "1505084218764599902" };
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ email: email.toUpperCase() }, "data.employee.manager", /never goes to the leaver/],
      [{ hrId: "E-SELF-1", name: "Me" }, "data.employee.manager", /never goes to the leaver/],
      [{ koodriveUserId: "1505084218764599902" }, "data.employee.manager", /never goes to the leaver/],
      [{ name: "Only A Name" }, "data.employee.manager", /at least one of email, hrId, koodriveUserId/],
      [{ email: "not-an-email" }, "data.employee.manager.email", /e-mail/],
      [{ koodriveUserId: "12345" }, "data.employee.manager.koodriveUserId", /19-digit/],
    ];
    for (const [manager, path, message] of cases) {
      const id = uniqueId();
      const res = await postHr(hrEvent({ ...employee, manager }), ALL, id);
      const body = await expectEnvelope(res, 422, "invalid_body");
      expect(body.error.details?.[0]?.path, JSON.stringify(manager)).toBe(path);
      expect(body.error.details?.[0]?.message).toMatch(message);
      await expectNoRun("hr", id);
    }
    expect(await runsOf(email)).toEqual([]);
  });

  it("without handover in the run's actions the manager is not read: a sender's other shape is still accepted", async () => {
    const runId = await accepted(
      await postHr(hrEvent({ email: nobody(), manager: "Mo Manager (Sales)" }), {
        OFFBOARDING_ACTIONS: "revoke_shares,block_login",
      }),
    );
    const request = await requestOf(runId);
    expect(request.actions).toEqual(["revoke_shares", "block_login"]);
    expect(request.handoverTo).toBeUndefined();
    // Asking for fewer actions than a policy with handover, without it: the manager is not the recipient.
    const fewer = await accepted(
      await postHr(
        hrEvent({ email: nobody(), manager: { email: "mo@example.com" } }, { actions: ["revoke_shares"] }),
        ALL,
      ),
    );
    expect((await requestOf(fewer)).handoverTo).toBeUndefined();
    await waitForRun(runId);
    await waitForRun(fewer);
  });
});

/** A SCIM call with the configured bearer token and `vars` over the env. */
async function scim(vars: Record<string, string>, path: string, method = "GET", body?: unknown) {
  return callWith(vars, `/scim/v2${path}`, {
    method,
    headers: {
      "content-type": "application/scim+json",
      authorization: "Bearer scim-test-token-0123456789abcdef",
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function scimUser(extra: Record<string, unknown> = {}) {
  const userName = nobody("scim");
  const res = await scim({}, "/Users", "POST", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName,
    externalId: uniqueId("ext"),
    name: { formatted: `Person ${userName}` },
    emails: [{ value: userName, type: "work", primary: true }],
    active: true,
    ...extra,
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; userName: string; externalId: string; [k: string]: unknown };
}

/** Okta's deactivation: a PATCH without a path. */
const deactivate = (vars: Record<string, string>, id: string) =>
  scim(vars, `/Users/${id}`, "PATCH", {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "replace", value: { active: false } }],
  });

function runIdOf(res: Response): string {
  expect(res.status).toBe(200);
  const runId = res.headers.get("x-offboard-run-id");
  if (!runId) throw new Error("no run started");
  return runId;
}

describe("SCIM: the enterprise extension's manager, resolved through the directory", () => {
  it("a deprovisioned user's manager (Okta's complex manager) is the recipient: e-mail, externalId as HR id, name", async () => {
    const manager = await scimUser();
    const leaver = await scimUser({ [ENTERPRISE]: { department: "Sales", manager: { value: manager.id } } });
    const runId = runIdOf(await deactivate(ALL, leaver.id));
    const request = await requestOf(runId);
    expect(request.actions).toEqual(["revoke_shares", "handover", "block_login", "watch"]);
    expect(request.handoverTo).toEqual({
      person: { hrId: manager.externalId, email: manager.userName, name: `Person ${manager.userName}` },
      from: "scim_manager",
    });
    await waitForRun(runId);
  });

  it("Entra's PATCH of the manager (a plain id under the extension path) is kept by the directory and used", async () => {
    const manager = await scimUser();
    const leaver = await scimUser();
    const patched = await scim({}, `/Users/${leaver.id}`, "PATCH", {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "Add", path: `${ENTERPRISE}:manager`, value: manager.id }],
    });
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as Record<string, unknown>)[ENTERPRISE]).toEqual({ manager: manager.id });
    // A PUT that replaces the user keeps the extension as sent (the directory stores it whole).
    const {
      id: _id,
      meta: _meta,
      ...current
    } = (await (await scim({}, `/Users/${leaver.id}`)).json()) as Record<string, unknown>;
    const put = await scim({}, `/Users/${leaver.id}`, "PUT", { ...current, displayName: "Renamed" });
    expect(put.status).toBe(200);
    const stored = (await (await scim({}, `/Users/${leaver.id}`)).json()) as Record<string, unknown>;
    expect(stored[ENTERPRISE]).toEqual({ manager: manager.id });

    const res = await scim(WITH_HANDOVER, `/Users/${leaver.id}`, "PATCH", {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "Replace", path: "active", value: "False" }],
    });
    const request = await requestOf(runIdOf(res));
    expect(request.actions).toEqual(["revoke_shares", "handover"]);
    expect(request.handoverTo).toMatchObject({
      person: { hrId: manager.externalId, email: manager.userName },
      from: "scim_manager",
    });
    await waitForRun(request.runId);
  });

  it("a manager not in the directory, no longer active, or the user themselves: no recipient (KooDrive's then)", async () => {
    const gone = await scimUser({ [ENTERPRISE]: { manager: { value: crypto.randomUUID() } } });
    const left = await scimUser();
    await waitForRun(runIdOf(await deactivate({}, left.id)));
    const withLeft = await scimUser({ [ENTERPRISE]: { manager: { value: left.id } } });
    const self = await scimUser();
    await scim({}, `/Users/${self.id}`, "PATCH", {
      Operations: [{ op: "add", path: `${ENTERPRISE}:manager.value`, value: self.id }],
    });
    for (const user of [gone, withLeft, self]) {
      const request = await requestOf(runIdOf(await deactivate(ALL, user.id)));
      expect(request.actions, user.userName).toEqual(["revoke_shares", "handover", "block_login", "watch"]);
      expect(request.handoverTo, user.userName).toBeUndefined();
      await waitForRun(request.runId);
    }
  });

  it("under the default policy a SCIM run revokes shares only, and the manager is not looked up", async () => {
    const manager = await scimUser();
    const leaver = await scimUser({ [ENTERPRISE]: { manager: { value: manager.id } } });
    const res = await scim({}, `/Users/${leaver.id}`, "DELETE");
    expect(res.status).toBe(204);
    const runId = res.headers.get("x-offboard-run-id") ?? "";
    const request = await requestOf(runId);
    expect(request.actions).toEqual(["revoke_shares"]);
    expect(request.handoverTo).toBeUndefined();
    await waitForRun(runId);
  });
});

describe("Okta Event Hooks: no way to ask, the policy's actions", () => {
  it("a deactivation's run takes every action the policy allows", async () => {
    const login = nobody("okta");
    const uuid = uniqueId("okta-evt");
    const body = JSON.stringify({
      eventType: "com.okta.event_hook",
      eventId: uniqueId("okta-delivery"),
      data: {
        events: [
          {
            uuid,
            published: new Date().toISOString(),
            eventType: "user.lifecycle.deactivate",
            target: [{ id: `00u${uniqueId("x")}`, type: "User", alternateId: login }],
          },
        ],
      },
    });
    const res = await callWith(ALL, "/webhooks/okta", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "okta-test-secret-0123456789" },
      body,
    });
    expect(res.status).toBe(200);
    const { runs } = (await res.json()) as { runs: Array<{ runId: string }> };
    const runId = runs[0]?.runId ?? "";
    const request = await requestOf(runId);
    expect(request.actions).toEqual(["revoke_shares", "handover", "block_login", "watch"]);
    expect(request.handoverTo).toBeUndefined();
    await waitForRun(runId);
  });
});

/** `POST /offboardings` with the admin token and `vars` over the env. */
function offboard(vars: Record<string, string>, body: unknown, headers: Record<string, string> = {}) {
  return callWith(vars, "/offboardings", {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

describe("POST /offboardings: actions and handoverTo", () => {
  it("records the actions asked for and the recipient, typed like `person` (from: request)", async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ["Mo.Manager@Example.com", { email: "mo.manager@example.com" }],
      [DEMO.seller, { koodriveUserId: DEMO.seller }],
      ["E-MGR:42", { hrId: "E-MGR:42" }],
    ];
    for (const [handoverTo, person] of cases) {
      const runId = await accepted(
        await offboard(ALL, {
          person: nobody(),
          reason: "left",
          actions: ["handover", "revoke_shares"],
          handoverTo,
        }),
      );
      const request = await requestOf(runId);
      expect(request.actions).toEqual(["revoke_shares", "handover"]);
      expect(request.handoverTo).toEqual({ person, from: "request" });
      await waitForRun(runId);
    }
  });

  it("without actions the run takes the policy's; without handoverTo it names no recipient", async () => {
    const runId = await accepted(await offboard(ALL, { person: nobody(), reason: "left" }));
    const request = await requestOf(runId);
    expect(request.actions).toEqual(["revoke_shares", "handover", "block_login", "watch"]);
    expect(request.handoverTo).toBeUndefined();
    const legacy = await accepted(await offboard({}, { person: nobody(), reason: "left" }));
    expect((await requestOf(legacy)).actions).toEqual(["revoke_shares"]);
    await waitForRun(runId);
    await waitForRun(legacy);
  });

  it("refuses (422, nothing started) more than the policy, an unknown or empty list, a recipient without handover, the person as recipient", async () => {
    const person = nobody();
    const cases: Array<[Record<string, string>, Record<string, unknown>, string, RegExp]> = [
      [{}, { actions: ["revoke_shares", "block_login"] }, "actions", /not allowed.*block_login/],
      [ALL, { actions: ["revoke_shares", "shred"] }, "actions.1", /must be one of/],
      [ALL, { actions: [] }, "actions", /at least one action/],
      [WITH_HANDOVER, { actions: ["revoke_shares"], handoverTo: "mo@example.com" }, "handoverTo", /handover/],
      [{}, { handoverTo: "mo@example.com" }, "handoverTo", /do not include handover/],
      [ALL, { handoverTo: person.toUpperCase() }, "handoverTo", /never goes to the leaver/],
      [ALL, { handoverTo: "not a person" }, "handoverTo", /must be an e-mail/],
    ];
    for (const [vars, extra, path, message] of cases) {
      const res = await offboard(vars, { person, reason: "left", ...extra });
      const body = await expectEnvelope(res, 422, "invalid_body");
      expect(body.error.details?.[0]?.path, JSON.stringify(extra)).toBe(path);
      expect(body.error.details?.[0]?.message).toMatch(message);
    }
    expect(await runsOf(person)).toEqual([]);
  });

  it("an Idempotency-Key reused with other actions or another recipient is refused (422); the same body is the same run", async () => {
    const key = crypto.randomUUID();
    const body = {
      person: nobody(),
      reason: "left",
      actions: ["revoke_shares", "handover"],
      handoverTo: "mo@x.example",
    };
    const first = await offboard(ALL, body, { "idempotency-key": key });
    const runId = await accepted(first);
    const again = await offboard(ALL, body, { "idempotency-key": key });
    expect(await again.json()).toMatchObject({ runId, duplicate: true });
    for (const other of [
      { ...body, actions: ["revoke_shares"], handoverTo: undefined },
      { ...body, actions: ["revoke_shares", "handover", "block_login"] },
      { ...body, handoverTo: "someone.else@x.example" },
    ]) {
      const res = await offboard(ALL, other, { "idempotency-key": key });
      const err = await expectEnvelope(res, 422, "invalid_body");
      expect(err.error.message).toMatch(/was used for a different request/);
    }
    expect(await runsOf(body.person)).toEqual([runId]);
    expect((await requestOf(runId)).handoverTo).toEqual({
      person: { email: "mo@x.example" },
      from: "request",
    });
    await waitForRun(runId);
  });
});

describe("the console's Offboard someone: action checkboxes and the recipient", () => {
  const OLIVE = "olive.operator@acme.example";
  const ORIGIN = "https://offboard.example.com";

  async function operator(vars: Record<string, string>) {
    const team = await newTeam({ CONSOLE_OPERATORS: OLIVE });
    const jwt = await team.sign({ email: OLIVE });
    const get = async (path: string) =>
      (
        await callWith({ ...team.vars, ...vars }, path, { headers: { "cf-access-jwt-assertion": jwt } })
      ).text();
    const post = async (path: string, fields: Record<string, string | string[]>, over = vars) => {
      const body = new URLSearchParams();
      for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) body.append(k, one);
      return callWith({ ...team.vars, ...over }, path, {
        method: "POST",
        headers: {
          "cf-access-jwt-assertion": jwt,
          "content-type": "application/x-www-form-urlencoded",
          origin: ORIGIN,
        },
        body: body.toString(),
        redirect: "manual",
      });
    };
    return { get, post };
  }

  it("offers a checkbox per allowed action, all ticked, and the recipient field only when handover is allowed", async () => {
    const all = await (await operator(ALL)).get("/console/offboard");
    for (const a of ["revoke_shares", "handover", "block_login", "watch"])
      expect(all).toMatch(new RegExp(`<input type="checkbox" name="action" value="${a}" checked=""`));
    expect(all).toContain('name="handoverTo"');
    const legacy = await (await operator({})).get("/console/offboard");
    expect(legacy).toMatch(/name="action" value="revoke_shares" checked=""/);
    expect(legacy).not.toContain('value="handover"');
    expect(legacy).not.toContain('name="handoverTo"');
  });

  it("the dry run records the ticked actions and the recipient, and its confirmation keeps both", async () => {
    const olive = await operator(WITH_HANDOVER);
    const dry = await olive.post("/console/offboard", {
      person: DEMO.leaver,
      reason: "left the company",
      actions_shown: "1",
      action: ["revoke_shares", "handover"],
      handoverTo: "mo.manager@example.com",
    });
    expect(dry.status).toBe(303);
    const dryRunId = (dry.headers.get("location") ?? "").split("/").pop() ?? "";
    const dryRequest = await requestOf(dryRunId);
    expect(dryRequest).toMatchObject({ dryRun: true, actions: ["revoke_shares", "handover"] });
    expect(dryRequest.handoverTo).toEqual({ person: { email: "mo.manager@example.com" }, from: "request" });
    expect((await waitForRun(dryRunId)).status).toBe("dry_run");
    const plan = await olive.get(`/console/offboard/${dryRunId}`);
    expect(plan).toContain("Cancel their shares (and verify) → Hand their files over");
    expect(plan).toContain("mo.manager@example.com (named by whoever started it)");
    const n = /Cancel (\d+) shares?</.exec(plan)?.[1] ?? "";
    // A hold on the person: the real run is accepted as asked and does nothing to KooDrive here.
    const hold = await admin("/holds", {
      method: "PUT",
      headers: { "content-type": "application/json", "if-match": "*" },
      body: JSON.stringify({ holds: [{ type: "user", id: DEMO.leaver, reason: "test: accept only" }] }),
    });
    expect(hold.status).toBe(200);

    // The policy no longer allows the handover the plan showed: refused, the plan page says why.
    const narrowed = await olive.post(`/console/offboard/${dryRunId}/confirm`, { typed: n }, {});
    expect(narrowed.status).toBe(422);
    expect(await narrowed.text()).toContain("not allowed by this deployment&#39;s policy");
    expect((await runsOf(DEMO.leaver)).filter((id) => id !== dryRunId && id.startsWith("console-"))).toEqual(
      [],
    );

    const right = await olive.post(`/console/offboard/${dryRunId}/confirm`, { typed: n });
    expect(right.status).toBe(303);
    const runId = (right.headers.get("location") ?? "").split("/").pop() ?? "";
    expect(runId).not.toBe(dryRunId);
    const request = await requestOf(runId);
    expect(request).toMatchObject({ dryRun: false, actions: ["revoke_shares", "handover"] });
    expect(request.handoverTo).toEqual(dryRequest.handoverTo);
    await waitForRun(runId);
  });

  it("no action ticked, or one the policy does not allow: 422 on the form, nothing started", async () => {
    const olive = await operator(WITH_HANDOVER);
    const person = nobody();
    const none = await olive.post("/console/offboard", { person, reason: "r", actions_shown: "1" });
    expect(none.status).toBe(422);
    const html = await none.text();
    expect(html).toContain("Nothing was started");
    expect(html).toContain("at least one action");
    const more = await olive.post("/console/offboard", {
      person,
      reason: "r",
      actions_shown: "1",
      action: ["revoke_shares", "block_login"],
    });
    expect(more.status).toBe(422);
    expect(await more.text()).toContain("block_login");
    expect(await runsOf(person)).toEqual([]);
  });
});

/** A Slack `/koodrive` command from the operator configured in vitest.config.ts, with `vars` over the env. */
async function slack(vars: Record<string, string>, text: string): Promise<string> {
  const body = new URLSearchParams({
    team_id: "T1DC2JH3J",
    user_id: "U2CERLKJA",
    user_name: "roadrunner",
    command: "/koodrive",
    text,
    trigger_id: uniqueId("trigger"),
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  const res = await callWith(vars, "/chatops/slack", {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": String(ts),
      "x-slack-signature": await signSlack("8f742231b10e8888abcd99yyyzzz85a5", ts, body),
    },
    body,
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { text: string }).text;
}

/** A Teams @mention from the operator configured in vitest.config.ts, with `vars` over the env. */
async function teams(vars: Record<string, string>, text: string): Promise<string> {
  const body = JSON.stringify({
    type: "message",
    id: uniqueId("activity"),
    timestamp: new Date().toISOString(),
    text: `<at>KooDrive</at>&nbsp;${text}`,
    from: { id: "29:1abc", aadObjectId: "6f1c7a2e-0000-4000-8000-0000000000aa", name: "Olu Operator" },
  });
  const res = await callWith(vars, "/chatops/teams", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: await signTeams("dGVhbXMtdGVzdC1zZWN1cml0eS10b2tlbi0wMTIzNDU2Nzg5", body),
    },
    body,
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { text: string }).text;
}

const runIdIn = (text: string) => /`((?:slack|teams)-[0-9a-f]{32})`/.exec(text)?.[1] ?? "";

describe("chat offboard: --actions and --handover-to", () => {
  it("without --actions the run takes the policy's; with it, those asked for (Slack and Teams alike)", async () => {
    const plain = await slack(ALL, `offboard ${nobody()}`);
    expect(plain).toContain("Actions: revoke_shares, handover, block_login, watch.");
    expect((await requestOf(runIdIn(plain))).actions).toEqual([
      "revoke_shares",
      "handover",
      "block_login",
      "watch",
    ]);
    const fewer = await slack(ALL, `offboard ${nobody()} --actions block_login,revoke_shares dry-run`);
    expect(fewer).toMatch(/^Dry run started/);
    expect(await requestOf(runIdIn(fewer))).toMatchObject({
      dryRun: true,
      actions: ["revoke_shares", "block_login"],
    });
    const viaTeams = await teams(ALL, `offboard ${nobody()} --actions=revoke_shares`);
    expect((await requestOf(runIdIn(viaTeams))).actions).toEqual(["revoke_shares"]);
    for (const text of [plain, fewer, viaTeams]) await waitForRun(runIdIn(text));
  });

  it("--handover-to names the recipient (from: request)", async () => {
    const reply = await slack(WITH_HANDOVER, `offboard ${nobody()} --handover-to Mo@Example.com`);
    const request = await requestOf(runIdIn(reply));
    expect(request.actions).toEqual(["revoke_shares", "handover"]);
    expect(request.handoverTo).toEqual({ person: { email: "mo@example.com" }, from: "request" });
    await waitForRun(request.runId);
  });

  it("beyond the policy, unknown, without handover, the leaver as recipient, malformed: a clear reply, no run", async () => {
    const person = nobody();
    const cases: Array<[Record<string, string>, string, RegExp]> = [
      [
        {},
        "--actions revoke_shares,handover",
        /^Nothing was started: action\(s\) not allowed .*: handover\.$/,
      ],
      [ALL, "--actions revoke,handover", /^Nothing was started: unknown action\(s\): revoke/],
      [{}, "--handover-to mo@example.com", /^Nothing was started: --handover-to needs the handover action/],
      [
        ALL,
        `--handover-to ${person.toUpperCase()}`,
        /^Nothing was started: a handover never goes to the leaver/,
      ],
      [ALL, "--handover-to someone", /^Nothing was started: `someone` \(--handover-to\) is neither/],
      [ALL, "--actions", /^Usage: `\/koodrive offboard .*--actions a,b/],
      [ALL, "--actions a --actions b", /^Usage: /],
      [ALL, "--frobnicate", /^Usage: /],
    ];
    for (const [vars, flags, reply] of cases)
      expect(await slack(vars, `offboard ${person} ${flags}`)).toMatch(reply);
    expect(await teams({}, `offboard ${person} --actions handover`)).toMatch(/^Nothing was started/);
    expect(await runsOf(person)).toEqual([]);
  });
});
