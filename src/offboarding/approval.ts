import type { SourceName } from "../policy";

/**
 * Approvals (issue 11): a run that needs a second person resolves and plans (what a dry run shows), then
 * waits in `awaiting_approval` for a decision. The name-match confirmation (RESOLVE_BY_NAME=confirm) is one
 * kind of approval: same state, same API, same buttons.
 */

/** Why a decision, a cancel or a reschedule was refused: the HTTP status the admin API answers with. */
export type RefusalCode = "not_found" | "conflict" | "forbidden";

/** Why a run waits for approval. */
export const APPROVAL_REASONS = ["source", "above_shares", "burst", "name_match"] as const;
export type ApprovalReason = (typeof APPROVAL_REASONS)[number];

/** The Workflow event a decision (approve, reject, cancel) sends to a waiting run: it only wakes it. */
export const DECISION_EVENT = "approval-decided";

/** Slack Block Kit `action_id`s of the Approve / Reject buttons; the button's `value` is the run id. */
export const APPROVE_ACTION_ID = "koodrive_approve";
export const REJECT_ACTION_ID = "koodrive_reject";

/** What an approver is shown and approves: the plan as it was when the run started waiting. */
export interface ApprovalGate {
  reasons: ApprovalReason[];
  /** The reasons in words, e.g. "runs from slack need approval (APPROVAL_REQUIRED)". */
  detail: string;
  /** The requester's identity (`identityOf(request.actor)`): never the approver. */
  requester: string;
  source: SourceName;
  /** Until when a decision is taken; then the run ends `expired` with nothing cancelled. */
  deadline: string;
  /** Shares the plan would cancel, and a digest of the planned share ids (sorted, SHA-256, hex). */
  planShares: number;
  planDigest: string;
  /** A name match: the KooDrive user the run would act on (the approver names them to approve). */
  candidate?: { koodriveUserId: string; name: string };
  since: string;
}

export type Verdict = "approved" | "rejected";

export interface ApprovalDecision {
  verdict: Verdict;
  /** The approver's actor string (as the audit trail records actors). */
  by: string;
  /** How they were verified: "slack", "teams", or the admin API's verifiedBy (token, cloudflare-access...). */
  via: string;
  at: string;
  reason?: string;
  /** The plan that was approved: its share count and digest when the decision was taken. */
  planShares: number;
  planDigest: string;
}

/** Who decides: their actor string, and how they were verified. Roles are checked by the caller. */
export interface Decider {
  actor: string;
  via: string;
}

/**
 * The identity behind an actor string, for four eyes: chat actors carry a display name that may change
 * (`slack:T1:U2 (Ann)` -> `slack:u2`, the team dropped: see below); every other actor string is an identity.
 */
export function identityOf(actor: string): string {
  const chat = /^((?:slack|teams):[^ ]+)(?: \(.*\))?$/.exec(actor);
  const id = (chat?.[1] ?? actor).toLowerCase();
  // A Slack user id is the person across workspaces (Enterprise Grid, Slack Connect): a click may carry
  // another team id than the command did, or none. `slack:<team>:<user>` -> `slack:<user>`.
  const slack = /^slack:[^:]*:([^:]+)$/.exec(id);
  return slack ? `slack:${slack[1]}` : id;
}
