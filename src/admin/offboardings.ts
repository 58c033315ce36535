/**
 * Starting an offboarding from the admin side (issue 9): `POST /offboardings` (source `api`) and the
 * console's "Offboard someone" (source `console`) share `startOffboarding`, which starts the run through
 * the same path as the HR webhook (`newRunRequest` / `startRun`): the ledger's one-run-per-event rule,
 * holds, one person one run (LeaverLock), identity map resolution and the name-match policy all apply.
 */
import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod";
import { identityEmailKey, identityHrKey } from "../audit/keys";
import { emailAddress, looksLikeEmail } from "../audit/schema";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { limitBody, validate } from "../http";
import {
  ACTIONS,
  type ActionName,
  actionsFor,
  actionsOf,
  type HandoverRequest,
  type PersonRef,
} from "../offboarding/actions";
import type { IdentityEntry } from "../offboarding/resolve";
import { newRunRequest, startRun } from "../offboarding/start";
import {
  ALL_SCOPES,
  MAX_EFFECTIVE_AHEAD_DAYS,
  type RunRequest,
  type RunStatus,
  type Scope,
  type SourceName,
} from "../offboarding/types";
import { actorOf } from "./principal";

/** The sources the admin side starts runs as. */
export type AdminSource = Extract<SourceName, "console" | "api">;

/** A request body is a few hundred bytes; 16 KiB leaves room and refuses anything else early. */
export const MAX_OFFBOARDING_BODY_BYTES = 16 * 1024;
/** The reason is required and recorded in the audit trail: a sentence, not a document. */
export const MAX_REASON_LENGTH = 500;
/** HR ids as the HR source takes them (src/sources/hr/schema.ts: 1..200 characters). */
const MAX_HR_ID_LENGTH = 200;
const KOODRIVE_ID = /^\d{19}$/;
/**
 * An HR id typed by an operator: letters, digits and `._:-` (what HR systems use for employee ids). White
 * space, `@`, quotes and markup are refused: such a value is a typo, not a person.
 */
const HR_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
/**
 * `Idempotency-Key` (IETF draft-ietf-httpapi-idempotency-key-header: a string, e.g. a UUID): 1..128 of
 * `[A-Za-z0-9._:-]`, the same rule as X-Request-Id (src/app.ts REQUEST_ID), since it is recorded as the
 * event id in the audit trail and in exports.
 */
const IDEMPOTENCY_KEY = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const MAX_EFFECTIVE_AHEAD_MS = MAX_EFFECTIVE_AHEAD_DAYS * 86_400_000;

/** A person as an operator types them: a 19-digit KooDrive id, an e-mail, or an HR id (`personRefOf`). */
export const personText = (missing: string) =>
  z
    .string()
    .trim()
    .min(1, missing)
    .max(320)
    .refine(
      (v) =>
        KOODRIVE_ID.test(v) ||
        (v.includes("@") ? looksLikeEmail(v) : v.length <= MAX_HR_ID_LENGTH && HR_ID.test(v)),
      "must be an e-mail, a 19-digit KooDrive user id or an HR id (letters, digits, . _ : -)",
    );

/** Who to offboard. */
const Person = personText("name the person: an e-mail, a 19-digit KooDrive user id or an HR id");

/** A typed person as the handover resolves them (like a leaver: KooDrive id, else e-mail, else HR id). */
export function personRefOf(value: string): PersonRef {
  if (KOODRIVE_ID.test(value)) return { koodriveUserId: value };
  return value.includes("@") ? { email: value.toLowerCase() } : { hrId: value };
}

/** Whether two typed persons are textually the same (the same kind of identifier, the same value). */
const samePersonText = (a: string, b: string) =>
  JSON.stringify(personRefOf(a)) === JSON.stringify(personRefOf(b));

export const OffboardingBody = z.strictObject({
  person: Person,
  dryRun: z.boolean().default(false),
  scopes: z
    .array(z.union([z.literal(1), z.literal(2), z.literal(3)]))
    .min(1)
    .max(3)
    .optional(),
  reason: z.string().trim().min(1, "a reason is required").max(MAX_REASON_LENGTH),
  effectiveAt: z.iso
    .datetime({ offset: true, error: "must be an ISO 8601 date-time" })
    .refine(
      (v) => Date.parse(v) <= Date.now() + MAX_EFFECTIVE_AHEAD_MS,
      `must be at most ${MAX_EFFECTIVE_AHEAD_DAYS} days ahead (a run cannot wait longer)`,
    )
    .optional(),
  actions: z
    .array(z.enum(ACTIONS, { error: `must be one of ${ACTIONS.join(", ")}` }))
    .min(1, "ask for at least one action, or leave actions out for all the policy allows")
    .max(ACTIONS.length)
    .optional()
    .describe(
      "The actions of this run, within OFFBOARDING_ACTIONS (asking for more is refused, 422). Absent: " +
        "all the policy allows.",
    ),
  handoverTo: personText("name who receives the files: an e-mail, a 19-digit KooDrive user id or an HR id")
    .optional()
    .describe(
      "Who receives the person's files (the handover action, which must be among the run's actions): an " +
        "e-mail, a 19-digit KooDrive user id or an HR id, never the person themselves. Absent: KooDrive's " +
        "configured recipient, else HANDOVER_DEFAULT_USER_ID.",
    ),
});
export type OffboardingInput = z.input<typeof OffboardingBody>;

export interface OffboardingStarted {
  runId: string;
  status: RunStatus;
  /** The run's admin URL (`GET /runs/:id`). */
  url: string;
  duplicate?: true;
}

/** The subject of a run for `person`: as typed, completed from the identity map where it knows them. */
async function subjectFor(kv: KVNamespace, person: string) {
  if (KOODRIVE_ID.test(person)) return { hrId: person, koodriveUserId: person };
  const email = person.includes("@") ? emailAddress().parse(person).toLowerCase() : undefined;
  // The identity map's entry gives the person's other identifiers (HR id, e-mail, name) to the audit trail
  // and the runs list; who they are in KooDrive is still resolved by the run (resolvedBy identity_map).
  const key = email ? await identityEmailKey(email) : await identityHrKey(person);
  const entry = await kv.get<IdentityEntry>(key, "json");
  const hrId = email ? (entry?.hrId ?? email) : person;
  // Only the identifier the operator typed (and, from an e-mail's entry, that entry's own HR id) may steer
  // who the run resolves to: an HR id's entry may name an e-mail since given to someone else, and the run
  // tries the e-mail first, so an HR id's entry lends the run its name (for the list) and nothing else.
  return {
    hrId,
    ...(email ? { email } : {}),
    ...(entry?.name ? { name: entry.name } : {}),
  };
}

/** The real run that confirms a dry run's plan (the console's "Cancel N shares"). */
export interface ConfirmedPlan {
  /** The dry run whose plan was confirmed: one dry run is confirmed at most once, whoever confirms it. */
  dryRunId: string;
  /** The dry run's subject, for the audit trail and the list. */
  subject: RunRequest["subject"];
  /** The KooDrive user the dry run resolved and showed: the real run acts for exactly this user. */
  koodriveUserId: string;
  /** The handover recipient the dry run's request named (whoever named it), kept as it was shown. */
  handoverTo?: HandoverRequest;
}

/**
 * Starts (or, for a repeated Idempotency-Key, finds) the run for `input` as `source`, with the verified
 * actor of `c` as who started it. Throws ApiError for bad input; nothing is started then. With `confirms`,
 * the run is the confirmation of a dry run: it is for the user that dry run resolved (never resolved again:
 * the identity map may have changed since the plan was shown), and its event id is the dry run's, so a
 * second confirmation (another operator, another credential, a double submit) finds the first run.
 */
export async function startOffboarding(
  c: Context<AppEnv>,
  input: unknown,
  source: AdminSource,
  idempotencyKey?: string,
  confirms?: ConfirmedPlan,
): Promise<OffboardingStarted> {
  const parsed = OffboardingBody.safeParse(input);
  if (!parsed.success)
    throw new ApiError(
      "invalid_body",
      "the request body is invalid",
      parsed.error.issues.map((i) => ({
        path: i.path.map(String).join(".") || "(root)",
        message: i.message,
      })),
    );
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey))
    throw new ApiError(
      "bad_request",
      "Idempotency-Key must be 1 to 128 of A-Z a-z 0-9 . _ : - (e.g. a UUID)",
    );
  const body = parsed.data;
  const { actions, handoverTo } = runActions(c, body, confirms);
  const who = actorOf(c);
  // A key is the caller's: the same key from someone else is another request (no run is shared by accident).
  const eventId = confirms
    ? `confirm:${confirms.dryRunId}`
    : idempotencyKey
      ? `${who.actor}:${idempotencyKey}`
      : crypto.randomUUID();
  const request = await newRunRequest({
    source,
    eventId,
    subject: confirms
      ? { ...confirms.subject, koodriveUserId: confirms.koodriveUserId }
      : await subjectFor(c.env.AUDIT, body.person),
    reason: body.reason,
    ...(body.effectiveAt ? { effectiveAt: body.effectiveAt } : {}),
    dryRun: body.dryRun,
    scopes: [...new Set<Scope>(body.scopes ?? ALL_SCOPES)].sort(),
    actions,
    ...(handoverTo ? { handoverTo } : {}),
    requestId: c.var.requestId,
    actor: who.actor,
    verifiedBy: c.var.principal.verifiedBy,
  });
  if (idempotencyKey && !confirms) {
    // The same key for a different request is the caller's mistake, not a duplicate (the draft: 422).
    const earlier = await c.env.RUNS.getByName(request.runId).getMeta();
    if (earlier && !sameRequest(earlier.request, request, body.person))
      throw new ApiError(
        "invalid_body",
        `Idempotency-Key ${idempotencyKey} was used for a different request (run ${request.runId})`,
      );
  }
  const started = await startRun(c.env, c.var.audit, request);
  if (idempotencyKey && !confirms && started.duplicate) {
    // Two calls with one key can race past the check above; the ledger decided which came first, and the
    // other is refused if it asked for something else.
    const first = await c.env.RUNS.getByName(request.runId).getMeta();
    if (first && !sameRequest(first.request, request, body.person))
      throw new ApiError(
        "invalid_body",
        `Idempotency-Key ${idempotencyKey} was used for a different request (run ${request.runId})`,
      );
  }
  return {
    runId: started.runId,
    status: started.status,
    url: new URL(`/runs/${started.runId}`, c.req.url).toString(),
    ...(started.duplicate ? { duplicate: true as const } : {}),
  };
}

/**
 * The actions and handover recipient of a request (issue 10): what it asked for within the policy, all of
 * the policy's when it asked for nothing. Refused (422, nothing started) when it asks beyond the policy,
 * names a recipient without the handover action, or names the person themselves as the recipient. A
 * confirmation keeps the recipient of the dry run it confirms.
 */
function runActions(
  c: Context<AppEnv>,
  body: z.output<typeof OffboardingBody>,
  confirms: ConfirmedPlan | undefined,
): { actions: ActionName[]; handoverTo: HandoverRequest | undefined } {
  const asked = actionsFor(body.actions, c.var.config.OFFBOARDING_ACTIONS);
  if (!asked.ok)
    throw new ApiError("invalid_body", `nothing was started: ${asked.message}`, [
      { path: "actions", message: asked.message },
    ]);
  const handoverTo = confirms
    ? confirms.handoverTo
    : body.handoverTo !== undefined
      ? ({ person: personRefOf(body.handoverTo), from: "request" } as const)
      : undefined;
  if (handoverTo && !asked.actions.includes("handover"))
    throw new ApiError("invalid_body", "nothing was started: handoverTo needs the handover action", [
      {
        path: "handoverTo",
        message: `the run's actions (${asked.actions.join(", ")}) do not include handover`,
      },
    ]);
  if (body.handoverTo !== undefined && !confirms && samePersonText(body.handoverTo, body.person))
    throw new ApiError("invalid_body", "nothing was started: handoverTo is the person themselves", [
      { path: "handoverTo", message: "a handover never goes to the leaver: name someone else" },
    ]);
  return { actions: asked.actions, handoverTo };
}

/**
 * Whether an earlier run is for the same request: the same person as typed (the identity map may have
 * learnt more about them since), dry run, scopes, reason, effectiveAt, the run's actions (as the policy
 * gave them) and the handover recipient.
 */
function sameRequest(earlier: RunRequest, now: RunRequest, person: string): boolean {
  const s = earlier.subject;
  const samePerson = KOODRIVE_ID.test(person)
    ? s.koodriveUserId === person
    : person.includes("@")
      ? s.email === person.toLowerCase()
      : s.hrId === person;
  const pick = (r: RunRequest) =>
    JSON.stringify([
      r.dryRun,
      r.scopes,
      r.reason ?? null,
      r.effectiveAt ?? null,
      actionsOf(r),
      r.handoverTo?.person ?? null,
    ]);
  return samePerson && pick(earlier) === pick(now);
}

/** `POST /offboardings` (role operator, guarded in routes.ts): 202 with the run, its status and URL. */
export function offboardingRoutes() {
  const app = new Hono<AppEnv>();
  app.post("/", limitBody(MAX_OFFBOARDING_BODY_BYTES), validate("json", OffboardingBody), async (c) => {
    const started = await startOffboarding(c, c.req.valid("json"), "api", c.req.header("idempotency-key"));
    c.header("location", started.url);
    return c.json(started, 202);
  });
  return app;
}
