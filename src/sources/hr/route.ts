import { Hono } from "hono";
import { notePeopleSeen } from "../../admin/suggestions/record";
import { type AuthSpec, authenticate } from "../../auth";
import type { AppEnv } from "../../env";
import { ApiError, fieldErrors } from "../../errors";
import { limitBody, parseJsonBody } from "../../http";
import { type ActionName, actionsFor, type HandoverRequest } from "../../offboarding/actions";
import { newRunRequest, startRun } from "../../offboarding/start";
import { ALL_SCOPES } from "../../offboarding/types";
import { CLOCK_MARGIN_MS, onceFor } from "../replay";
import { HrEnvelope, HrEventManager, HrEventPerson, HrOffboardedEvent, OFFBOARDED } from "./schema";
import { type HrVerified, SIGNATURE_TOLERANCE_S, verifyStandardWebhook } from "./verify";

/** A request body over 256 KiB is refused before any work. */
export const MAX_HR_BODY_BYTES = 256 * 1024;
/** Standard Webhooks ids are short (e.g. `msg_<ksuid>`); a longer one is refused rather than stored. */
export const MAX_EVENT_ID_LENGTH = 256;
const SOURCE = "hr";

/** Standard Webhooks signatures with `HR_WEBHOOK_SECRETS` (required: this source is always on). */
const HR_AUTH: AuthSpec<readonly string[], HrVerified> = {
  source: SOURCE,
  secrets: (config) => config.HR_WEBHOOK_SECRETS,
  verify: verifyStandardWebhook,
  unauthorized: () => new ApiError("unauthorized", "invalid or missing webhook signature"),
};

/**
 * `POST /webhooks/hr`: a Standard Webhooks HR event. Authenticated on the raw bytes (`HR_AUTH`), then
 * parsed, then the request is recorded and the run started. Answers 202 well within a second; the run is a Workflow.
 */
export function hrRoutes() {
  const app = new Hono<AppEnv>();

  app.post("/", limitBody(MAX_HR_BODY_BYTES), authenticate(HR_AUTH), async (c) => {
    const eventId = c.var.verified.webhookId;
    if (eventId.length > MAX_EVENT_ID_LENGTH) {
      throw new ApiError("bad_request", `webhook-id is longer than ${MAX_EVENT_ID_LENGTH} characters`);
    }

    const json = parseJsonBody(c.var.rawBody);
    const envelope = HrEnvelope.safeParse(json);
    if (!envelope.success)
      throw new ApiError("invalid_body", "the event is invalid", fieldErrors(envelope.error.issues));
    // Whoever a verified event names without a KooDrive id may become a suggested match (after the answer).
    const person = HrEventPerson.safeParse(json);
    if (person.success && !person.data.data.employee.koodriveUserId) {
      const { id, email, name } = person.data.data.employee;
      notePeopleSeen(c, SOURCE, [{ hrId: id, email, name }]);
    }
    if (envelope.data.type !== OFFBOARDED) {
      // Recorded once per webhook-id: a replay inside the signature window (both ways) writes nothing more.
      await onceFor(
        c.env,
        SOURCE,
        `ignored\n${eventId}`,
        Date.now() + 2 * SIGNATURE_TOLERANCE_S * 1000 + CLOCK_MARGIN_MS,
        () =>
          c.var.audit.write({
            type: "request.received",
            actor: `source:${SOURCE}`,
            source: SOURCE,
            eventId,
            requestId: c.var.requestId,
            reason: `ignored event type ${envelope.data.type.slice(0, 100)}`,
            details: { verified: true, ignored: true },
          }),
      );
      return c.json({ ignored: true, type: envelope.data.type }, 200);
    }
    const parsed = HrOffboardedEvent.safeParse(json);
    if (!parsed.success)
      throw new ApiError("invalid_body", "the event is invalid", fieldErrors(parsed.error.issues));
    const event = parsed.data;
    const employee = event.data.employee;
    const asked = actionsFor(event.options?.actions, c.var.config.OFFBOARDING_ACTIONS);
    if (!asked.ok)
      throw new ApiError("invalid_body", `nothing was started: ${asked.message}`, [
        { path: "options.actions", message: asked.message },
      ]);
    const handoverTo = handoverRequest(json, employee, asked.actions);

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
      actions: asked.actions,
      ...(handoverTo ? { handoverTo } : {}),
      requestId: c.var.requestId,
    });
    const { runId, duplicate } = await startRun(c.env, c.var.audit, request);
    return c.json({ runId, status: "accepted", ...(duplicate ? { duplicate: true } : {}) }, 202);
  });

  return app;
}

/**
 * The handover recipient an `employee.offboarded` event names (`data.employee.manager`), when the run hands
 * files over; undefined when it names none (the run then asks KooDrive for its configured recipient). A
 * manager who is the employee themselves is refused: a handover never goes to the leaver (issue 10).
 */
function handoverRequest(
  json: unknown,
  employee: HrOffboardedEvent["data"]["employee"],
  actions: readonly ActionName[],
): HandoverRequest | undefined {
  if (!actions.includes("handover")) return undefined;
  const parsed = HrEventManager.safeParse(json);
  if (!parsed.success)
    throw new ApiError("invalid_body", "the event is invalid", fieldErrors(parsed.error.issues));
  const manager = parsed.data.data.employee.manager;
  if (!manager) return undefined;
  const same =
    (manager.email !== undefined && manager.email.toLowerCase() === employee.email?.toLowerCase()) ||
    (manager.hrId !== undefined && manager.hrId === employee.id) ||
    (manager.koodriveUserId !== undefined && manager.koodriveUserId === employee.koodriveUserId);
  if (same)
    throw new ApiError("invalid_body", "nothing was started: the manager is the employee themselves", [
      {
        path: "data.employee.manager",
        message: "a handover never goes to the leaver: name someone else (or no manager)",
      },
    ]);
  return {
    person: {
      ...(manager.email ? { email: manager.email } : {}),
      ...(manager.hrId ? { hrId: manager.hrId } : {}),
      ...(manager.koodriveUserId ? { koodriveUserId: manager.koodriveUserId } : {}),
      ...(manager.name ? { name: manager.name } : {}),
    },
    from: "event",
  };
}
