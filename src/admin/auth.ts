import type { MiddlewareHandler } from "hono";
import { recordRejection } from "../audit/security";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { secretEquals } from "../http";

/** Bearer ADMIN_TOKEN, compared in constant time; failures are an opaque 401 and a security record. */
export function requireAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const token = header.startsWith("Bearer ") ? header.slice(7) : "";
    if (!token || !(await secretEquals(token, c.var.config.ADMIN_TOKEN))) {
      await recordRejection(c, "admin", token ? "invalid admin token" : "missing admin token");
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
