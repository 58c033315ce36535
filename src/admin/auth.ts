import type { Context } from "hono";
import { secretEquals } from "../http";

const bearerOf = (c: Context) => {
  const header = c.req.header("authorization") ?? "";
  return header.startsWith("Bearer ") ? header.slice(7) : "";
};

/**
 * Whether the request carries `Authorization: Bearer <adminToken>`, compared in constant time. Used while
 * the configuration is broken (app.ts), to tell only the admin what is wrong.
 */
export async function hasAdminToken(c: Context, adminToken: string): Promise<boolean> {
  const token = bearerOf(c);
  return token !== "" && (await secretEquals(token, adminToken));
}
