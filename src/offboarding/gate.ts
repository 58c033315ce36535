import {
  type ApprovalDecision,
  type IdentifiedDecider,
  identityOf,
  type RefusalCode,
  type Verdict,
} from "./approval";
import type { RunMeta } from "./types";

/**
 * The approval gate's rules as pure functions of the run's meta (issue 11): the ledger applies them in one
 * Durable Object call, so a decision, a timeout, a cancel and a reschedule are serialised per run.
 */

export type Refusal = { code: RefusalCode; refused: string };

/** Statuses waiting for a decision: `needs_confirmation` is how version 0.4 waited for a name match. */
const DECIDABLE = new Set(["awaiting_approval", "needs_confirmation"]);

/**
 * An operator's decision on a run waiting for one. Four eyes: never the requester, under any of the
 * decider's identities (a chat user linked to their e-mail is one person: approval.ts `identitiesOf`).
 * Once: a second decision is refused. In time: a decision after the deadline is refused (the run ends
 * `expired`).
 */
export function decide(
  meta: RunMeta,
  verdict: Verdict,
  decider: IdentifiedDecider,
  opts: { reason?: string; koodriveUserId?: string; planShares: number; planDigest: string },
  now: number,
): { next: RunMeta; decision: ApprovalDecision } | Refusal {
  if (meta.decision)
    return {
      code: "conflict",
      refused: `already ${meta.decision.verdict} by ${meta.decision.by} at ${meta.decision.at}`,
    };
  const gate = meta.approval;
  if (!DECIDABLE.has(meta.status) || !gate)
    return {
      code: "conflict",
      refused: `run is ${meta.status}; only a run awaiting approval can be decided`,
    };
  if (Date.parse(gate.deadline) <= now)
    return { code: "conflict", refused: `the approval window closed at ${gate.deadline}` };
  if (decider.identities.includes(gate.requester)) {
    // Refused through a link: say which, or the decider would not know why (another identity asked).
    const own = identityOf(decider.actor);
    const linked =
      own === gate.requester
        ? ""
        : ` (${own} and ${gate.requester} are one person in SLACK_OPERATORS / TEAMS_OPERATORS)`;
    return {
      code: "forbidden",
      refused: `four eyes: the person who asked for this run cannot approve or reject it${linked}`,
    };
  }
  const candidate = gate.candidate;
  if (verdict === "approved" && candidate && opts.koodriveUserId !== candidate.koodriveUserId)
    return {
      code: "conflict",
      refused: `the run waits for confirmation of the name match KooDrive user ${candidate.koodriveUserId}: approve naming that id (koodriveUserId)${opts.koodriveUserId ? `, not ${opts.koodriveUserId}` : ""}`,
    };
  const at = new Date(now).toISOString();
  const decision: ApprovalDecision = {
    verdict,
    by: decider.actor,
    via: decider.via,
    at,
    ...(opts.reason ? { reason: opts.reason } : {}),
    planShares: opts.planShares,
    planDigest: opts.planDigest,
  };
  // The wait is over either way: the sweeper watches the run again (a run that missed its wake-up is
  // restarted and reads the decision), and the gate's deadline no longer applies.
  const { waitUntil: _w, confirmDeadline: _d, ...rest } = meta;
  const next: RunMeta = {
    ...rest,
    decision,
    status: verdict === "approved" ? "running" : meta.status,
    detail:
      verdict === "approved"
        ? `approved by ${decider.actor}`
        : `rejected by ${decider.actor}${opts.reason ? `: ${opts.reason}` : ""}`,
    updatedAt: at,
  };
  if (verdict === "approved" && candidate) {
    next.koodriveUserId = candidate.koodriveUserId;
    next.resolvedBy = "name_match";
    next.confirmedBy = decider.actor;
    next.confirmedAt = at;
  }
  return { next, decision };
}

/**
 * Whether the run waits for its `effectiveAt`: sleeping on it (`scheduled`), or accepted with the moment
 * still ahead and not yet at its schedule step. Such a run cannot act before the moment: its schedule step
 * (the ledger's `scheduleStep`) lets it go only once the moment has come, and reads a withdrawal first.
 */
export function waitsForTime(meta: RunMeta, now: number): boolean {
  if (meta.scheduled) return true;
  const at = meta.request.effectiveAt ? Date.parse(meta.request.effectiveAt) : 0;
  return (meta.status === "accepted" || meta.status === "running") && !meta.request.dryRun && at > now;
}

/**
 * Whether the run waits for a decision: at its gate, or held by its policy (its source needs approval, or
 * the layoff guard held it) and still planning, before the gate opens. Neither can act before an approval:
 * the gate step reads a withdrawal first.
 */
export function waitsForDecision(meta: RunMeta): boolean {
  if (meta.decision) return false;
  if (DECIDABLE.has(meta.status)) return true;
  const policy = meta.request.approvalPolicy;
  const held = Boolean(policy?.source || policy?.burst);
  return held && !meta.request.dryRun && (meta.status === "accepted" || meta.status === "running");
}

/**
 * Cancels a run that has not acted: waiting for its `effectiveAt` or for a decision. A run approved, acting
 * or finished is refused.
 */
export function cancel(
  meta: RunMeta,
  reason: string,
  actor: string,
  now: number,
): { next: RunMeta } | Refusal {
  if (meta.status === "withdrawn")
    return { code: "conflict", refused: `already cancelled by ${meta.withdrawnBy?.by ?? "someone"}` };
  const waitingForDecision = waitsForDecision(meta);
  if (!waitsForTime(meta, now) && !waitingForDecision)
    return {
      code: "conflict",
      refused: `run is ${meta.status}${meta.decision ? ` (${meta.decision.verdict})` : ""}; only a run waiting for its effectiveAt or for approval can be cancelled`,
    };
  const at = new Date(now).toISOString();
  const { waitUntil: _w, confirmDeadline: _d, ...rest } = meta;
  return {
    next: {
      ...rest,
      status: "withdrawn",
      scheduled: false,
      withdrawnBy: { by: actor, at, reason },
      detail: `cancelled by ${actor}: ${reason}; nothing was done`,
      updatedAt: at,
      finishedAt: at,
    },
  };
}

/** Moves a run waiting for its `effectiveAt` to another moment (in the future). */
export function reschedule(
  meta: RunMeta,
  effectiveAt: string,
  actor: string,
  now: number,
): { next: RunMeta } | Refusal {
  if (!waitsForTime(meta, now) || meta.status === "withdrawn")
    return {
      code: "conflict",
      refused: `run is ${meta.status}; only a run waiting for its effectiveAt can be rescheduled`,
    };
  const at = new Date(now).toISOString();
  return {
    next: {
      ...meta,
      request: { ...meta.request, effectiveAt },
      waitUntil: effectiveAt,
      detail: `rescheduled by ${actor} to ${effectiveAt}`,
      updatedAt: at,
    },
  };
}

/**
 * A run version 0.4 left waiting for a name-match confirmation (`needs_confirmation`, no gate): seen as a
 * name-match approval with its own deadline, so the same decision applies to it.
 */
export function legacyGate(meta: RunMeta): RunMeta {
  if (meta.status !== "needs_confirmation" || !meta.candidate || !meta.confirmDeadline) return meta;
  return {
    ...meta,
    approval: {
      reasons: ["name_match"],
      detail: "a name match waits for an operator's confirmation",
      requester: identityOf(meta.request.actor),
      source: meta.request.source,
      deadline: meta.confirmDeadline,
      planShares: 0,
      planDigest: "",
      candidate: meta.candidate,
      since: meta.updatedAt,
    },
  };
}
