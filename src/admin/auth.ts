import type { Context, MiddlewareHandler } from "hono";
import { type AuthenticatedEnv, type AuthSpec, authenticate } from "../auth";
import { ApiError } from "../errors";
import { secretEquals } from "../http";
import { verifyAdminToken } from "./verify";

/** The admin API through the same factory as the sources; the token is a header, the body is the route's. */
const ADMIN_AUTH: AuthSpec<string, Record<never, never>> = {
  source: "admin",
  secrets: (config) => config.ADMIN_TOKEN,
  verify: verifyAdminToken,
  unauthorized: () => new ApiError("unauthorized", "a valid admin bearer token is required"),
  body: "none",
};

const bearerOf = (c: Context) => {
  const header = c.req.header("authorization") ?? "";
  return header.startsWith("Bearer ") ? header.slice(7) : "";
};

/**
 * Whether the request carries `Authorization: Bearer <adminToken>`, compared in constant time. Also used
 * while the configuration is broken (app.ts), to tell only the admin what is wrong.
 */
export async function hasAdminToken(c: Context, adminToken: string): Promise<boolean> {
  const token = bearerOf(c);
  return token !== "" && (await secretEquals(token, adminToken));
}

/** Bearer ADMIN_TOKEN, compared in constant time; failures are an opaque 401 and a security record. */
export function requireAdmin(): MiddlewareHandler<AuthenticatedEnv<Record<never, never>>> {
  return authenticate(ADMIN_AUTH);
}

/** Who did it, as the admin says (`X-Audit-Actor`), prefixed so it is never mistaken for a system actor. */
export function adminActor(header: string | undefined): string {
  const name = (header ?? "")
    .replace(/[^\w.@ -]/g, "")
    .trim()
    .slice(0, 100);
  return name ? `admin:${name}` : "admin";
}
