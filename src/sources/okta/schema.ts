import * as z from "zod";

/**
 * Okta event types that mean "this person is leaving" [webhook-sources.md: Okta Event Hooks]. Suspension is
 * included: Okta admins suspend leavers whose account is kept for a while, and a link must not outlive access.
 */
export const LEAVER_EVENT_TYPES = [
  "user.lifecycle.deactivate",
  "user.lifecycle.suspend",
  "user.lifecycle.delete.initiated",
] as const;

export const isLeaverEvent = (eventType: string) =>
  (LEAVER_EVENT_TYPES as readonly string[]).includes(eventType);

/**
 * Okta event types that mean "this person is back" (issue 11, "Scheduled runs can be changed"): a rehire or
 * a mistaken deactivation/suspension. They withdraw the person's waiting runs; they never start one.
 * @see https://developer.okta.com/docs/reference/api/event-types/ (user.lifecycle.reactivate, .unsuspend)
 */
export const REACTIVATION_EVENT_TYPES = ["user.lifecycle.reactivate", "user.lifecycle.unsuspend"] as const;

export const isReactivationEvent = (eventType: string) =>
  (REACTIVATION_EVENT_TYPES as readonly string[]).includes(eventType);

/** Okta batches events; a delivery carrying more than this is refused rather than half-processed. */
export const MAX_EVENTS_PER_DELIVERY = 100;

const Target = z.looseObject({
  id: z.string().trim().min(1).max(200).optional(),
  type: z.string().max(100).optional(),
  alternateId: z.string().max(320).optional(),
  displayName: z.string().max(200).nullish(),
});

/** One event of a delivery; only what deciding and starting a run needs is required. */
export const OktaEvent = z.looseObject({
  uuid: z.string().trim().min(1).max(200),
  eventType: z.string().min(1).max(200),
  published: z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time" }).optional(),
  displayMessage: z.string().max(1000).nullish(),
  target: z.array(Target).max(50).nullish(),
});
export type OktaEvent = z.infer<typeof OktaEvent>;

/** The delivery: `{eventType: "com.okta.event_hook", eventId, eventTime, data: {events: [...]}}`. */
export const OktaDelivery = z.looseObject({
  eventType: z.string().max(200).optional(),
  eventId: z.string().max(200).optional(),
  eventTime: z.string().max(100).optional(),
  data: z.looseObject({
    // Events are checked one by one (route.ts): a malformed one must not sink the others.
    events: z.array(z.unknown()).min(1).max(MAX_EVENTS_PER_DELIVERY),
  }),
});
export type OktaDelivery = z.infer<typeof OktaDelivery>;

/** The person a leaver (or reactivation) event is about: its `target` entry of type `User` with an id. */
export function leaverTarget(event: OktaEvent) {
  return event.target?.find((t) => t.type === "User" && t.id);
}
