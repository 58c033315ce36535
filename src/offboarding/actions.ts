import { ACTIONS, type ActionName, DEFAULT_ACTIONS, parseActions } from "../policy";

export { ACTIONS, type ActionName, DEFAULT_ACTIONS, parseActions, parseWatchAfter } from "../policy";

/**
 * Where one action stands in a run.
 * - pending: not started yet; running: under way (a handover task polled, a watch between checks);
 * - completed: done and confirmed (shares verified gone, the task succeeded, the user disabled, every watch
 *   check done with nothing left active);
 * - failed: KooDrive refused or the action gave up (the detail says why; the run is `partial`, retryable);
 * - needs_recipient: a handover with nobody to hand to (retry with `handoverTo`);
 * - held: a hold on the person stopped it; watching: the watch waits for its next check;
 * - dry_run: what a dry run would do (the detail says it);
 * - not_run: the run ended before the action, with nothing done: rejected, expired or cancelled (issue 11).
 */
export const ACTION_STATES = [
  "pending",
  "running",
  "completed",
  "failed",
  "needs_recipient",
  "held",
  "watching",
  "dry_run",
  "not_run",
] as const;
export type ActionState = (typeof ACTION_STATES)[number];

/** A person named by a request (an HR manager, an admin's `handoverTo`): resolved like a leaver. */
export interface PersonRef {
  email?: string;
  hrId?: string;
  koodriveUserId?: string;
  name?: string;
}

/**
 * Where a handover recipient came from, in the order they are tried: the event (HR `data.employee.manager`),
 * SCIM's enterprise-extension manager, an admin request (`handoverTo` of `POST /offboardings` or of a
 * retry), KooDrive's configured recipient (`GET /task/dstUserInfo/{src}`), `HANDOVER_DEFAULT_USER_ID`.
 */
export const RECIPIENT_SOURCES = ["event", "scim_manager", "request", "koodrive", "default"] as const;
export type RecipientSource = (typeof RECIPIENT_SOURCES)[number];

/** Who asked for the handover recipient, as the request carries it (before resolving). */
export interface HandoverRequest {
  person: PersonRef;
  from: Extract<RecipientSource, "event" | "scim_manager" | "request">;
}

export interface Recipient {
  koodriveUserId: string;
  name?: string | undefined;
  foundBy: RecipientSource;
}

/** KooDrive's task states [doc: task detail]: 0 NEW, 1 EXECUTING, 2 SUCCESS, 3 FAILED. */
export const TASK_STATUS = { NEW: 0, EXECUTING: 1, SUCCESS: 2, FAILED: 3 } as const;

/** One handover task a run created (or found after a lost create answer). */
export interface HandoverTask {
  taskId: string;
  recipient: string;
  status?: number;
  resultCode?: string;
  createdAt: string;
  settledAt?: string;
  /** The create's answer was lost and the task was found in `GET /task/list`. */
  foundInList?: boolean;
}

/** The outcome of one action of a run (RunMeta.actions). */
export interface ActionOutcome {
  state: ActionState;
  detail: string;
  updatedAt: string;
  /** handover: who receives the files, and how they were found. */
  recipient?: Recipient;
  /** handover: the tasks this run made, oldest first (a retry after a failed task makes another). */
  tasks?: HandoverTask[];
  /** handover: a create was sent for this recipient at this moment and its answer is not recorded yet. */
  intent?: { recipient: string; at: string } | undefined;
  /** block_login: when KooDrive confirmed the user disabled (or answered "not found" after a handover). */
  blockedAt?: string;
  /** watch: the checks' moments, how many are done, and the late shares found (and cancelled). */
  schedule?: string[];
  checksDone?: number;
  lateShares?: number;
  /** watch: ended early by a newer run for the same person. */
  endedBy?: string;
}

export type ActionOutcomes = Partial<Record<ActionName, ActionOutcome>>;

/** KooDrive's own audit log, read after the cancels (evidence for the run report). */
export interface Evidence {
  /** Cancelled shares of this run that have an entry (matched by `resource`) in the window. */
  found: number;
  /** Shares this run cancelled. */
  of: number;
  from: string;
  to: string;
  /** Log entries read; `complete` is false when EVIDENCE_MAX_PAGES stopped the read early. */
  entriesRead: number;
  complete: boolean;
  /** Set when the read narrowed to this operator (the leaver's KooDrive name) found every cancel. */
  operatorName?: string;
  checkedAt: string;
}

/**
 * The actions a request gets: what it asked for (all of the policy when it asked for nothing), which must
 * be within the policy. Asking for more than the policy allows is refused (the caller answers 422), never
 * quietly trimmed: an HR system that asked for a handover must learn it will not happen.
 */
export function actionsFor(
  asked: string | readonly string[] | undefined,
  policy: readonly ActionName[],
): { ok: true; actions: ActionName[] } | { ok: false; message: string } {
  if (asked === undefined) return { ok: true, actions: [...policy] };
  const parsed = parseActions(asked);
  if (!parsed.ok)
    return {
      ok: false,
      message: `unknown action(s): ${parsed.unknown.join(", ")} (known: ${ACTIONS.join(", ")})`,
    };
  if (parsed.actions.length === 0) return { ok: false, message: "no action asked for" };
  const beyond = parsed.actions.filter((a) => !policy.includes(a));
  if (beyond.length > 0)
    return {
      ok: false,
      message: `action(s) not allowed by this deployment's policy (OFFBOARDING_ACTIONS=${policy.join(",")}): ${beyond.join(", ")}`,
    };
  return { ok: true, actions: parsed.actions };
}

/** The actions of a run (a run accepted before issue 10 has none recorded: it revokes shares). */
export function actionsOf(request: { actions?: readonly ActionName[] }): readonly ActionName[] {
  return request.actions && request.actions.length > 0 ? request.actions : DEFAULT_ACTIONS;
}
