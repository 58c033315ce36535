/**
 * Who is calling the admin API or the console, verified, and what they may do (issue 9).
 *
 * Every admin route is behind `requireRole(role)`. It establishes a `Principal` from exactly one credential,
 * checks the role, and puts the principal in `c.var.principal`; routes record `actorOf(c)` in the audit trail,
 * never anything the caller wrote about themselves (`X-Audit-Actor` is ignored since 0.3).
 *
 * Credentials, in the order they are tried (see `identify`):
 * - `Authorization: Bearer <ADMIN_TOKEN>`: break-glass, role admin, actor `break-glass`;
 * - later in this issue: Cloudflare Access JWT, scoped API tokens, the local identity of `npm start`.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AuditInput } from "../audit/schema";
import { recordRejection } from "../audit/security";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { type Principal, type Role, roleAllows } from "./roles";
import { verifyAdminToken } from "./verify";

export { type Principal, ROLES, type Role, roleAllows, type VerifiedBy } from "./roles";

/**
 * The principal of a request, or why there is none (for the log and the audit trail only; the caller gets
 * one 401). Throws ApiError for an answer that is not a 401 (e.g. 503 when a key set cannot be fetched).
 */
async function identify(c: Context<AppEnv>): Promise<Principal | string> {
  const verdict = await verifyAdminToken(
    new Uint8Array(0),
    c.req.raw.headers,
    c.var.config.ADMIN_TOKEN,
    Date.now(),
  );
  if (verdict.ok) return { actor: "break-glass", role: "admin", verifiedBy: "break-glass" };
  return verdict.reason;
}

const UNAUTHORIZED = "a verified identity is required: Cloudflare Access, an API token or the admin token";

/**
 * The admin API's guard: a verified principal whose role allows `need`, else 401 (no or bad credential,
 * recorded as a security record, rate-limited) or 403 (verified but not allowed, audited).
 */
export function requireRole(need: Role): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // A route may sit under two guards (`/runs/*` and `/runs/:id/retry`): the credential is checked once.
    const found = c.get("principal") ?? (await identify(c));
    if (typeof found === "string") {
      await recordRejection(c, "admin", found);
      throw new ApiError("unauthorized", UNAUTHORIZED);
    }
    if (!roleAllows(found.role, need)) {
      await c.var.audit.write({
        ...actorFields(found),
        type: "admin.denied",
        requestId: c.var.requestId,
        status: "forbidden",
        reason: `${found.role} may not ${c.req.method} ${c.req.path} (needs ${need})`,
      });
      throw new ApiError("forbidden", `your role (${found.role}) does not allow this; it needs ${need}`);
    }
    c.set("principal", found);
    await next();
  };
}

const READS = new Set(["GET", "HEAD"]);

/** `read` for GET/HEAD, `write` for every other method (holds, identities: viewers read, admins change). */
export function requireRoleFor(read: Role, write: Role): MiddlewareHandler<AppEnv> {
  const guards = { read: requireRole(read), write: requireRole(write) };
  return (c, next) => (READS.has(c.req.method) ? guards.read : guards.write)(c, next);
}

/** The audit fields naming a principal: who, and how that was verified. */
export function actorFields(p: Principal): Pick<AuditInput, "actor" | "verifiedBy"> {
  return { actor: p.actor, verifiedBy: p.verifiedBy };
}

/** The verified actor of the current admin request (set by requireRole). */
export function actorOf(c: Context<AppEnv>): Pick<AuditInput, "actor" | "verifiedBy"> {
  return actorFields(c.var.principal);
}
