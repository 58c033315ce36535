/**
 * Who is calling the admin API or the console, verified, and what they may do (issue 9).
 *
 * Every admin route is behind `requireRole(role)`. It establishes a `Principal` from exactly one credential,
 * checks the role, and puts the principal in `c.var.principal`; routes record `actorOf(c)` in the audit trail,
 * never anything the caller wrote about themselves (`X-Audit-Actor` is ignored since 0.3).
 *
 * Credentials, in the order they are tried (see `identify`); a credential that is present but invalid is
 * refused, never passed over for a weaker one:
 * 1. `Authorization: Bearer kdo_...`: a scoped API token (tokens/), its own role, actor `token:<name> (<id>)`;
 * 2. any other `Authorization` header: break-glass `ADMIN_TOKEN`, role admin, actor `break-glass`;
 * 3. the Cloudflare Access JWT (access.ts) when Access is configured, role from CONSOLE_ADMINS / _OPERATORS /
 *    _VIEWERS (none: 403, audited);
 * 4. the local identity of `npm start` (CONSOLE_LOCAL_IDENTITY), only on a loopback host without Access.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AuditInput } from "../audit/schema";
import { recordRejection } from "../audit/security";
import { type AppEnv, type Config, LOOPBACK_HOSTS } from "../env";
import { ApiError } from "../errors";
import { type Principal, type Role, roleAllows, type VerifiedBy } from "../roles";
import {
  type AccessIdentity,
  accessSettings,
  accessTokenOf,
  assertAccessUsable,
  verifyAccessToken,
} from "./access";
import { hasAdminToken } from "./auth";
import { tokenStore } from "./tokens/store";
import { TOKEN_PATTERN, TOKEN_PREFIX, tokenHash } from "./tokens/token";
import { verifyAdminToken } from "./verify";

export { type Principal, ROLES, type Role, roleAllows, type VerifiedBy } from "../roles";

/** A verified identity, which may have no role (then every admin route answers 403, audited). */
type Identity = Omit<Principal, "role"> & { role: Role | undefined };

/**
 * The role an Access identity has: the highest of the lists (CONSOLE_ADMINS, CONSOLE_OPERATORS,
 * CONSOLE_VIEWERS) that names it. A person matches their e-mail or `@<their exact domain>` (not
 * subdomains); a service token matches its client id (`common_name`). Lists are lower-cased in env.ts.
 */
export function roleOf(config: Config, who: AccessIdentity): Role | undefined {
  const matches = (list: string[]) =>
    who.kind === "person"
      ? list.includes(who.email) || list.includes(who.email.slice(who.email.lastIndexOf("@")))
      : list.includes(who.commonName);
  if (matches(config.CONSOLE_ADMINS)) return "admin";
  if (matches(config.CONSOLE_OPERATORS)) return "operator";
  if (matches(config.CONSOLE_VIEWERS)) return "viewer";
  return undefined;
}

/** Whether a URL's hostname is this machine (`npm start`); a deployed Worker is reached by its own hostname. */
const isLoopback = (url: string) => LOOPBACK_HOSTS.has(new URL(url).hostname);

/** An API token (`Bearer kdo_...`): the principal, or why not. */
async function identifyToken(c: Context<AppEnv>, token: string): Promise<Identity | string> {
  const found = await tokenStore(c.env).authenticate(await tokenHash(token));
  if ("refused" in found) return found.refused;
  return {
    actor: `token:${found.name} (${found.id})`,
    role: found.role,
    verifiedBy: "api-token",
    tokenId: found.id,
  };
}

/**
 * The principal of a request, or why there is none (for the log and the audit trail only; the caller gets
 * one 401). Throws ApiError for an answer that is not a 401 (503 when Access's keys cannot be fetched, or
 * when Access is set up wrongly).
 */
async function identify(c: Context<AppEnv>): Promise<Identity | string> {
  const config = c.var.config;
  const authorization = c.req.header("authorization");
  const access = accessSettings(config);
  if (access.state === "broken") {
    // Fail closed for every admin caller (issue 9: never "no audience check"): the deployment is wrong, not
    // the request. The break-glass admin alone is told which setting, as app.ts does for the rest of config.
    if (authorization !== undefined && (await hasAdminToken(c, config.ADMIN_TOKEN)))
      throw new ApiError("misconfigured", `invalid configuration: ${access.problem}`);
    assertAccessUsable(access);
  }
  if (authorization !== undefined) {
    if (authorization.startsWith(`Bearer ${TOKEN_PREFIX}`)) {
      const token = authorization.slice(7).trim();
      // Malformed guesses never reach the one TokenStore instance.
      return TOKEN_PATTERN.test(token) ? identifyToken(c, token) : "malformed API token";
    }
    const verdict = await verifyAdminToken(
      new Uint8Array(0),
      c.req.raw.headers,
      config.ADMIN_TOKEN,
      Date.now(),
    );
    if (verdict.ok) return { actor: "break-glass", role: "admin", verifiedBy: "break-glass" };
    return verdict.reason;
  }

  if (access.state === "on") {
    const token = accessTokenOf(c);
    if (!token) return "missing credential (no Access token)";
    const who = await verifyAccessToken(token, access);
    if (typeof who === "string") return who;
    return who.kind === "person"
      ? { actor: who.email, role: roleOf(config, who), verifiedBy: "cloudflare-access" }
      : {
          actor: `service-token:${who.commonName}`,
          role: roleOf(config, who),
          verifiedBy: "access-service-token",
        };
  }

  const local = config.CONSOLE_LOCAL_IDENTITY;
  if (local) {
    // Only `npm start` on this machine: a deployed Worker is reached by its own hostname, never a loopback
    // one, and Access (when set) always takes precedence (docs/security.md "Admin identities and roles").
    if (isLoopback(c.req.url)) return { actor: `local:${local}`, role: "admin", verifiedBy: "local" };
    console.warn(
      JSON.stringify({
        level: "warn",
        requestId: c.var.requestId,
        msg: "CONSOLE_LOCAL_IDENTITY is set but ignored: it applies only on 127.0.0.1, ::1 or localhost",
      }),
    );
  }
  return "missing credential";
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
    if (crossSite(c, found)) {
      await recordRejection(
        c,
        "admin",
        `cross-site ${c.req.method} with a browser credential (${found.verifiedBy})`,
      );
      throw new ApiError(
        "forbidden",
        "cross-site request refused: send it from this site, or use an API token",
      );
    }
    if (found.role === undefined || !roleAllows(found.role, need)) {
      const role = found.role ?? "no role";
      const reason = `${role} may not ${c.req.method} ${c.req.path.slice(0, MAX_AUDITED_PATH)} (needs ${need})`;
      // A verified identity looping on a route it may not use must not fill the trail: at most
      // SECURITY_AUDIT_LIMITER's rate per identity is recorded; the rest is logged (as refused chat users).
      const audited = (await c.env.SECURITY_AUDIT_LIMITER.limit({ key: `admin-denied:${found.actor}` }))
        .success;
      console.warn(
        JSON.stringify({ level: "warn", msg: "admin refused", actor: found.actor, reason, audited }),
      );
      if (audited)
        await c.var.audit.write({
          actor: found.actor,
          verifiedBy: found.verifiedBy,
          type: "admin.denied",
          requestId: c.var.requestId,
          status: "forbidden",
          reason,
        });
      throw new ApiError(
        "forbidden",
        found.role === undefined
          ? `${found.actor} has no role here; an admin adds it to CONSOLE_VIEWERS, CONSOLE_OPERATORS or CONSOLE_ADMINS`
          : `your role (${found.role}) does not allow this; it needs ${need}`,
      );
    }
    c.set("principal", { ...found, role: found.role });
    await next();
    // Admin answers hold tokens (once), personal data and exports: never kept by a browser or proxy cache.
    c.header("cache-control", "no-store");
  };
}

const READS = new Set(["GET", "HEAD"]);

/** The longest request path an `admin.denied` record quotes (the caller chooses it). */
const MAX_AUDITED_PATH = 200;

/**
 * Credentials a browser attaches by itself: the Access cookie (and the `Cf-Access-Jwt-Assertion` header that
 * Access's edge adds from it) and the local identity. A page on another site could make the browser send
 * them with a form post (cross-site request forgery), so a write carrying one must come from this site. An
 * `Authorization` bearer (API token, break-glass) or an Access service token is never ambient.
 */
const AMBIENT: ReadonlySet<VerifiedBy> = new Set(["cloudflare-access", "local"]);

/**
 * Whether this is a write from another site with an ambient credential. Browsers send `Origin` (and
 * `Sec-Fetch-Site`) with every non-GET request; a client that sends neither (curl, automation) is not a
 * browser and cannot be made to forge one. The console's forms add `hono/csrf` on top (console/http.ts).
 * `Sec-Fetch-Site` decides when present (a page cannot set it: a forbidden request header, Fetch Metadata):
 * the console's own form posts carry `Origin: null`, because its `Referrer-Policy: no-referrer` makes the
 * browser hide the origin of a non-CORS POST (Fetch "serializing a request origin"), so `Origin` alone would
 * refuse them. Without `Sec-Fetch-Site` (older browsers), `Origin` must be this origin.
 */
function crossSite(c: Context<AppEnv>, who: { verifiedBy: VerifiedBy }): boolean {
  if (!AMBIENT.has(who.verifiedBy)) return false;
  const site = c.req.header("sec-fetch-site");
  // A link on another site may open a console page (a notification's link is one); it may not call the
  // API in the user's name (an export is recorded as theirs).
  if (READS.has(c.req.method))
    return (site === "cross-site" || site === "same-site") && !c.req.path.startsWith("/console");
  if (site !== undefined) return site !== "same-origin";
  const origin = c.req.header("origin");
  return origin !== undefined && origin !== new URL(c.req.url).origin;
}

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
