import { Hono } from "hono";
import { recordRejection } from "../../audit/security";
import type { AppEnv } from "../../env";
import { ApiError, fieldErrors } from "../../errors";
import { limitBody, parseJsonBody, rawBody } from "../../http";
import { newRunRequest, startRun } from "../../offboarding/start";
import { ALL_SCOPES } from "../../offboarding/types";
import { verifyStandardWebhook } from "../standard-webhooks";
import { HrEnvelope, HrOffboardedEvent, OFFBOARDED } from "./schema";

/** A request body over 256 KiB is refused before any work. */
export const MAX_HR_BODY_BYTES = 256 * 1024;
/** Standard Webhooks ids are short (e.g. `msg_<ksuid>`); a longer one is refused rather than stored. */
export const MAX_EVENT_ID_LENGTH = 256;
const SOURCE = "hr";

/**
 * `POST /webhooks/hr`: a Standard Webhooks HR event. Verifies the signature on the raw bytes, then parses,
 * then records the request and starts the run. Answers 202 well within a second; the run is a Workflow.
 */
export function hrRoutes() {
  const app = new Hono<AppEnv>();

  app.post("/", limitBody(MAX_HR_BODY_BYTES), async (c) => {
    const body = await rawBody(c);
    const webhookId = c.req.header("webhook-id");
    const verdict = await verifyStandardWebhook({
      id: webhookId,
      timestamp: c.req.header("webhook-timestamp"),
      signature: c.req.header("webhook-signature"),
      body,
      secrets: c.var.config.HR_WEBHOOK_SECRETS,
      nowSeconds: Math.floor(Date.now() / 1000),
    });
    if (!verdict.ok) {
      await recordRejection(c, SOURCE, verdict.reason, webhookId);
      throw new ApiError("unauthorized", "invalid or missing webhook signature");
    }
    const eventId = webhookId as string;
    if (eventId.length > MAX_EVENT_ID_LENGTH) {
      throw new ApiError("bad_request", `webhook-id is longer than ${MAX_EVENT_ID_LENGTH} characters`);
    }

    const json = parseJsonBody(body);
    const envelope = HrEnvelope.safeParse(json);
    if (!envelope.success)
      throw new ApiError("invalid_body", "the event is invalid", fieldErrors(envelope.error.issues));
    if (envelope.data.type !== OFFBOARDED) {
      await c.var.audit.write({
        type: "request.received",
        actor: `source:${SOURCE}`,
        source: SOURCE,
        eventId,
        requestId: c.var.requestId,
        reason: `ignored event type ${envelope.data.type.slice(0, 100)}`,
        details: { verified: true, ignored: true },
      });
      return c.json({ ignored: true, type: envelope.data.type }, 200);
    }
    const parsed = HrOffboardedEvent.safeParse(json);
    if (!parsed.success)
      throw new ApiError("invalid_body", "the event is invalid", fieldErrors(parsed.error.issues));
    const event = parsed.data;
    const employee = event.data.employee;

    const request = await newRunRequest({
      source: SOURCE,
      eventId,
      subject: {
        hrId: employee.id,
        ...(employee.email ? { email: employee.email } : {}),
        ...(employee.name ? { name: employee.name } : {}),
        ...(employee.koodriveUserId ? { koodriveUserId: employee.koodriveUserId } : {}),
      },
      ...(event.data.reason ? { reason: event.data.reason } : {}),
      ...(event.data.effectiveAt ? { effectiveAt: event.data.effectiveAt } : {}),
      dryRun: event.options?.dryRun ?? false,
      scopes: [...new Set(event.options?.scopes ?? ALL_SCOPES)].sort(),
      requestId: c.var.requestId,
    });
    const { runId, duplicate } = await startRun(c.env, c.var.audit, request);
    return c.json({ runId, status: "accepted", ...(duplicate ? { duplicate: true } : {}) }, 202);
  });

  return app;
}
