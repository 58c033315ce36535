import { runDurableObjectAlarm } from "cloudflare:test";
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

/** Dana, the demo leaver, as an IdP provisions her: resolved by her unique name in KooDrive. */
async function createDana(extra: Record<string, unknown> = {}) {
  const userName = `${uniqueId("dana")}@example.com`;
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
    expect(run).toMatchObject({ status: "completed", koodriveUserId: DEMO.leaver, resolvedBy: "name_match" });
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
