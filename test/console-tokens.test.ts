/**
 * The console's API tokens page (issue 9 section 3, "API tokens (create: shown once; revoke)") through the
 * Worker's real entry: the secret is in the creating answer's body only (never the list, a URL or the
 * store, which holds its SHA-256), revoking needs a confirmation and then the token gets 401 on the API.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { auditOf } from "./helpers/admin";
import { tokenName, withToken } from "./helpers/tokens";
import { admin, uniqueId } from "./helpers/worker";

const ORIGIN = "https://offboard.example.com";

async function post(path: string, fields: Record<string, string>, origin = ORIGIN) {
  const requestId = uniqueId("ct");
  const res = await admin(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin, "x-request-id": requestId },
    body: new URLSearchParams(fields).toString(),
    redirect: "manual",
  });
  return { res, html: await res.text(), requestId };
}

const page = async (path: string) => (await admin(path)).text();

const storedRows = () =>
  runInDurableObject(env.TOKENS.getByName("tokens"), (_instance, state) =>
    state.storage.sql.exec("SELECT * FROM tokens").toArray(),
  );

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("console API tokens", () => {
  it("creates a token shown once in the answer, lists it without the secret, stores only its hash, audits it", async () => {
    const name = tokenName("console");
    const created = await post("/console/tokens", { name, role: "viewer", expires: "2099-12-31" });
    expect(created.res.status).toBe(201);
    expect(created.res.headers.get("location")).toBeNull();
    expect(created.res.headers.get("cache-control")).toBe("no-store");
    const found = /value="(kdo_[A-Za-z0-9_-]{43})"/.exec(created.html)?.[1] ?? "";
    expect(found).toMatch(/^kdo_/);
    expect(created.html).toContain("Copy it now");

    const list = await page("/console/tokens");
    expect(list).toContain(name);
    expect(list).not.toContain(found.slice(4));
    const hash = await sha256Hex(found);
    expect(list).not.toContain(hash);
    const rows = await storedRows();
    const row = rows.find((r) => r.name === name);
    expect(row).toMatchObject({ hash, role: "viewer", created_by: "break-glass" });
    expect(row?.expires_at).toBe(Date.parse("2099-12-31T23:59:59.999Z"));
    expect(JSON.stringify(rows)).not.toContain(found.slice(4));

    const [record] = await auditOf(created.requestId);
    expect(record).toMatchObject({
      type: "admin.tokens",
      actor: "break-glass",
      reason: expect.stringContaining(name),
    });
    expect(JSON.stringify(record)).not.toContain(found.slice(4));

    // The token works on the API with its role.
    expect((await withToken(found, "/runs?limit=1")).status).toBe(200);
    expect((await withToken(found, "/tokens")).status).toBe(403);
  });

  it("revokes only after the confirmation page; the token then gets 401 at once", async () => {
    const name = tokenName("revoke");
    const created = await post("/console/tokens", { name, role: "operator" });
    const token = /value="(kdo_[A-Za-z0-9_-]{43})"/.exec(created.html)?.[1] ?? "";
    const id = String((await storedRows()).find((r) => r.name === name)?.id);
    expect((await withToken(token, "/runs?limit=1")).status).toBe(200);

    const list = await page("/console/tokens");
    expect(list).toContain(`href="/console/tokens/${id}/revoke"`);
    const confirm = await page(`/console/tokens/${id}/revoke`);
    expect(confirm).toContain(`action="/console/tokens/${id}/revoke"`);
    expect(confirm).toContain('name="confirmed" value="yes"');

    const unconfirmed = await post(`/console/tokens/${id}/revoke`, {});
    expect(unconfirmed.res.status).toBe(303);
    expect(unconfirmed.res.headers.get("location")).toBe(`/console/tokens/${id}/revoke`);
    expect((await withToken(token, "/runs?limit=1")).status).toBe(200);

    const forged = await post(`/console/tokens/${id}/revoke`, { confirmed: "yes" }, "https://evil.example");
    expect(forged.res.status).toBe(403);
    expect((await withToken(token, "/runs?limit=1")).status).toBe(200);

    const revoked = await post(`/console/tokens/${id}/revoke`, { confirmed: "yes" });
    expect(revoked.res.status).toBe(303);
    expect(revoked.res.headers.get("location")).toBe("/console/tokens?notice=revoked");
    expect((await withToken(token, "/runs?limit=1")).status).toBe(401);
    expect((await storedRows()).some((r) => r.id === id)).toBe(false);
    const [record] = await auditOf(revoked.requestId);
    expect(record).toMatchObject({ type: "admin.tokens", actor: "break-glass", details: { tokenId: id } });
    expect((await admin(`/console/tokens/${id}/revoke`)).status).toBe(404);
  });

  it("shows the form's errors and creates nothing for a bad name, a past expiry, a taken name or a forged post", async () => {
    const before = (await storedRows()).length;
    const bad = await post("/console/tokens", { name: "no spaces allowed", role: "viewer" });
    expect(bad.res.status).toBe(422);
    expect(bad.html).toContain("was not created");
    const past = await post("/console/tokens", {
      name: tokenName("p"),
      role: "viewer",
      expires: "2001-01-01",
    });
    expect(past.res.status).toBe(422);
    expect(past.html).toContain("expires");
    const role = await post("/console/tokens", { name: tokenName("r"), role: "root" });
    expect(role.res.status).toBe(422);
    const forged = await post(
      "/console/tokens",
      { name: tokenName("f"), role: "admin" },
      "https://evil.example",
    );
    expect(forged.res.status).toBe(403);
    expect((await storedRows()).length).toBe(before);

    const name = tokenName("dup");
    expect((await post("/console/tokens", { name, role: "viewer" })).res.status).toBe(201);
    const dup = await post("/console/tokens", { name, role: "viewer" });
    expect(dup.res.status).toBe(409);
    expect(dup.html).not.toMatch(/value="kdo_/);
    expect((await storedRows()).filter((r) => r.name === name)).toHaveLength(1);
  });
});
