/**
 * The actions of a run (issue 10): what an offboarding does to the leaver's KooDrive account, in this order.
 * - `revoke_shares`: cancel every share they created, verify (the run of 0.1-0.3);
 * - `handover`: hand their files to a recipient (a KooDrive "transfer and delete" task);
 * - `block_login`: disable the user so they cannot sign in (`PUT /users/{id} {"status": 1}`);
 * - `watch`: list their shares again later (`WATCH_AFTER`) and cancel whatever appeared (late shares).
 *
 * Which ones run is policy (`OFFBOARDING_ACTIONS`, default `revoke_shares` alone); a request may ask for
 * fewer, never more.
 */
export const ACTIONS = ["revoke_shares", "handover", "block_login", "watch"] as const;
export type ActionName = (typeof ACTIONS)[number];

/** What a run accepted before issue 10 does: revoke its shares, nothing else. */
export const DEFAULT_ACTIONS: readonly ActionName[] = ["revoke_shares"];

/**
 * Where one action stands in a run.
 * - pending: not started yet; running: under way (a handover task polled, a watch between checks);
 * - completed: done and confirmed (shares verified gone, the task succeeded, the user disabled, every watch
 *   check done with nothing left active);
 * - failed: KooDrive refused or the action gave up (the detail says why; the run is `partial`, retryable);
 * - needs_recipient: a handover with nobody to hand to (retry with `handoverTo`);
 * - held: a hold on the person stopped it; watching: the watch waits for its next check;
 * - dry_run: what a dry run would do (the detail says it).
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
  checkedAt: string;
}

/**
 * Parses a list of action names (policy or request): lower-cased, trimmed, deduplicated and put in the
 * order they run. Unknown names are reported, never dropped silently.
 */
export function parseActions(
  value: string | readonly string[],
): { ok: true; actions: ActionName[] } | { ok: false; unknown: string[] } {
  const items = (typeof value === "string" ? value.split(",") : [...value])
    .map((a) => a.trim().toLowerCase())
    .filter((a) => a !== "");
  const unknown = items.filter((a) => !(ACTIONS as readonly string[]).includes(a));
  if (unknown.length > 0) return { ok: false, unknown };
  return { ok: true, actions: ACTIONS.filter((a) => items.includes(a)) };
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

/**
 * `WATCH_AFTER`: when the watch lists the leaver's shares again, as delays after the run's main actions
 * (`30m`, `1h`, `24h`, `7d`); ascending, at most 10, each at most 30 days.
 */
export function parseWatchAfter(value: string): { ok: true; delaysMs: number[] } | { ok: false } {
  const unit: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const delays: number[] = [];
  for (const part of value.split(",").map((p) => p.trim())) {
    const m = /^(\d{1,4})([smhd])$/.exec(part);
    if (!m) return { ok: false };
    const ms = Number(m[1]) * (unit[m[2] as string] as number);
    if (ms <= 0 || ms > 30 * 86_400_000) return { ok: false };
    if (delays.length > 0 && ms <= (delays[delays.length - 1] as number)) return { ok: false };
    delays.push(ms);
  }
  return delays.length > 0 && delays.length <= 10 ? { ok: true, delaysMs: delays } : { ok: false };
}
