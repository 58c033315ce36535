/** API tokens for tests: created through the admin API (break-glass), used as `Bearer kdo_...`. */
import { expect } from "vitest";
import { admin, call } from "./worker";

export interface CreatedToken {
  id: string;
  name: string;
  role: string;
  expiresAt: string | null;
  createdBy: string;
  createdAt: string;
  lastUsedAt: string | null;
  token: string;
}

let n = 0;
/** A unique token name (names are unique among live tokens). */
export const tokenName = (prefix = "t") => `${prefix}-${Date.now().toString(36)}-${n++}`;

/** Creates a token with break-glass; fails the test unless 201. */
export async function createToken(
  role: "viewer" | "operator" | "admin",
  name = tokenName(),
  expiresAt?: string,
): Promise<CreatedToken> {
  const res = await admin("/tokens", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, role, ...(expiresAt ? { expiresAt } : {}) }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as CreatedToken;
}

/** A call with `Authorization: Bearer <token>`. */
export function withToken(token: string, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  return call(path, { ...init, headers });
}

/** Revokes a token with break-glass (clean-up; 404 when already gone is fine). */
export async function revokeToken(id: string): Promise<void> {
  const res = await admin(`/tokens/${id}`, { method: "DELETE" });
  expect([200, 404]).toContain(res.status);
}
