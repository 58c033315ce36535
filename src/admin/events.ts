import type { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import type { DeliveryMessage } from "../events/types";
import { validate } from "../http";
import { isRunId } from "../offboarding/start";
import { actorOf, requireRole } from "./principal";

/**
 * A run's outbound events and channel notifications, and their deliveries (issue 11, docs/events.md
 * "Deliveries"): who got what (destinations by label, never their URLs), how often it was tried, and a
 * re-send of what was not delivered.
 */

const runId = z
  .string()
  .trim()
  .refine(isRunId, "must be a run id (hr-..., api-..., ...)")
  .describe("The run id (`hr-...`, `api-...`, ...).");

export const EventsQuery = z.object({ runId });
export const ResendParams = z.object({
  runId,
  eventId: z
    .string()
    .regex(/^evt_[0-9a-f]{32}$/, "must be an event id (evt_ and 32 hex digits)")
    .describe("The event's id (`evt_...`), from `GET /events?runId=`."),
});

export function eventRoutes(app: Hono<AppEnv>): void {
  app.use("/events", requireRole("viewer"));
  app.use("/runs/:runId/events/:eventId/resend", requireRole("operator"));

  app.get("/events", validate("query", EventsQuery), async (c) => {
    const { runId } = c.req.valid("query");
    return c.json({ runId, events: await c.env.EVENTS_LOG.getByName(runId).list() });
  });

  app.post("/runs/:runId/events/:eventId/resend", validate("param", ResendParams), async (c) => {
    const { runId, eventId } = c.req.valid("param");
    const dests = await c.env.EVENTS_LOG.getByName(runId).resend(eventId);
    if (!dests) throw new ApiError("not_found", `run ${runId} has no event ${eventId}`);
    if (dests.length > 0)
      await c.env.DELIVERIES.sendBatch(
        dests.map((dest) => ({ body: { runId, eventId, dest } satisfies DeliveryMessage })),
      );
    await c.var.audit.write({
      type: "admin.events",
      ...actorOf(c),
      runId,
      eventId,
      requestId: c.var.requestId,
      reason: `event re-sent to ${dests.length} destination(s) not yet delivered`,
      details: { destinations: dests.join(",") || null },
    });
    return c.json({ runId, eventId, resent: dests });
  });
}
