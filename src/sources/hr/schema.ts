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

/** How an HR event names a person (the employee, their manager): one rule for each identifier. */
const HrId = z.string().trim().min(1).max(200);
const PersonName = z.string().trim().min(1).max(200);
const KoodriveUserId = z.string().regex(/^\d{19}$/, "must be a 19-digit KooDrive user id");

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
      id: HrId,
      email: emailAddress().optional(),
      name: PersonName.optional(),
      koodriveUserId: KoodriveUserId.optional(),
    }),
    effectiveAt: EffectiveAt.optional(),
    reason: z.string().max(1000).optional(),
  }),
  options: z
    .looseObject({
      dryRun: z.boolean().optional(),
      scopes: z.array(Scope).min(1).max(3).optional(),
      /**
       * The actions this run takes (issue 10): fewer than OFFBOARDING_ACTIONS allows, never more (checked
       * against the policy by the route, which names it in the 422). Absent: all of the policy's.
       */
      actions: z.array(z.string().max(40)).max(10).optional(),
    })
    .optional(),
});
export type HrOffboardedEvent = z.infer<typeof HrOffboardedEvent>;

/**
 * `data.employee.manager`: who receives the leaver's files when the run hands them over (issue 10), named
 * like the employee (the same rule for each identifier) by at least one of `email`, `hrId`, `koodriveUserId`.
 * Read only when the run's actions include `handover`: until then the field means nothing to a run, and a
 * sender that already sends a manager in another shape is not refused because of it.
 */
export const HrManager = z
  .looseObject({
    email: emailAddress().optional(),
    hrId: HrId.optional(),
    koodriveUserId: KoodriveUserId.optional(),
    name: PersonName.optional(),
  })
  .refine(
    (m) => m.email !== undefined || m.hrId !== undefined || m.koodriveUserId !== undefined,
    "name the manager by at least one of email, hrId, koodriveUserId",
  );
export const HrEventManager = z.looseObject({
  data: z.looseObject({ employee: z.looseObject({ manager: HrManager.optional() }) }),
});

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
