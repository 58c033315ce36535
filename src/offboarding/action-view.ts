import {
  ACTIONS,
  type ActionName,
  type ActionOutcome,
  type ActionState,
  actionsOf,
  type Evidence,
  type HandoverTask,
  type Recipient,
  type RecipientSource,
  TASK_STATUS,
} from "./actions";
import { type Counts, type RunMeta, TERMINAL } from "./types";

/**
 * A run's actions and evidence as every surface shows them (issue 10: `GET /runs/:id`, the export, chat
 * `status` and the result post, the console): one shape, derived here once, so each says the same thing.
 */

/** One action of a run as shown: its recorded outcome (without the handover's internal `intent`). */
export interface ActionView {
  action: ActionName;
  state: ActionState;
  detail: string;
  updatedAt: string;
  recipient?: Recipient;
  tasks?: HandoverTask[];
  blockedAt?: string;
  schedule?: string[];
  checksDone?: number;
  /** watch: the next check (`schedule[checksDone]`) while checks remain and the watch was not ended. */
  nextCheck?: string;
  lateShares?: number;
  endedBy?: string;
}

/** KooDrive's audit log's view of the run's cancels, with the sentence every surface prints. */
export interface EvidenceView extends Evidence {
  summary: string;
}

/** Shares not settled: the counts that make `revoke_shares` fail (the workflow's `open`). */
const openShares = (c: Counts) => c.failed + c.still_active + c.planned + c.in_flight;

/** The counts that matter, as the run's one line says them (`3 cancelled, 1 already gone`). */
export function countsText(counts: Counts): string {
  const n = (k: keyof Counts) => counts[k] ?? 0;
  return [
    `${n("cancelled")} cancelled`,
    n("already_gone") ? `${n("already_gone")} already gone` : "",
    n("skipped_hold") + n("skipped_scope") ? `${n("skipped_hold") + n("skipped_scope")} skipped` : "",
    n("failed") + n("still_active") ? `${n("failed") + n("still_active")} still active or failed` : "",
    n("planned") ? `${n("planned")} planned` : "",
  ]
    .filter(Boolean)
    .join(", ");
}

/**
 * `revoke_shares` when the run recorded no outcome for it (every run before 0.4, which did nothing else):
 * its state follows from the run's status and the share counts, as the run's own status did.
 */
function derivedRevoke(meta: RunMeta, counts: Counts): ActionView {
  let state: ActionState;
  switch (meta.status) {
    case "dry_run":
      state = "dry_run";
      break;
    case "accepted":
    case "needs_confirmation":
    case "awaiting_approval":
      state = "pending";
      break;
    case "rejected":
    case "expired":
    case "withdrawn":
      state = "not_run";
      break;
    case "running":
      state = "running";
      break;
    case "completed":
      state = "completed";
      break;
    // A later action may be what made the run partial, or the watch what keeps it open: the counts say
    // whether the shares themselves are done.
    case "partial":
    case "watching":
      state = openShares(counts) > 0 ? "failed" : "completed";
      break;
    case "failed":
    case "unresolved":
      state = "failed";
      break;
  }
  const shown = countsText(counts);
  const why = state === "failed" || state === "pending" ? meta.detail : undefined;
  return {
    action: "revoke_shares",
    state,
    detail: why && why !== shown ? `${shown}; ${why}` : shown,
    updatedAt: meta.updatedAt,
  };
}

function viewOf(action: ActionName, o: ActionOutcome): ActionView {
  const view: ActionView = { action, state: o.state, detail: o.detail, updatedAt: o.updatedAt };
  if (o.recipient) view.recipient = o.recipient;
  if (o.tasks) view.tasks = o.tasks;
  if (o.blockedAt) view.blockedAt = o.blockedAt;
  if (o.schedule) view.schedule = o.schedule;
  if (o.checksDone !== undefined) view.checksDone = o.checksDone;
  const next = o.schedule?.[o.checksDone ?? 0];
  if (next && !o.endedBy && (o.state === "watching" || o.state === "running" || o.state === "pending"))
    view.nextCheck = next;
  if (o.lateShares !== undefined) view.lateShares = o.lateShares;
  if (o.endedBy) view.endedBy = o.endedBy;
  return view;
}

/**
 * The run's requested actions in the order they run (ACTIONS), each with its outcome. An action without
 * a recorded outcome is `revoke_shares` derived from the run (runs before 0.4), or one not started yet.
 */
export function actionViews(meta: RunMeta, counts: Counts): ActionView[] {
  const asked = actionsOf(meta.request);
  return ACTIONS.filter((a) => asked.includes(a)).map((action) => {
    const recorded = meta.actions?.[action];
    if (recorded) return viewOf(action, recorded);
    if (action === "revoke_shares") return derivedRevoke(meta, counts);
    return {
      action,
      state: "pending",
      detail: TERMINAL.has(meta.status) ? "not run: the run ended before it" : "not started yet",
      updatedAt: meta.updatedAt,
    };
  });
}

/**
 * The evidence sentence: "KooDrive's audit log shows N of M cancellations", with "(first K entries read)"
 * when EVIDENCE_MAX_PAGES stopped the read. 0 is said as it is: the log's operation names are undocumented
 * (koodrive-api.md "Handover, blocking and evidence"), so no match is a fact to report, not an error.
 */
export function evidenceText(e: Evidence): string {
  const partial = e.complete ? "" : ` (first ${e.entriesRead} entries read)`;
  return `KooDrive's audit log shows ${e.found} of ${e.of} cancellation${e.of === 1 ? "" : "s"}${partial}`;
}

export function evidenceView(e: Evidence | undefined): EvidenceView | null {
  return e ? { ...e, summary: evidenceText(e) } : null;
}

/** How a handover recipient was found, as a person reads it. */
export const FOUND_BY: Record<RecipientSource, string> = {
  event: "named by the event",
  scim_manager: "the SCIM manager",
  request: "named by the request",
  koodrive: "KooDrive's configured recipient",
  default: "HANDOVER_DEFAULT_USER_ID",
};

/** KooDrive's task status number as a word (TASK_STATUS; an unknown number is shown as it is). */
export function taskStatusName(status: number | undefined): string {
  if (status === undefined) return "unknown";
  const name = Object.entries(TASK_STATUS).find(([, n]) => n === status)?.[0];
  return name ?? String(status);
}

/** `2026-12-01 10:00 UTC`: a watch check is scheduled to the minute. */
export function minuteUtc(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** The recipient in words: `Ann Lee (KooDrive's configured recipient)`. */
export function recipientText(r: Recipient): string {
  return `${r.name ?? `KooDrive user ${r.koodriveUserId}`} (${FOUND_BY[r.foundBy]})`;
}

/** Watch states whose line says enough with the schedule and the late shares (no detail needed). */
const WATCH_QUIET: ReadonlySet<ActionState> = new Set(["watching", "running", "completed"]);

/**
 * One action in one line (chat, the CSV's `summary`): `handover: completed, files handed to Ann Lee
 * (KooDrive's configured recipient)`, `block_login: completed`, `watch: watching, next check 2026-12-01
 * 10:00 UTC, 0 late shares`. Structured fields first; the recorded detail where they say nothing.
 */
export function actionLine(v: ActionView): string {
  const parts: string[] = [];
  const lastTask = v.tasks?.at(-1);
  switch (v.action) {
    case "handover":
      if (v.state === "completed" && v.recipient) parts.push(`files handed to ${recipientText(v.recipient)}`);
      else {
        if (v.recipient) parts.push(`to ${recipientText(v.recipient)}`);
        if (lastTask)
          parts.push(
            `task ${lastTask.taskId} ${taskStatusName(lastTask.status)}${lastTask.resultCode ? ` (result ${lastTask.resultCode})` : ""}`,
          );
        parts.push(v.detail);
      }
      break;
    case "block_login":
      if (v.state !== "completed") parts.push(v.detail);
      break;
    case "watch":
      if (!WATCH_QUIET.has(v.state)) parts.push(v.detail);
      if (v.endedBy) parts.push(`ended by run ${v.endedBy}`);
      else if (v.nextCheck) parts.push(`next check ${minuteUtc(v.nextCheck)}`);
      else if (v.schedule && v.checksDone !== undefined)
        parts.push(`${v.checksDone} of ${v.schedule.length} checks done`);
      if (v.lateShares !== undefined)
        parts.push(`${v.lateShares} late share${v.lateShares === 1 ? "" : "s"}`);
      if (parts.length === 0) parts.push(v.detail);
      break;
    default:
      parts.push(v.detail);
  }
  const tail = parts.filter(Boolean).join(", ");
  return `${v.action}: ${v.state}${tail ? `, ${tail}` : ""}`;
}
