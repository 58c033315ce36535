/**
 * Who an admin audit record names (issue 9): the verified identity and how it was verified, for every
 * admin write, whichever credential was used; X-Audit-Actor is ignored. And the local identity of
 * `npm start`, which exists only on a loopback host without Access.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { newTeam } from "./helpers/access";
import { auditOf, expectError } from "./helpers/admin";
import { createToken, revokeToken, tokenName } from "./helpers/tokens";
import { ADMIN_TOKEN, uniqueId } from "./helpers/worker";

/** Calls the Worker at `origin` (e.g. http://127.0.0.1:8787, as `npm start` serves it) with vars layered on. */
async function callAt(origin: string, vars: Record<string, string>, path: string, init: RequestInit = {}) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${origin}${path}`, init),
    { ...env, ...vars } as Parameters<typeof worker.fetch>[1],
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

const HOLD_ID = "1689759841444195995";
const KD = "1505084218764548895";

/**
 * Every kind of admin write, each with a fresh request id and a forged X-Audit-Actor; returns the request
 * ids. Leaves no hold, identity entry or token behind.
 */
async function everyWrite(send: (path: string, init: RequestInit) => Promise<Response>) {
  const ids: string[] = [];
  const go = async (method: string, path: string, body?: unknown, extra: Record<string, string> = {}) => {
    const requestId = uniqueId("w");
    ids.push(requestId);
    const res = await send(path, {
      method,
      headers: {
        "content-type": "application/json",
        "x-request-id": requestId,
        "x-audit-actor": "mallory",
        ...extra,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    expect(res.status, `${method} ${path}`).toBeLessThan(300);
    return res;
  };
  await go("POST", "/holds", { type: "share", id: HOLD_ID, reason: "audit actor test" });
  await go(
    "PUT",
    "/holds",
    { holds: [{ type: "share", id: HOLD_ID, reason: "audit actor test 2" }] },
    { "if-match": "*" },
  );
  await go("DELETE", `/holds/share/${HOLD_ID}`);
  const email = `${uniqueId("who")}@actor.example`;
  await go("PUT", "/identities", [{ email, koodriveUserId: KD }]);
  const created = (await (await go("POST", "/tokens", { name: tokenName("w"), role: "viewer" })).json()) as {
    id: string;
  };
  await go("DELETE", `/tokens/${created.id}`);
  return ids;
}

describe("every admin write names the verified actor; X-Audit-Actor is ignored", () => {
  it("with an API token: token:<name> (<id>), verified by api-token", async () => {
    const t = await createToken("admin");
    const ids = await everyWrite((path, init) => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${t.token}`);
      return callAt("https://offboard.example.com", {}, path, { ...init, headers });
    });
    for (const id of ids) {
      const records = await auditOf(id);
      expect(records.length, id).toBeGreaterThan(0);
      for (const r of records)
        expect(r).toMatchObject({ actor: `token:${t.name} (${t.id})`, verifiedBy: "api-token" });
    }
    await revokeToken(t.id);
  });

  it("with Cloudflare Access: the e-mail, verified by cloudflare-access", async () => {
    const team = await newTeam({ CONSOLE_ADMINS: "ada@acme.example" });
    const jwt = await team.sign({ email: "Ada@Acme.example" });
    const ids = await everyWrite((path, init) => {
      const headers = new Headers(init.headers);
      headers.set("cf-access-jwt-assertion", jwt);
      return callAt("https://offboard.example.com", team.vars, path, { ...init, headers });
    });
    for (const id of ids) {
      const records = await auditOf(id);
      expect(records.length, id).toBeGreaterThan(0);
      for (const r of records)
        expect(r).toMatchObject({ actor: "ada@acme.example", verifiedBy: "cloudflare-access" });
      expect(JSON.stringify(records)).not.toContain("mallory");
    }
  });
});

describe("the local identity of npm start (CONSOLE_LOCAL_IDENTITY)", () => {
  const LOCAL = { CONSOLE_LOCAL_IDENTITY: "Dev@Example.com" };

  it("is admin, recorded as local:<e-mail>, on a loopback host", async () => {
    for (const origin of ["http://127.0.0.1:8787", "http://localhost:8787", "http://[::1]:8787"]) {
      const requestId = uniqueId("loc");
      const res = await callAt(origin, LOCAL, "/holds", {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": requestId },
        body: JSON.stringify({ type: "share", id: HOLD_ID, reason: "local identity" }),
      });
      expect(res.status, origin).toBe(200);
      const [record] = await auditOf(requestId);
      expect(record).toMatchObject({
        type: "admin.holds",
        actor: "local:dev@example.com",
        verifiedBy: "local",
      });
      const del = await callAt(origin, LOCAL, `/holds/share/${HOLD_ID}`, { method: "DELETE" });
      expect(del.status).toBe(200);
    }
  });

  it("is ignored on any other host, even one that looks local", async () => {
    for (const origin of [
      "https://offboard.example.com",
      "http://127.0.0.1.nip.io",
      "http://10.0.0.1:8787",
      "http://localhost.example.com",
    ]) {
      await expectError(await callAt(origin, LOCAL, "/audit?limit=1"), 401, "unauthorized");
    }
  });

  it("is ignored when Access is configured, even on a loopback host", async () => {
    const team = await newTeam({ CONSOLE_ADMINS: "dev@example.com" });
    await expectError(
      await callAt("http://127.0.0.1:8787", { ...LOCAL, ...team.vars }, "/audit?limit=1"),
      401,
      "unauthorized",
    );
    // Half-configured Access is no reason to fall back to it either.
    const half = { ...LOCAL, ACCESS_TEAM_DOMAIN: team.teamDomain };
    await expectError(await callAt("http://127.0.0.1:8787", half, "/audit?limit=1"), 503, "misconfigured");
  });

  it("does not apply without the setting, and a bad bearer token on a loopback host is still 401", async () => {
    await expectError(await callAt("http://127.0.0.1:8787", {}, "/audit?limit=1"), 401, "unauthorized");
    const res = await callAt("http://127.0.0.1:8787", LOCAL, "/audit?limit=1", {
      headers: { authorization: "Bearer wrong-token-0000000" },
    });
    await expectError(res, 401, "unauthorized");
    const ok = await callAt("http://127.0.0.1:8787", LOCAL, "/audit?limit=1", {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(ok.status).toBe(200);
  });
});

describe("cross-site writes with a credential the browser attaches by itself", () => {
  const hold = JSON.stringify({ type: "share", id: HOLD_ID, reason: "csrf probe" });
  const holdIds = async () => {
    const res = await callAt("https://offboard.example.com", {}, "/holds", {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    return ((await res.json()) as { holds: Array<{ id: string }> }).holds.map((h) => h.id);
  };

  it("an Access identity's write from another site is refused and stores nothing; from this site it works", async () => {
    const team = await newTeam({ CONSOLE_ADMINS: "ada@acme.example" });
    const jwt = await team.sign({ email: "ada@acme.example" });
    const send = (headers: Record<string, string>) =>
      callAt("https://offboard.example.com", team.vars, "/holds", {
        method: "POST",
        headers: { "content-type": "text/plain", cookie: `CF_Authorization=${jwt}`, ...headers },
        body: hold,
      });
    await expectError(await send({ origin: "https://evil.example" }), 403, "forbidden");
    await expectError(await send({ "sec-fetch-site": "cross-site" }), 403, "forbidden");
    expect(await holdIds()).not.toContain(HOLD_ID);
    const same = await send({ origin: "https://offboard.example.com", "content-type": "application/json" });
    expect(same.status).toBe(200);
    expect(await holdIds()).toContain(HOLD_ID);
    await callAt("https://offboard.example.com", {}, `/holds/share/${HOLD_ID}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
  });

  it("the local identity is refused cross-site too; a bearer token is not ambient and is not", async () => {
    const local = { CONSOLE_LOCAL_IDENTITY: "dev@example.com" };
    const evil = await callAt("http://127.0.0.1:8787", local, "/holds", {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://evil.example" },
      body: hold,
    });
    await expectError(evil, 403, "forbidden");
    // A browser hiding the origin (`Origin: null`) from another site is refused too, with or without metadata.
    for (const headers of [{ origin: "null" }, { origin: "null", "sec-fetch-site": "cross-site" }]) {
      const hidden = await callAt("http://127.0.0.1:8787", local, "/holds", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: hold,
      });
      await expectError(hidden, 403, "forbidden");
    }
    expect(await holdIds()).not.toContain(HOLD_ID);
    const bearer = await callAt("https://offboard.example.com", {}, "/holds", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        origin: "https://tools.example",
        authorization: `Bearer ${ADMIN_TOKEN}`,
      },
      body: hold,
    });
    expect(bearer.status).toBe(200);
    await callAt("https://offboard.example.com", {}, `/holds/share/${HOLD_ID}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(await holdIds()).not.toContain(HOLD_ID);
  });

  it("the console's own form post (Origin: null under Referrer-Policy no-referrer, Sec-Fetch-Site same-origin) is accepted", async () => {
    // Chromium sends exactly these headers for a form on a page served with `Referrer-Policy: no-referrer`
    // (seen by the browser test, scripts/browser-test.mjs): refusing them broke every console write.
    const local = { CONSOLE_LOCAL_IDENTITY: "dev@example.com" };
    const res = await callAt("http://127.0.0.1:8787", local, "/holds", {
      method: "POST",
      headers: { "content-type": "application/json", origin: "null", "sec-fetch-site": "same-origin" },
      body: hold,
    });
    expect(res.status).toBe(200);
    expect(await holdIds()).toContain(HOLD_ID);
    await callAt("https://offboard.example.com", {}, `/holds/share/${HOLD_ID}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(await holdIds()).not.toContain(HOLD_ID);
  });
});
