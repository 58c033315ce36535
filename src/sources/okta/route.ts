import { Hono } from "hono";
import { notePeopleSeen } from "../../admin/suggestions/record";
import { looksLikeEmail } from "../../audit/schema";
import { type AuthSpec, authenticate } from "../../auth";
import { sha256Hex } from "../../bytes";
import { type AppEnv, ConfigError, sourceSecrets } from "../../env";
import { ApiError, fieldErrors } from "../../errors";
import { limitBody, parseJsonBody } from "../../http";
import type { ActionName } from "../../offboarding/actions";
import { newRunRequest, startRun } from "../../offboarding/start";
import type { RunRequest } from "../../offboarding/types";
import { type ReactivationOutcome, withdrawWaitingRuns } from "../reactivation";
import { onceFor } from "../replay";
import { isLeaverEvent, isReactivationEvent, leaverTarget, OktaDelivery, OktaEvent } from "./schema";
import { type OktaSecrets, verifyOktaSecret } from "./verify";

/** Okta deliveries are small JSON batches; anything over 256 KiB is refused before any work. */
export const MAX_OKTA_BODY_BYTES = 256 * 1024;
/** The one-time verification challenge is echoed back; a longer one is not Okta's. */
const MAX_CHALLENGE_LENGTH = 1024;
const SOURCE = "okta";
/** How long a delivery's ignored/invalid-event records are not written again (one per delivery per day). */
export const RECORD_ONCE_MS = 24 * 3_600_000;

/**
 * Okta's configured header (`OKTA_EVENT_HOOK_HEADER`) carrying one of `OKTA_EVENT_HOOK_SECRETS`; the source
 * is off without a secret, and a bad header name makes it `misconfigured`.
 */
const OKTA_AUTH: AuthSpec<OktaSecrets, Record<never, never>> = {
  source: SOURCE,
  secrets: ({ OKTA_EVENT_HOOK_SECRETS: configured, OKTA_EVENT_HOOK_HEADER: header }) => {
    if (header.problem) throw new ConfigError(`invalid configuration: ${header.problem}`);
    const values = sourceSecrets(
      configured,
      new ApiError("not_found", "the Okta source is not enabled (set OKTA_EVENT_HOOK_SECRETS)"),
    );
    return { header: header.name, values };
  },
  verify: verifyOktaSecret,
  unauthorized: ({ header }) => new ApiError("unauthorized", `missing or wrong ${header} header`),
};

/**
 * The run request for one leaver event; the Okta user id stands as the person's id in the source. An Okta
 * event cannot ask for actions: the run takes all of the policy's (OFFBOARDING_ACTIONS).
 */
async function runRequest(
  requestId: string,
  event: OktaEvent,
  actions: readonly ActionName[],
): Promise<RunRequest> {
  return newRunRequest({
    source: SOURCE,
    eventId: event.uuid,
    subject: personOf(event),
    reason: `Okta ${event.eventType}`,
    actions: [...actions],
    requestId,
  });
}

/** The person an event names, as the deprovisioning takes them: the Okta id, and the login if an e-mail. */
function personOf(event: OktaEvent): { hrId: string; email?: string; name?: string } {
  const target = leaverTarget(event);
  if (!target?.id) throw new Error("event without a User target"); // validated before
  const login = target.alternateId?.trim();
  const name = target.displayName?.trim();
  return {
    hrId: target.id,
    ...(login && looksLikeEmail(login) ? { email: login.toLowerCase() } : {}),
    ...(name ? { name } : {}),
  };
}

type Reactivated =
  | ({ uuid: string; eventType: string } & Pick<ReactivationOutcome, "withdrawn" | "underWay">)
  | { uuid: string; eventType: string; duplicate: true };

/**
 * `/webhooks/okta`: Okta Event Hooks. `GET` answers the one-time verification challenge; `POST` takes a
 * delivery of one or more events, starts one run per leaver event (deduplicated on the event's `uuid`, as
 * Okta may deliver twice), withdraws the waiting runs of each reactivated person (once per event `uuid`)
 * and answers 200 well inside Okta's 3-second deadline.
 */
export function oktaRoutes() {
  const app = new Hono<AppEnv>();

  app.get("/", authenticate(OKTA_AUTH), async (c) => {
    const challenge = c.req.header("x-okta-verification-challenge");
    if (!challenge || challenge.length > MAX_CHALLENGE_LENGTH) {
      throw new ApiError("bad_request", "missing or oversized x-okta-verification-challenge header");
    }
    await c.var.audit.write({
      type: "request.received",
      actor: `source:${SOURCE}`,
      source: SOURCE,
      requestId: c.var.requestId,
      reason: "Event Hook verification challenge answered",
      details: { verified: true, verification: true },
    });
    return c.json({ verification: challenge });
  });

  app.post("/", limitBody(MAX_OKTA_BODY_BYTES), authenticate(OKTA_AUTH), async (c) => {
    const parsed = OktaDelivery.safeParse(parseJsonBody(c.var.rawBody));
    if (!parsed.success) {
      throw new ApiError("invalid_body", "the delivery is invalid", fieldErrors(parsed.error.issues));
    }
    // Each event on its own: Okta does not redeliver after a 4xx, so one malformed event must not cost
    // the other leavers of the batch their runs. Invalid leaver events are answered and audited.
    const leavers: OktaEvent[] = [];
    const reactivations: OktaEvent[] = [];
    const invalid: Array<{ index: number; uuid?: string; path: string; message: string }> = [];
    /** Which kind of event each invalid entry was, for its record (the answer keeps its documented shape). */
    const invalidKind: string[] = [];
    const ignoredTypes: string[] = [];
    // The users the delivery names, leavers or not: those without an identity-map entry may become
    // suggested matches (recorded after the answer).
    const named: Array<{ hrId: string; email?: string; name: string | null | undefined }> = [];
    for (const [index, raw] of parsed.data.data.events.entries()) {
      const type = (raw as { eventType?: unknown } | null)?.eventType;
      const user = OktaEvent.safeParse(raw);
      const target = user.success ? leaverTarget(user.data) : undefined;
      if (target?.id) {
        const login = target.alternateId?.trim();
        named.push({
          hrId: target.id,
          ...(login && looksLikeEmail(login) ? { email: login } : {}),
          name: target.displayName,
        });
      }
      if (typeof type === "string" && !isLeaverEvent(type) && !isReactivationEvent(type)) {
        ignoredTypes.push(type.slice(0, 100));
        continue;
      }
      const event = OktaEvent.safeParse(raw);
      const uuid = (raw as { uuid?: unknown } | null)?.uuid;
      const reactivation = typeof type === "string" && isReactivationEvent(type);
      const kind = reactivation ? "reactivation" : "leaver";
      const problem = !event.success
        ? fieldErrors(event.error.issues)[0]
        : !leaverTarget(event.data)
          ? { path: "target", message: `a ${kind} event needs a target of type User with an id` }
          : reactivation && !event.data.published
            ? // Its time bounds what it withdraws (a replay must not withdraw later runs): Okta always sends it.
              { path: "published", message: "a reactivation event needs its published time" }
            : undefined;
      if (event.success && !problem) (reactivation ? reactivations : leavers).push(event.data);
      else {
        invalidKind.push(kind);
        invalid.push({
          index,
          ...(typeof uuid === "string" ? { uuid: uuid.slice(0, 200) } : {}),
          path: `data.events.${index}.${problem?.path ?? ""}`.replace(/\.$/, ""),
          message: problem?.message ?? "invalid event",
        });
      }
    }

    notePeopleSeen(c, SOURCE, named);
    // Each event is its own run, keyed by its uuid: a redelivered batch starts nothing new.
    const runs = await Promise.all(
      leavers.map(async (event) => {
        const { runId, duplicate } = await startRun(
          c.env,
          c.var.audit,
          await runRequest(c.var.requestId, event, c.var.config.OFFBOARDING_ACTIONS),
        );
        return { uuid: event.uuid, eventType: event.eventType, runId, ...(duplicate ? { duplicate } : {}) };
      }),
    );
    // One after the other: two events of a batch may name the same person.
    const reactivated: Reactivated[] = [];
    for (const event of reactivations) {
      let outcome: ReactivationOutcome | undefined;
      // Once per event uuid (Okta delivers at least once; its credential is a fixed header, so a captured
      // delivery can be replayed): a replay within RECORD_ONCE_MS withdraws and records nothing again.
      await onceFor(
        c.env,
        SOURCE,
        `reactivation\n${event.uuid}`.slice(0, 500),
        Date.now() + RECORD_ONCE_MS,
        async () => {
          outcome = await withdrawWaitingRuns(c.env, c.var.audit, {
            source: SOURCE,
            eventId: event.uuid,
            label: `okta ${event.eventType} ${event.uuid}`,
            person: personOf(event),
            // Validated above; a time ahead of ours (a skewed clock) counts as now.
            at: Math.min(Date.parse(event.published ?? ""), Date.now()),
            requestId: c.var.requestId,
          });
        },
      );
      const base = { uuid: event.uuid, eventType: event.eventType };
      reactivated.push(
        outcome
          ? { ...base, withdrawn: outcome.withdrawn, underWay: outcome.underWay }
          : { ...base, duplicate: true },
      );
    }
    // Records of what starts no run are written once per delivery (Okta's credential is a fixed header, so
    // a captured delivery can be replayed at any time): the guard remembers the delivery for a day.
    const records = async () => {
      await Promise.all(
        invalid.map((bad, i) =>
          c.var.audit.write({
            type: "request.rejected",
            actor: `source:${SOURCE}`,
            source: SOURCE,
            ...(bad.uuid ? { eventId: bad.uuid } : {}),
            requestId: c.var.requestId,
            reason: `invalid ${invalidKind[i]} event at ${bad.path}: ${bad.message}`.slice(0, 500),
            details: { verified: true },
          }),
        ),
      );
      if (ignoredTypes.length === 0) return;
      const types = [...new Set(ignoredTypes)].sort();
      await c.var.audit.write({
        type: "request.received",
        actor: `source:${SOURCE}`,
        source: SOURCE,
        ...(parsed.data.eventId ? { eventId: parsed.data.eventId } : {}),
        requestId: c.var.requestId,
        reason: `ignored event type(s) ${types.join(", ").slice(0, 500)}`,
        details: { verified: true, ignored: ignoredTypes.length },
      });
    };
    if (invalid.length || ignoredTypes.length) {
      const delivery = parsed.data.eventId ?? (await sha256Hex(c.var.rawBody)).slice(0, 32);
      await onceFor(
        c.env,
        SOURCE,
        `records\n${delivery}`.slice(0, 500),
        Date.now() + RECORD_ONCE_MS,
        records,
      );
    }
    return c.json({ runs, reactivated, ignored: ignoredTypes.length, invalid }, 200);
  });

  return app;
}
