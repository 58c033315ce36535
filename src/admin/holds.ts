import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../env";
import { validate } from "../http";
import { adminActor } from "./auth";

/** How many holds one tenant may keep (a PUT replaces them all). */
export const MAX_HOLDS = 10_000;

const HoldsBody = z.object({
  holds: z
    .array(
      z.object({
        type: z.enum(["user", "share"]),
        id: z.string().regex(/^\d{19}$/, "must be a 19-digit KooDrive id"),
        reason: z.string().trim().min(1, "say why (e.g. legal hold ref)").max(500),
      }),
    )
    .max(MAX_HOLDS),
});

/** `PUT /holds` replaces the set of holds; `GET /holds` lists them. */
export function holdsRoutes() {
  const app = new Hono<AppEnv>();
  const store = (env: AppEnv["Bindings"]) => env.HOLDS.getByName("holds");

  app.get("/", async (c) => c.json({ holds: await store(c.env).list() }));

  app.put("/", validate("json", HoldsBody), async (c) => {
    const actor = adminActor(c.req.header("x-audit-actor"));
    const { holds } = c.req.valid("json");
    const result = await store(c.env).replace(holds.map((h) => ({ ...h, createdBy: actor })));
    await c.var.audit.write({
      type: "admin.holds",
      actor,
      requestId: c.var.requestId,
      reason: "holds replaced",
      details: { added: result.added, removed: result.removed, total: result.total },
    });
    return c.json({ ...result, holds: await store(c.env).list() });
  });

  return app;
}
