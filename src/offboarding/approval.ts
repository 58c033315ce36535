import type { ChatOperators } from "../env";
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

/** A decider with every identity of their person (`identitiesOf`, with the links configured now). */
export interface IdentifiedDecider extends Decider {
  identities: string[];
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

/**
 * Chat identities linked to a person's e-mail by configuration (`<id>=<e-mail>` in SLACK_OPERATORS and
 * TEAMS_OPERATORS): `slack:u2cerlkja` -> `ada@example.com`. Slack and Teams send no e-mail with a command or
 * a click, and this Worker has no Slack API token to look one up, so the setting is the only link.
 */
export function chatLinks(config: {
  SLACK_OPERATORS: ChatOperators;
  TEAMS_OPERATORS: ChatOperators;
}): Map<string, string> {
  const links = new Map<string, string>();
  for (const [id, email] of config.SLACK_OPERATORS.emails) links.set(identityOf(`slack:${id}`), email);
  for (const [id, email] of config.TEAMS_OPERATORS.emails) links.set(identityOf(`teams:${id}`), email);
  return links;
}

/** The person behind an actor string: the e-mail its chat identity is linked to, else its own identity. */
export function personOf(actor: string, links: ReadonlyMap<string, string>): string {
  const own = identityOf(actor);
  return links.get(own) ?? own;
}

/**
 * Every identity of the person behind an actor string (or a stored identity), for four eyes: their own
 * (`identityOf`), the e-mail a chat identity is linked to, and every chat identity linked to that e-mail.
 * `ada@example.com` linked to Slack's U2CERLKJA: `[ada@example.com, slack:u2cerlkja]` from either side.
 * Taken from the configuration when a decision is made, so a run requested before the link existed (its
 * requester stored as `slack:u2cerlkja`) is refused to the same person too.
 */
export function identitiesOf(actor: string, links: ReadonlyMap<string, string>): string[] {
  const person = personOf(actor, links);
  const all = new Set([identityOf(actor), person]);
  for (const [chat, email] of links) if (email === person) all.add(chat);
  return [...all];
}
