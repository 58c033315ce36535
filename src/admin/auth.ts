import type { MiddlewareHandler } from "hono";
import { type AuthenticatedEnv, type AuthSpec, authenticate } from "../auth";
import { ApiError } from "../errors";
import { verifyAdminToken } from "./verify";

/** The admin API through the same factory as the sources; the token is a header, the body is the route's. */
const ADMIN_AUTH: AuthSpec<string, Record<never, never>> = {
  source: "admin",
  secrets: (config) => config.ADMIN_TOKEN,
  verify: verifyAdminToken,
  unauthorized: () => new ApiError("unauthorized", "a valid admin bearer token is required"),
  body: "none",
};

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
