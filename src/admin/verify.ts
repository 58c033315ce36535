/** The admin API's credential: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. Pure. */
import type { Verdict } from "../auth";
import { secretEquals } from "../http";

export async function verifyAdminToken(
  _rawBody: Uint8Array,
  headers: Headers,
  adminToken: string,
  _now: number,
): Promise<Verdict> {
  const header = headers.get("authorization") ?? "";
  const token = header.startsWith("Bearer ") ? header.slice(7) : "";
  if (!token) return { ok: false, reason: "missing admin token" };
  return (await secretEquals(token, adminToken))
    ? { ok: true }
    : { ok: false, reason: "invalid admin token" };
}
