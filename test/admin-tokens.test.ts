/**
 * Scoped API tokens (issue 9): shown once, stored only as a SHA-256 hash, listed without the secret, revoked
 * at once (a Durable Object, strongly consistent), expired -> 401, last use recorded, every write audited.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LAST_USED_GRANULARITY_MS, MAX_LIVE_TOKENS } from "../src/admin/tokens/store";
import { adminCall, auditOf, expectError } from "./helpers/admin";
import { at } from "./helpers/env";
import { createToken, revokeToken, tokenName, withToken } from "./helpers/tokens";
import { admin } from "./helpers/worker";

const sha256Hex = async (text: string) =>
  Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))))
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");

interface Listed {
  id: string;
  name: string;
  role: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
}

async function listTokens(): Promise<Listed[]> {
  const res = await admin("/tokens");
  expect(res.status).toBe(200);
  return ((await res.json()) as { tokens: Listed[] }).tokens;
}

/** Every row of the token store, as stored. */
const storedRows = () =>
  runInDurableObject(env.TOKENS.getByName("tokens"), (_instance, state) =>
    state.storage.sql.exec("SELECT * FROM tokens").toArray(),
  );

describe("POST /tokens", () => {
  it("shows the token once (kdo_ + 32 random bytes), stores only its SHA-256, lists it without the secret", async () => {
    const name = tokenName("ci");
    const { res, requestId } = await adminCall("/tokens", {
      method: "POST",
      body: { name, role: "operator" },
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as Record<string, string | null>;
    expect(created).toMatchObject({
      name,
      role: "operator",
      createdBy: "break-glass",
      expiresAt: null,
      lastUsedAt: null,
    });
    const token = String(created.token);
    expect(token).toMatch(/^kdo_[A-Za-z0-9_-]{43}$/);
    const bytes = atob(token.slice(4).replaceAll("-", "+").replaceAll("_", "/").padEnd(44, "="));
    expect(bytes).toHaveLength(32);

    const hash = await sha256Hex(token);
    const rows = await storedRows();
    const row = rows.find((r) => r.id === created.id);
    expect(row?.hash).toBe(hash);
    expect(JSON.stringify(rows)).not.toContain(token.slice(4));

    const listing = JSON.stringify(await listTokens());
    expect(listing).toContain(String(created.id));
    expect(listing).not.toContain(token.slice(4));
    expect(listing).not.toContain(hash);

    const [record] = await auditOf(requestId);
    expect(record).toMatchObject({
      type: "admin.tokens",
      actor: "break-glass",
      verifiedBy: "break-glass",
      details: { tokenId: created.id, name, role: "operator" },
    });
    expect(JSON.stringify(record)).not.toContain(token.slice(4));
    expect(JSON.stringify(record)).not.toContain(hash);
    await revokeToken(String(created.id));
  });

  it("two tokens never share a secret", async () => {
    const [a, b] = [await createToken("viewer"), await createToken("viewer")];
    expect(a.token).not.toBe(b.token);
    await revokeToken(a.id);
    await revokeToken(b.id);
  });

  it("refuses a bad name, an unknown role, an expiry in the past, and a name a live token has", async () => {
    const bad = [
      { name: "", role: "viewer" },
      { name: "has space", role: "viewer" },
      { name: "x".repeat(65), role: "viewer" },
      { name: "=cmd()", role: "viewer" },
      { name: tokenName(), role: "superuser" },
      { name: tokenName(), role: "viewer", expiresAt: "2020-01-01T00:00:00Z" },
      { name: tokenName(), role: "viewer", expiresAt: "tomorrow" },
    ];
    const before = (await listTokens()).length;
    for (const body of bad)
      await expectError((await adminCall("/tokens", { method: "POST", body })).res, 422, "invalid_body");
    const first = await createToken("viewer");
    const again = await adminCall("/tokens", { method: "POST", body: { name: first.name, role: "admin" } });
    await expectError(again.res, 409, "conflict");
    expect((await listTokens()).length).toBe(before + 1);
    await revokeToken(first.id);
  });

  it(`caps the live tokens at ${MAX_LIVE_TOKENS}`, async () => {
    for (const t of await listTokens()) await revokeToken(t.id);
    const ids: string[] = [];
    for (let i = 0; i < MAX_LIVE_TOKENS; i++) ids.push((await createToken("viewer")).id);
    const { res, requestId } = await adminCall("/tokens", {
      method: "POST",
      body: { name: tokenName(), role: "viewer" },
    });
    const error = await expectError(res, 409, "conflict");
    expect(error.message).toContain(String(MAX_LIVE_TOKENS));
    expect(await auditOf(requestId)).toEqual([]);
    for (const id of ids) await revokeToken(id);
  });
});

describe("using a token", () => {
  it("acts with the token's role and identity, and records when it was last used", async () => {
    const t = await createToken("viewer");
    expect((await listTokens()).find((l) => l.id === t.id)?.lastUsedAt).toBeNull();
    expect((await withToken(t.token, "/holds")).status).toBe(200);
    const used = (await listTokens()).find((l) => l.id === t.id)?.lastUsedAt;
    expect(Date.parse(String(used))).toBeGreaterThan(Date.now() - 60_000);

    // A viewer token cannot write; the refusal names the token.
    const requestId = `deny-${t.id}`;
    const res = await withToken(t.token, "/holds", {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify({ type: "share", id: "1689759841444195994", reason: "x" }),
    });
    await expectError(res, 403, "forbidden");
    const [record] = await auditOf(requestId);
    expect(record).toMatchObject({
      type: "admin.denied",
      actor: `token:${t.name} (${t.id})`,
      verifiedBy: "api-token",
    });
    await revokeToken(t.id);
  });

  it("updates lastUsedAt again once a minute has passed", async () => {
    const t = await createToken("viewer");
    const start = Date.now();
    await withToken(t.token, "/holds");
    const first = (await listTokens()).find((l) => l.id === t.id)?.lastUsedAt;
    await at(start + LAST_USED_GRANULARITY_MS + 5_000, async () => {
      expect((await withToken(t.token, "/holds")).status).toBe(200);
    });
    const second = (await listTokens()).find((l) => l.id === t.id)?.lastUsedAt;
    expect(Date.parse(String(second)) - Date.parse(String(first))).toBeGreaterThanOrEqual(
      LAST_USED_GRANULARITY_MS,
    );
    await revokeToken(t.id);
  });

  it("a revoked token is refused on the very next call; revoking again is 404", async () => {
    const t = await createToken("admin");
    expect((await withToken(t.token, "/tokens")).status).toBe(200);
    const { res, requestId } = await adminCall(`/tokens/${t.id}`, { method: "DELETE" });
    expect(res.status).toBe(200);
    await expectError(await withToken(t.token, "/tokens"), 401, "unauthorized");
    await expectError(await withToken(t.token, "/holds"), 401, "unauthorized");
    const [record] = await auditOf(requestId);
    expect(record).toMatchObject({
      type: "admin.tokens",
      status: "revoked",
      actor: "break-glass",
      details: { tokenId: t.id },
    });
    await expectError((await adminCall(`/tokens/${t.id}`, { method: "DELETE" })).res, 404, "not_found");
    await expectError((await adminCall("/tokens/not-an-id", { method: "DELETE" })).res, 404, "not_found");
    expect((await storedRows()).some((r) => r.id === t.id)).toBe(false);
  });

  it("an expired token is refused", async () => {
    const expiresAt = new Date(Date.now() + 60 * 60_000).toISOString();
    const t = await createToken("viewer", tokenName(), expiresAt);
    expect(t.expiresAt).toBe(expiresAt);
    expect((await withToken(t.token, "/holds")).status).toBe(200);
    await at(Date.parse(expiresAt) + 1_000, async () => {
      await expectError(await withToken(t.token, "/holds"), 401, "unauthorized");
    });
    await revokeToken(t.id);
  });

  it("an unknown or malformed kdo_ token is 401 and never falls back to another credential", async () => {
    const unknown = `kdo_${"A".repeat(43)}`;
    await expectError(await withToken(unknown, "/holds"), 401, "unauthorized");
    await expectError(await withToken("kdo_short", "/holds"), 401, "unauthorized");
  });

  it("a token may create and revoke tokens only with the admin role, and is named as their creator", async () => {
    const boss = await createToken("admin");
    const res = await withToken(boss.token, "/tokens", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: tokenName("child"), role: "viewer" }),
    });
    expect(res.status).toBe(201);
    const child = (await res.json()) as { id: string; createdBy: string; token: string };
    expect(child.createdBy).toBe(`token:${boss.name} (${boss.id})`);
    await expectError(await withToken(child.token, "/tokens"), 403, "forbidden");
    await revokeToken(child.id);
    await revokeToken(boss.id);
  });
});
