import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { runIdFor } from "../src/offboarding/start";
import { DEMO, sim } from "./helpers/sim";
import { admin, call, clearHolds, uniqueId, waitForRun } from "./helpers/worker";

/** The two tokens configured in vitest.config.ts (SCIM_BEARER_TOKENS). */
const TOKEN = "scim-test-token-0123456789abcdef";
const ROTATED = "scim-rotated-token-fedcba9876543210";
const RUN_HEADER = "x-offboard-run-id";

function scim(path: string, init: { method?: string; body?: unknown; token?: string | null } = {}) {
  const headers = new Headers({ "content-type": "application/scim+json" });
  const token = init.token === undefined ? TOKEN : init.token;
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  return call(`/scim/v2${path}`, {
    method: init.method ?? "GET",
    headers,
    ...(init.body === undefined
      ? {}
      : { body: typeof init.body === "string" ? init.body : JSON.stringify(init.body) }),
  });
}

interface ScimErrorBody {
  schemas: string[];
  status: string;
  detail: string;
  scimType?: string;
  error: { code: string; requestId: string };
}

async function expectScimError(res: Response, status: number, scimType?: string): Promise<ScimErrorBody> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/scim+json");
  const body = (await res.json()) as ScimErrorBody;
  expect(body).toMatchObject({
    schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
    status: String(status),
    detail: expect.any(String),
    error: { code: expect.any(String), requestId: expect.any(String) },
  });
  if (scimType) expect(body.scimType).toBe(scimType);
  return body;
}

/**
 * Dana, the demo leaver, as an IdP provisions her; the identity map knows her e-mail (a name alone never
 * resolves anyone by default: RESOLVE_BY_NAME=off).
 */
async function createDana(extra: Record<string, unknown> = {}) {
  const userName = `${uniqueId("dana")}@example.com`;
  const mapped = await admin("/identities", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identities: [{ email: userName, koodriveUserId: DEMO.leaver }] }),
  });
  expect(mapped.status).toBe(200);
  const res = await scim("/Users", {
    method: "POST",
    body: {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName,
      externalId: uniqueId("ext"),
      name: { givenName: "Dana", familyName: "Leaver", formatted: "Dana Leaver" },
      emails: [{ value: userName, type: "work", primary: true }],
      active: true,
      ...extra,
    },
  });
  expect(res.status).toBe(201);
  const user = (await res.json()) as {
    id: string;
    userName: string;
    active: boolean;
    meta: { location: string };
  };
  expect(res.headers.get("location")).toBe(user.meta.location);
  return user;
}

const cancelCalls = async () => (await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel").length;

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("SCIM: what IdPs call before provisioning", () => {
  it("answers Entra's test connection (a filter for an unknown userName) with an empty ListResponse", async () => {
    const res = await scim(`/Users?filter=${encodeURIComponent(`userName eq "${crypto.randomUUID()}"`)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/scim+json");
    expect(await res.json()).toEqual({
      schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
      totalResults: 0,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    });
  });

  it("creates a user, finds it by userName (any case), and refuses a second one with that userName", async () => {
    const user = await createDana();
    const found = await scim(
      `/Users?filter=${encodeURIComponent(`USERNAME eq "${user.userName.toUpperCase()}"`)}`,
    );
    const list = (await found.json()) as { totalResults: number; Resources: Array<{ id: string }> };
    expect(list.totalResults).toBe(1);
    expect(list.Resources[0]?.id).toBe(user.id);
    expect(((await (await scim(`/Users/${user.id}`)).json()) as { active: boolean }).active).toBe(true);
    const again = await scim("/Users", { method: "POST", body: { userName: user.userName } });
    await expectScimError(again, 409, "uniqueness");
  });

  it("publishes its ServiceProviderConfig", async () => {
    const res = await scim("/ServiceProviderConfig");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ patch: { supported: true }, bulk: { supported: false } });
  });
});

describe("SCIM deprovisioning starts one run per deactivation", () => {
  it("Okta: PATCH without a path, active false, cancels every share; a repeat starts nothing new", async () => {
    const before = await sim.shares(DEMO.leaver, "active");
    const user = await createDana();
    expect(await cancelCalls()).toBe(0); // creating a user revokes nothing

    const patch = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", value: { active: false } }],
    };
    const res = await scim(`/Users/${user.id}`, { method: "PATCH", body: patch });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { active: boolean }).active).toBe(false);
    const runId = res.headers.get(RUN_HEADER) ?? "";
    expect(runId).toMatch(/^scim-[0-9a-f]{32}$/);

    const run = await waitForRun(runId);
    expect(run).toMatchObject({
      status: "completed",
      koodriveUserId: DEMO.leaver,
      resolvedBy: "identity_map",
    });
    expect(run.counts.cancelled).toBe(before.length);
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(0);
    const audit = (await (
      await admin(`/audit?user=${encodeURIComponent(user.userName)}&limit=50`)
    ).json()) as {
      records: Array<{ type: string; source?: string; reason?: string }>;
    };
    expect(audit.records.find((r) => r.type === "request.received")).toMatchObject({
      source: "scim",
      reason: "SCIM PATCH active=false",
    });

    const calls = await cancelCalls();
    const repeat = await scim(`/Users/${user.id}`, { method: "PATCH", body: patch });
    expect(repeat.status).toBe(200);
    expect(repeat.headers.get(RUN_HEADER)).toBe(runId);
    expect((await waitForRun(runId)).attempt).toBe(1);
    expect(await cancelCalls()).toBe(calls);
  });

  it('Entra ID: Replace with path active and "False", then DELETE (204): one run for both', async () => {
    const user = await createDana();
    const res = await scim(`/Users/${user.id}`, {
      method: "PATCH",
      body: { Operations: [{ op: "Replace", path: "active", value: "False" }] },
    });
    expect(res.status).toBe(200);
    const runId = res.headers.get(RUN_HEADER) ?? "";
    expect((await waitForRun(runId)).status).toBe("completed");

    const del = await scim(`/Users/${user.id}`, { method: "DELETE" });
    expect(del.status).toBe(204);
    expect(del.headers.get(RUN_HEADER)).toBe(runId);
    await expectScimError(await scim(`/Users/${user.id}`), 404);
    await expectScimError(await scim(`/Users/${user.id}`, { method: "DELETE" }), 404);
  });

  it("DELETE of an active user deprovisions it; PUT active false does too; reactivating and deactivating again is a new run", async () => {
    const dana = await createDana();
    const deleted = await scim(`/Users/${dana.id}`, { method: "DELETE" });
    expect(deleted.status).toBe(204);
    const first = deleted.headers.get(RUN_HEADER) ?? "";
    expect((await waitForRun(first)).status).toBe("completed");

    await sim.seed({ demo: true }); // Dana shares again
    const again = await createDana();
    const put = await scim(`/Users/${again.id}`, {
      method: "PUT",
      body: { userName: again.userName, name: { formatted: "Dana Leaver" }, active: false },
    });
    expect(put.status).toBe(200);
    const second = put.headers.get(RUN_HEADER) ?? "";
    expect(second).not.toBe(first);
    expect((await waitForRun(second)).status).toBe("completed");

    const back = await scim(`/Users/${again.id}`, {
      method: "PATCH",
      body: { Operations: [{ op: "replace", path: "active", value: true }] },
    });
    expect(back.status).toBe(200);
    expect(back.headers.get(RUN_HEADER)).toBeNull();
    const off = await scim(`/Users/${again.id}`, {
      method: "PATCH",
      body: { Operations: [{ op: "replace", value: { active: false } }] },
    });
    const third = off.headers.get(RUN_HEADER) ?? "";
    expect(third).not.toBe(second);
    expect((await waitForRun(third)).status).toBe("completed");
  });

  it("keeps attributes it does not interpret, as Entra addresses them", async () => {
    const user = await createDana();
    const res = await scim(`/Users/${user.id}`, {
      method: "PATCH",
      body: {
        Operations: [
          { op: "Add", path: 'emails[type eq "home"].value', value: "dana@home.example" },
          { op: "Replace", path: "title", value: "Account executive" },
          { op: "Replace", path: "name.givenName", value: "Danielle" },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get(RUN_HEADER)).toBeNull();
    const body = (await res.json()) as {
      title: string;
      name: { givenName: string; familyName: string };
      emails: unknown[];
    };
    expect(body.title).toBe("Account executive");
    expect(body.name).toMatchObject({ givenName: "Danielle", familyName: "Leaver" });
    expect(body.emails).toContainEqual({ type: "home", value: "dana@home.example" });
  });

  it("Entra: a PATCH that also sets enterprise-extension attributes still deprovisions", async () => {
    const user = await createDana();
    const ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const res = await scim(`/Users/${user.id}`, {
      method: "PATCH",
      body: {
        Operations: [
          { op: "Replace", path: `${ext}:department`, value: "Sales" },
          { op: "Add", path: `${ext}:manager`, value: "mgr-42" },
          { op: "Replace", path: "active", value: "False" },
        ],
      },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body[ext]).toEqual({ department: "Sales", manager: "mgr-42" });
    expect((await waitForRun(res.headers.get(RUN_HEADER) ?? "")).status).toBe("completed");
    // Okta's form: the extension as a key of a path-less value.
    const okta = await createDana();
    const res2 = await scim(`/Users/${okta.id}`, {
      method: "PATCH",
      body: { Operations: [{ op: "replace", value: { active: false, [ext]: { costCenter: "CC-1" } } }] },
    });
    expect(res2.status).toBe(200);
    expect(((await res2.json()) as Record<string, unknown>)[ext]).toEqual({ costCenter: "CC-1" });
    expect((await waitForRun(res2.headers.get(RUN_HEADER) ?? "")).status).toBe("completed");
  });

  it("never reactivates by accident: a PUT without active keeps it, removing active is refused, names are case-insensitive", async () => {
    const user = await createDana();
    const off = await scim(`/Users/${user.id}`, {
      method: "PUT",
      body: { UserName: user.userName, Active: false, name: { formatted: "Dana Leaver" } },
    });
    expect(off.status).toBe(200);
    const runId = off.headers.get(RUN_HEADER) ?? "";
    expect(runId).not.toBe("");
    await waitForRun(runId);
    const keep = await scim(`/Users/${user.id}`, {
      method: "PUT",
      body: { userName: user.userName, title: "x" },
    });
    expect(((await keep.json()) as { active: boolean }).active).toBe(false);
    await expectScimError(
      await scim(`/Users/${user.id}`, {
        method: "PATCH",
        body: { Operations: [{ op: "remove", path: "active" }] },
      }),
      400,
      "mutability",
    );
    const now = (await (await scim(`/Users/${user.id}`)).json()) as { active: boolean; Active?: unknown };
    expect(now.active).toBe(false);
    expect(now.Active).toBeUndefined();
  });

  it("add appends to a multi-valued attribute; a type filter matches in any case", async () => {
    const user = await createDana();
    const res = await scim(`/Users/${user.id}`, {
      method: "PATCH",
      body: {
        operations: [
          { op: "add", path: "emails", value: [{ value: "second@example.com", type: "home" }] },
          { op: "replace", path: 'emails[type eq "WORK"].display', value: "Work" },
        ],
      },
    });
    expect(res.status).toBe(200);
    const emails = ((await res.json()) as { emails: Array<Record<string, unknown>> }).emails;
    expect(emails).toHaveLength(2);
    expect(emails[0]).toMatchObject({ type: "work", display: "Work", primary: true });
    // The same add again (an IdP retrying) adds nothing; an odd `type` is no match, not an error.
    const again = await scim(`/Users/${user.id}`, {
      method: "PATCH",
      body: {
        Operations: [
          { op: "add", path: "emails", value: [{ value: "second@example.com", type: "home" }] },
          { op: "add", path: "addresses", value: [{ type: { odd: 1 }, street: "x" }] },
          { op: "replace", path: 'addresses[type eq "work"].street', value: "Main St 1" },
        ],
      },
    });
    expect(again.status).toBe(200);
    const after = (await again.json()) as { emails: unknown[]; addresses: unknown[] };
    expect(after.emails).toHaveLength(2);
    expect(after.addresses).toHaveLength(2);
  });

  it("a run the request did not start (the Worker died after the directory's write) is started by the directory's alarm", async () => {
    const before = await sim.shares(DEMO.leaver, "active");
    const user = await createDana();
    const stub = env.SCIM.getByName("directory");
    // The write happens; the request that made it never starts the run.
    await stub.patch(user.id, [{ op: "replace", value: { active: false } }]);
    const runId = await runIdFor("scim", `${user.id}:1`);
    expect((await admin(`/runs/${runId}`)).status).toBe(404);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    expect(run.counts.cancelled).toBe(before.length);
    // Confirmed: a later repeat of the request finds the same run, and the alarm has nothing left to do.
    const repeat = await scim(`/Users/${user.id}`, {
      method: "PATCH",
      body: { Operations: [{ op: "replace", value: { active: false } }] },
    });
    expect(repeat.headers.get(RUN_HEADER)).toBe(runId);
    // Nothing left to recover: the alarm is gone.
    expect(await runDurableObjectAlarm(stub)).toBe(false);
  });

  it("a DELETE cut short (the request died before the run started) is finished by the alarm: run started, then the user removed", async () => {
    const user = await createDana();
    const stub = env.SCIM.getByName("directory");
    await stub.prepareDelete(user.id);
    await expectScimError(await scim(`/Users/${user.id}`), 404); // being deleted: gone for every request
    expect(await stub.remove(user.id)).toBe(false); // not before its run is started
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await waitForRun(await runIdFor("scim", `${user.id}:1`))).status).toBe("completed");
    const left = (await stub.find({ attr: "id", value: user.id }, 1, 10)) as { total: number };
    expect(left.total).toBe(0);
  });

  it("the core schema's URN addresses core attributes: deactivating through it deprovisions", async () => {
    const core = "urn:ietf:params:scim:schemas:core:2.0:User";
    const a = await createDana();
    const viaPath = await scim(`/Users/${a.id}`, {
      method: "PATCH",
      body: { Operations: [{ op: "replace", path: `${core}:active`, value: false }] },
    });
    expect(((await viaPath.json()) as { active: boolean }).active).toBe(false);
    expect(viaPath.headers.get(RUN_HEADER)).toMatch(/^scim-/);
    await waitForRun(viaPath.headers.get(RUN_HEADER) ?? "");
    const b = await createDana();
    const viaValue = await scim(`/Users/${b.id}`, {
      method: "PATCH",
      body: { Operations: [{ op: "replace", value: { [core]: { active: false } } }] },
    });
    expect(((await viaValue.json()) as { active: boolean }).active).toBe(false);
    await waitForRun(viaValue.headers.get(RUN_HEADER) ?? "");
  });

  it("a user created inactive starts no run", async () => {
    const user = await createDana({ active: false });
    expect(user.active).toBe(false);
    expect(await cancelCalls()).toBe(0);
  });
});

describe("SCIM: bad requests get a SCIM error (with our envelope) and change nothing", () => {
  it("401 without the token or with a wrong one, with a security record; the rotated token works", async () => {
    await expectScimError(await scim("/Users", { token: null }), 401);
    await expectScimError(await scim("/Users", { token: `${TOKEN}x` }), 401);
    const audit = (await (await admin("/audit?limit=5")).json()) as {
      records: Array<{ type: string; source?: string }>;
    };
    expect(audit.records.some((r) => r.type === "request.rejected" && r.source === "scim")).toBe(true);
    expect(JSON.stringify(audit)).not.toContain(TOKEN);
    expect((await scim("/Users", { token: ROTATED })).status).toBe(200);
  });

  it("a wrong token cannot deactivate anyone", async () => {
    const user = await createDana();
    const res = await scim(`/Users/${user.id}`, {
      method: "PATCH",
      token: "scim-forged-token-0000000000000000",
      body: { Operations: [{ op: "replace", value: { active: false } }] },
    });
    await expectScimError(res, 401);
    expect(((await (await scim(`/Users/${user.id}`)).json()) as { active: boolean }).active).toBe(true);
    expect(await cancelCalls()).toBe(0);
  });

  it("400 with a scimType for an unsupported filter, op, path or value; the user is unchanged", async () => {
    await expectScimError(
      await scim(`/Users?filter=${encodeURIComponent('displayName co "Dana"')}`),
      400,
      "invalidFilter",
    );
    const user = await createDana();
    const patch = (op: unknown) => scim(`/Users/${user.id}`, { method: "PATCH", body: { Operations: [op] } });
    await expectScimError(await patch({ op: "move", path: "active", value: false }), 400, "invalidSyntax");
    await expectScimError(
      await patch({ op: "replace", path: 'emails[value sw "x"]', value: 1 }),
      400,
      "invalidPath",
    );
    await expectScimError(
      await patch({ op: "replace", path: "active", value: "maybe" }),
      400,
      "invalidValue",
    );
    await expectScimError(await patch({ op: "replace", path: "id", value: "mine" }), 400, "mutability");
    await expectScimError(
      await scim(`/Users/${user.id}`, { method: "PATCH", body: { Operations: [] } }),
      400,
      "invalidSyntax",
    );
    await expectScimError(
      await scim(`/Users/${user.id}`, { method: "PATCH", body: "{oops" }),
      400,
      "invalidSyntax",
    );
    await expectScimError(
      await scim("/Users", { method: "POST", body: { active: true } }),
      400,
      "invalidValue",
    );
    const now = (await (await scim(`/Users/${user.id}`)).json()) as {
      active: boolean;
      meta: { version: string };
    };
    expect(now).toMatchObject({ active: true, meta: { version: 'W/"1"' } });
    expect(await cancelCalls()).toBe(0);
  });

  it("400 for JSON nested too deeply (no 5xx from any body)", async () => {
    const deep = `{"userName":"deep@example.com","x":${"[".repeat(5000)}${"]".repeat(5000)}}`;
    await expectScimError(await scim("/Users", { method: "POST", body: deep }), 400, "invalidSyntax");
    const user = await createDana();
    const patch = `{"Operations":[{"op":"replace","path":"title","value":${"[".repeat(5000)}${"]".repeat(5000)}}]}`;
    await expectScimError(
      await scim(`/Users/${user.id}`, { method: "PATCH", body: patch }),
      400,
      "invalidSyntax",
    );
  });

  it("404 for an unknown user or route; 413 over 64 KiB", async () => {
    await expectScimError(await scim("/Users/no-such-user"), 404);
    await expectScimError(
      await scim("/Users/no-such-user", {
        method: "PATCH",
        body: { Operations: [{ op: "replace", value: { active: false } }] },
      }),
      404,
    );
    await expectScimError(await scim("/Groups"), 404);
    await expectScimError(
      await scim("/Users", {
        method: "POST",
        body: { userName: "big@example.com", pad: "x".repeat(65 * 1024) },
      }),
      413,
    );
  });

  it("a bad SCIM token setting disables SCIM only (503 misconfigured there, no details), not the other sources", async () => {
    const { buildApp } = await import("../src/app");
    const broken = { ...env, SCIM_BEARER_TOKENS: "short" };
    const res = await buildApp().fetch(
      new Request("https://offboard.example.com/scim/v2/Users", {
        headers: { authorization: "Bearer short" },
      }),
      broken,
    );
    const body = await expectScimError(res, 503);
    expect(body.error.code).toBe("misconfigured");
    // The caller is not told which setting is wrong (the log is).
    expect(JSON.stringify(body)).not.toContain("SCIM_BEARER_TOKENS");
    const health = await buildApp().fetch(
      new Request("https://offboard.example.com/audit?limit=1", {
        headers: { authorization: "Bearer test-admin-token" },
      }),
      broken,
    );
    expect(health.status).toBe(200);
  });

  it("is off (404) when no SCIM token is configured", async () => {
    const { buildApp } = await import("../src/app");
    const { env } = await import("cloudflare:workers");
    const res = await buildApp().fetch(
      new Request("https://offboard.example.com/scim/v2/Users", {
        headers: { authorization: `Bearer ${TOKEN}` },
      }),
      { ...env, SCIM_BEARER_TOKENS: "" },
    );
    await expectScimError(res, 404);
  });
});

/** Every audit value in KV (all three indexes), as stored. */
async function auditValues(): Promise<string[]> {
  const values: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.AUDIT.list({ prefix: "audit", ...(cursor ? { cursor } : {}) });
    for (const k of page.keys) values.push((await env.AUDIT.get(k.name)) ?? "");
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return values;
}

interface ScimAuditRecord {
  type: string;
  actor: string;
  source?: string;
  at: string;
  requestId?: string;
  reason?: string;
  status?: string;
  subject?: { hrId?: string; email?: string; name?: string };
  details?: Record<string, string | number | boolean | null>;
}

/** The `scim.user` records of one SCIM user, oldest first (from the global index). */
async function scimRecords(id: string): Promise<ScimAuditRecord[]> {
  const records: ScimAuditRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.AUDIT.list({ prefix: "audit:", ...(cursor ? { cursor } : {}) });
    for (const k of page.keys) {
      const r = await env.AUDIT.get<ScimAuditRecord>(k.name, "json");
      if (r?.type === "scim.user" && r.details?.scimId === id) records.push(r);
    }
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return records.sort((a, b) => a.at.localeCompare(b.at));
}

/** The directory's stored rows, read inside the Durable Object (not through its API). */
async function storedRows(): Promise<string> {
  const stub = env.SCIM.getByName("directory");
  return runInDurableObject(stub, (_instance, state) =>
    JSON.stringify(state.storage.sql.exec("SELECT * FROM users").toArray()),
  );
}

describe("SCIM never keeps a password (RFC 7643 4.1.1: password is returned never)", () => {
  it("drops the password Okta syncs on create, PUT and PATCH: not in any answer, GET, list, stored row or audit record", async () => {
    const secrets = Array.from({ length: 7 }, (_, i) => `Pw${i}-${crypto.randomUUID()}`);
    const core = "urn:ietf:params:scim:schemas:core:2.0:User";
    const user = await createDana({ password: secrets[0] });
    expect(user).not.toHaveProperty("password");

    const put = await scim(`/Users/${user.id}`, {
      method: "PUT",
      body: { userName: user.userName, name: { formatted: "Dana Leaver" }, Password: secrets[1] },
    });
    expect(put.status).toBe(200);
    const patched = await scim(`/Users/${user.id}`, {
      method: "PATCH",
      body: {
        Operations: [
          { op: "replace", path: "password", value: secrets[2] },
          { op: "Replace", value: { PASSWORD: secrets[3], title: "Sales" } },
          { op: "add", path: `${core}:password`, value: secrets[4] },
          { op: "replace", value: { [core]: { passWord: secrets[5] } } },
          { op: "add", path: "urn:example:ext:1.0:User:password", value: secrets[6] },
        ],
      },
    });
    expect(patched.status).toBe(200);
    // A PATCH that only sets a password is accepted (Okta's password sync must not fail) and changes nothing.
    const only = await scim(`/Users/${user.id}`, {
      method: "PATCH",
      body: { Operations: [{ op: "replace", path: "Password", value: secrets[2] }] },
    });
    expect(only.status).toBe(200);

    const answers = [
      JSON.stringify(user),
      await put.text(),
      await patched.text(),
      await only.text(),
      await (await scim(`/Users/${user.id}`)).text(),
      await (await scim(`/Users?filter=${encodeURIComponent(`userName eq "${user.userName}"`)}`)).text(),
      await (await scim("/Users?count=200")).text(),
    ];
    const stored = await storedRows();
    const audit = (await auditValues()).join("\n");
    for (const secret of secrets) {
      for (const answer of answers) expect(answer).not.toContain(secret);
      expect(stored).not.toContain(secret);
      expect(audit).not.toContain(secret);
    }
    for (const answer of answers.slice(0, 6)) expect(answer.toLowerCase()).not.toContain('"password"');
    expect(stored.toLowerCase()).not.toContain("password");
    // What was sent besides the password is kept.
    expect(JSON.parse(answers[4] ?? "{}")).toMatchObject({ title: "Sales", userName: user.userName });
  });
});

describe("every SCIM state change leaves one audit record (source:scim, identifiers before/after, no values)", () => {
  it("create, rename (userName, externalId, e-mail), deactivate, PUT while inactive, reactivate, DELETE while inactive", async () => {
    const user = await createDana();
    const ext = (await (await scim(`/Users/${user.id}`)).json()) as { externalId: string };
    const renamed = `${uniqueId("dana.l")}@example.com`;
    const newExt = uniqueId("ext2");
    const rename = await scim(`/Users/${user.id}`, {
      method: "PATCH",
      body: {
        Operations: [
          { op: "replace", path: "userName", value: renamed },
          { op: "replace", path: "externalId", value: newExt },
          { op: "replace", path: 'emails[type eq "work"].value', value: renamed },
        ],
      },
    });
    expect(rename.status).toBe(200);
    const off = await scim(`/Users/${user.id}`, {
      method: "PATCH",
      body: { Operations: [{ op: "replace", value: { active: false } }] },
    });
    const firstRun = off.headers.get(RUN_HEADER) ?? "";
    await waitForRun(firstRun);
    // A repeat changes nothing: no record (its run is the same, recorded as a duplicate by the run).
    const repeat = await scim(`/Users/${user.id}`, {
      method: "PATCH",
      body: { Operations: [{ op: "replace", value: { active: false } }] },
    });
    expect(repeat.headers.get(RUN_HEADER)).toBe(firstRun);
    const put = await scim(`/Users/${user.id}`, {
      method: "PUT",
      body: { userName: renamed, externalId: newExt, title: "Former AE", name: { formatted: "Dana Leaver" } },
    });
    expect(put.status).toBe(200);
    const back = await scim(`/Users/${user.id}`, {
      method: "PATCH",
      body: { Operations: [{ op: "replace", path: "active", value: "True" }] },
    });
    expect(back.status).toBe(200);
    const offAgain = await scim(`/Users/${user.id}`, {
      method: "PUT",
      body: { userName: renamed, externalId: newExt, active: false },
    });
    await waitForRun(offAgain.headers.get(RUN_HEADER) ?? "");
    expect((await scim(`/Users/${user.id}`, { method: "DELETE" })).status).toBe(204);

    const records = await scimRecords(user.id);
    expect(records.map((r) => r.status)).toEqual([
      "created",
      "updated",
      "deactivated",
      "updated",
      "reactivated",
      "deactivated",
      "deleted",
    ]);
    for (const r of records) {
      expect(r).toMatchObject({ actor: "source:scim", source: "scim", requestId: expect.any(String) });
    }
    const [created, renamedRec, deactivated, putRec, reactivated, , deleted] = records;
    expect(created?.details).toMatchObject({
      "after.userName": user.userName,
      "after.externalId": ext.externalId,
      "after.active": true,
      "after.email": user.userName,
    });
    expect(renamedRec?.details).toMatchObject({
      "before.userName": user.userName,
      "after.userName": renamed,
      "before.externalId": ext.externalId,
      "after.externalId": newExt,
      "before.email": user.userName,
      "after.email": renamed,
      changed: "emails,externalId,userName",
    });
    expect(renamedRec?.subject).toMatchObject({ hrId: newExt, email: renamed });
    expect(deactivated?.details).toMatchObject({ "before.active": true, "after.active": false });
    expect(deactivated?.reason).toBe("SCIM PATCH");
    // The PUT left `emails` and part of `name` out, so removed them: names, never values. The e-mail the
    // person is matched on is the userName now, the same address: not a change.
    expect(putRec?.details).toMatchObject({ changed: "emails,name,title" });
    expect(Object.keys(putRec?.details ?? {}).filter((k) => k.includes("."))).toEqual([]);
    expect(JSON.stringify(putRec)).not.toContain("Former AE");
    expect(reactivated?.details).toMatchObject({ "before.active": false, "after.active": true });
    expect(deleted).toMatchObject({ reason: "SCIM DELETE" });
    expect(deleted?.details).toMatchObject({ "before.userName": renamed, "before.active": false });
  });

  it("a change whose request died before its record is written is recorded by the directory's alarm", async () => {
    const user = await createDana();
    const stub = env.SCIM.getByName("directory");
    // The write happens in the directory; the request that made it never writes its record.
    await stub.patch(user.id, [{ op: "replace", path: "title", value: "Manager" }]);
    expect((await scimRecords(user.id)).map((r) => r.status)).toEqual(["created"]);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const records = await scimRecords(user.id);
    expect(records.map((r) => r.status)).toEqual(["created", "updated"]);
    expect(records[1]?.details).toMatchObject({ changed: "title" });
    expect(await runDurableObjectAlarm(stub)).toBe(false);
  });
});

describe("userName is unique and found in any case, Unicode included (RFC 7643 4.1.1: caseExact false)", () => {
  it("refuses ÄNNE when änne exists (409 uniqueness), and a filter in the other case or form finds her", async () => {
    const lower = `änne.${uniqueId("ü")}@exämple.com`;
    const upper = lower.toUpperCase();
    const created = await scim("/Users", { method: "POST", body: { userName: upper } });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await expectScimError(
      await scim("/Users", { method: "POST", body: { userName: lower } }),
      409,
      "uniqueness",
    );
    for (const form of [lower, lower.normalize("NFD"), upper.normalize("NFD")]) {
      const found = await scim(`/Users?filter=${encodeURIComponent(`userName eq "${form}"`)}`);
      const list = (await found.json()) as { totalResults: number; Resources: Array<{ id: string }> };
      expect(list.totalResults).toBe(1);
      expect(list.Resources[0]?.id).toBe(id);
    }
    // Renaming another user into her name is refused too; she may change her own name's case.
    const other = await createDana();
    await expectScimError(
      await scim(`/Users/${other.id}`, {
        method: "PATCH",
        body: { Operations: [{ op: "replace", path: "userName", value: lower.normalize("NFD") }] },
      }),
      409,
      "uniqueness",
    );
    const own = await scim(`/Users/${id}`, {
      method: "PUT",
      body: { userName: lower },
    });
    expect(own.status).toBe(200);
    expect(((await own.json()) as { userName: string }).userName).toBe(lower);
  });

  it("keeps ß and SS apart (lower-case mapping as RFC 8265 does, not full case folding)", async () => {
    const tag = uniqueId("s");
    const a = await scim("/Users", { method: "POST", body: { userName: `straße.${tag}@example.com` } });
    const b = await scim("/Users", { method: "POST", body: { userName: `STRASSE.${tag}@example.com` } });
    expect([a.status, b.status]).toEqual([201, 201]);
  });

  it("migrates a directory written before: folds stored names, keeps old Unicode-case duplicates usable, scrubs stored passwords", async () => {
    const stub = env.SCIM.getByName(`migration-${crypto.randomUUID()}`);
    const now = new Date().toISOString();
    const old = (id: string, userName: string, extra: Record<string, unknown> = {}) =>
      [id, userName, JSON.stringify({ userName, active: true, ...extra }), now, now] as const;
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      // The directory as it was: userName unique for ASCII case only, no folded column.
      for (const t of sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray()) {
        if (!String(t.name).startsWith("_cf") && !String(t.name).startsWith("sqlite")) {
          sql.exec(`DROP TABLE ${String(t.name)}`);
        }
      }
      sql.exec(`CREATE TABLE users (
        id TEXT PRIMARY KEY, user_name TEXT NOT NULL UNIQUE COLLATE NOCASE, external_id TEXT,
        attributes TEXT NOT NULL, created TEXT NOT NULL, last_modified TEXT NOT NULL, version INTEGER NOT NULL,
        deactivations INTEGER NOT NULL DEFAULT 0, runs_started INTEGER NOT NULL DEFAULT 0,
        deleting INTEGER NOT NULL DEFAULT 0)`);
      for (const row of [
        old("u1", "ÄNNE@example.com", { password: "old-secret-1" }),
        old("u2", "änne@example.com", { name: { Password: "old-secret-2" } }),
        old("u3", "Bob@example.com"),
      ]) {
        sql.exec(
          "INSERT INTO users (id, user_name, attributes, created, last_modified, version) VALUES (?, ?, ?, ?, ?, 1)",
          ...row,
        );
      }
    });
    await evictDurableObject(stub);
    // The next call constructs the directory again, which migrates its table.
    const both = (await stub.find({ attr: "userName", value: "Änne@EXAMPLE.com" }, 1, 10)) as {
      total: number;
      users: Array<{ id: string }>;
    };
    expect(both.users.map((u) => u.id).sort()).toEqual(["u1", "u2"]);
    expect(
      ((await stub.find({ attr: "userName", value: "BOB@example.com" }, 1, 10)) as { total: number }).total,
    ).toBe(1);
    // The second of two old duplicates can still be changed (its own name never conflicts with itself).
    const changed = (await stub.patch("u2", [{ op: "replace", path: "title", value: "Buyer" }])) as {
      user?: { attributes: { title?: string } };
    };
    expect(changed.user?.attributes.title).toBe("Buyer");
    // A case change that v1's ASCII-only unique constraint still refuses is a 409, not a 500.
    const clash = (await stub.patch("u2", [
      { op: "replace", path: "userName", value: "Änne@example.com" },
    ])) as {
      error?: { scimType?: string };
    };
    expect(clash.error?.scimType).toBe("uniqueness");
    const taken = (await stub.create({ userName: "änne@example.com", active: true })) as {
      error?: { scimType?: string };
    };
    expect(taken.error?.scimType).toBe("uniqueness");
    const raw = await runInDurableObject(stub, (_instance, state) =>
      JSON.stringify(state.storage.sql.exec("SELECT * FROM users").toArray()),
    );
    expect(raw).not.toContain("old-secret");
    expect(raw.toLowerCase()).not.toContain("password");
    await runDurableObjectAlarm(stub); // writes the record of u2's change
  });
});
