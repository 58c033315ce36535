import * as z from "zod";
import { emailAddress } from "../../audit/schema";
import { MAX_EFFECTIVE_AHEAD_DAYS } from "../../offboarding/types";

/** The only event type that starts a run; others are acknowledged with `{"ignored":true}`. */
export const OFFBOARDED = "employee.offboarded";

const Scope = z.union([z.literal(1), z.literal(2), z.literal(3)]);

export { MAX_EFFECTIVE_AHEAD_DAYS };

const MAX_EFFECTIVE_AHEAD_MS = MAX_EFFECTIVE_AHEAD_DAYS * 86_400_000;

const EffectiveAt = z.iso
  .datetime({ offset: true, error: "must be an ISO 8601 date-time" })
  .refine(
    (v) => Date.parse(v) <= Date.now() + MAX_EFFECTIVE_AHEAD_MS,
    `must be at most ${MAX_EFFECTIVE_AHEAD_DAYS} days ahead (a run cannot wait longer); send the event later`,
  );

/** Only `type` is needed to decide whether to ignore an event. */
export const HrEnvelope = z.looseObject({ type: z.string().min(1).max(200) });

/**
 * `employee.offboarded`: `type`, `timestamp` and `data.employee.id` are required; unknown extra fields
 * are tolerated (the sender may add some).
 */
export const HrOffboardedEvent = z.looseObject({
  type: z.literal(OFFBOARDED),
  timestamp: z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time" }),
  data: z.looseObject({
    employee: z.looseObject({
      id: z.string().trim().min(1).max(200),
      email: emailAddress().optional(),
      name: z.string().trim().min(1).max(200).optional(),
      koodriveUserId: z
        .string()
        .regex(/^\d{19}$/, "must be a 19-digit KooDrive user id")
        .optional(),
    }),
    effectiveAt: EffectiveAt.optional(),
    reason: z.string().max(1000).optional(),
  }),
  options: z
    .looseObject({
      dryRun: z.boolean().optional(),
      scopes: z.array(Scope).min(1).max(3).optional(),
    })
    .optional(),
});
export type HrOffboardedEvent = z.infer<typeof HrOffboardedEvent>;

/**
 * The person any HR event names (`data.employee`: id, e-mail, name), whatever its type: a verified event
 * about someone who has no identity-map entry yet feeds the suggested matches (admin/suggestions).
 */
export const HrEventPerson = z.looseObject({
  data: z.looseObject({
    employee: z.looseObject({
      id: z.string().trim().min(1).max(200),
      email: emailAddress().optional(),
      name: z.string().trim().min(1).max(200).optional(),
      koodriveUserId: z.string().optional(),
    }),
  }),
});
