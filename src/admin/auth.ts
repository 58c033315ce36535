import type { Context, MiddlewareHandler } from "hono";
import { recordRejection } from "../audit/security";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { secretEquals } from "../http";

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
export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!(await hasAdminToken(c, c.var.config.ADMIN_TOKEN))) {
      await recordRejection(c, "admin", bearerOf(c) ? "invalid admin token" : "missing admin token");
      throw new ApiError("unauthorized", "a valid admin bearer token is required");
    }
    await next();
  };
}

/** Who did it, as the admin says (`X-Audit-Actor`), prefixed so it is never mistaken for a system actor. */
export function adminActor(header: string | undefined): string {
  const name = (header ?? "")
    .replace(/[^\w.@ -]/g, "")
    .trim()
    .slice(0, 100);
  return name ? `admin:${name}` : "admin";
}
