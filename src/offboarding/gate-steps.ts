import type { WorkflowStep } from "cloudflare:workers";
import type { AuditStore } from "../audit/store";
import {
  type ApprovalDecision,
  type ApprovalGate,
  type ApprovalReason,
  DECISION_EVENT,
  identityOf,
} from "./approval";
import type { RunLedger } from "./ledger";
import { auditState, isEngineAbort, STEP } from "./steps";
import type { RunMeta, RunStatus } from "./types";

/**
 * The waits before a run acts (issue 11), as durable steps over the run's ledger: its `effectiveAt` (which
 * an operator may move or cancel) and the approval gate (which the name-match confirmation is one kind of).
 * The ledger is the truth; a Workflow event (DECISION_EVENT) only wakes the run to read it.
 */

/** How long a Workflow waits at most in one step [Workflows limits: sleeps and waits up to 365 days]. */
export const MAX_WAIT_MS = 365 * 86_400_000;

/** Without an approval policy (a run accepted before 0.5), a name match waits this long (0.2 to 0.4: 72 h). */
const LEGACY_TIMEOUT_HOURS = 72;

export type GateOutcome = { ok: true } | { ok: false; status: RunStatus; detail: string };

const REASON_TEXT: Record<ApprovalReason, (m: RunMeta, shares: number) => string> = {
  source: (m) => `runs from ${m.request.source} need approval (APPROVAL_REQUIRED)`,
  above_shares: (m, shares) =>
    `the plan holds ${shares} shares, more than ${m.request.approvalPolicy?.aboveShares} (APPROVAL_ABOVE_SHARES)`,
  burst: (m) =>
    `the layoff guard held it: automated run number ${m.request.approvalPolicy?.burst} within 10 minutes (BURST_APPROVAL_THRESHOLD)`,
  name_match: (m) =>
    `a name match (KooDrive user ${m.candidate?.koodriveUserId ?? m.koodriveUserId}) needs an operator to confirm it`,
};

export class GateSteps {
  constructor(
    private readonly step: WorkflowStep,
    private readonly ledger: DurableObjectStub<RunLedger>,
    private readonly audit: AuditStore,
  ) {}

  /**
   * Waits for the run's `effectiveAt`, which may move (`POST /runs/:id/reschedule`) or be cancelled
   * (`POST /runs/:id/cancel`, a reactivation) meanwhile. True when the moment has come, false when cancelled.
   * Each wake-up is a new pair of steps, so a replay takes the same path.
   */
  async schedule(): Promise<boolean> {
    for (let i = 0; ; i++) {
      const next = await this.step.do(`schedule ${i}`, STEP, async () => {
        const before = await this.ledger.getMeta();
        const r = await this.ledger.scheduleStep(MAX_WAIT_MS);
        if ("waitUntil" in r && !before?.scheduled)
          await auditState(this.audit, await this.meta(), `waiting until ${r.waitUntil}`);
        return r;
      });
      if ("cancelled" in next) return false;
      if ("go" in next) return true;
      await this.wake(`wait for effectiveAt ${i}`, next.remainingMs);
    }
  }

  /**
   * The approval gate: when the run's policy asks for it (or a name match needs confirming), the run, planned
   * already, waits in `awaiting_approval` for a decision until its deadline. Approved: it goes on with the
   * approved plan. Rejected, cancelled or expired: it ends so, with nothing done.
   */
  async approval(
    nameMatch: { userId: string; name?: string | undefined } | undefined,
    onOpened?: () => Promise<void>,
  ): Promise<GateOutcome> {
    const wait = await this.step.do("approval gate", STEP, async () => {
      const m = await this.meta();
      if (m.status === "withdrawn" || m.decision) return { remainingMs: 0, opened: false };
      const plan = await this.ledger.planDigest();
      const policy = m.request.approvalPolicy;
      const reasons: ApprovalReason[] = [];
      if (nameMatch) reasons.push("name_match");
      if (policy?.source) reasons.push("source");
      if (m.request.approvalPolicy?.burst) reasons.push("burst");
      if (policy?.aboveShares && plan.shares > policy.aboveShares) reasons.push("above_shares");
      if (reasons.length === 0 && !m.approval) return null;
      const hours = policy?.timeoutHours ?? LEGACY_TIMEOUT_HOURS;
      const shown: RunMeta = nameMatch
        ? { ...m, candidate: { koodriveUserId: nameMatch.userId, name: nameMatch.name ?? "" } }
        : m;
      const gate: ApprovalGate = {
        reasons,
        detail: `waiting for approval: ${reasons.map((r) => REASON_TEXT[r](shown, plan.shares)).join("; ")}; the plan cancels ${plan.shares} share(s)`,
        requester: identityOf(m.request.actor),
        source: m.request.source,
        // A name match a 0.4 attempt began waiting for keeps its deadline (an operator's window never restarts).
        deadline:
          m.candidate && nameMatch && m.candidate.koodriveUserId === nameMatch.userId && m.confirmDeadline
            ? m.confirmDeadline
            : new Date(Date.now() + hours * 3_600_000).toISOString(),
        planShares: plan.shares,
        planDigest: plan.digest,
        ...(shown.candidate ? { candidate: shown.candidate } : {}),
        since: new Date().toISOString(),
      };
      const opened = await this.ledger.openApproval(gate);
      if (opened.opened) await auditState(this.audit, opened.meta, gate.detail, undefined, planDetails(gate));
      const deadline = opened.meta.approval?.deadline ?? gate.deadline;
      return { remainingMs: Math.max(1_000, Date.parse(deadline) - Date.now()), opened: opened.opened };
    });
    if (!wait) return { ok: true };
    if (wait.remainingMs > 0) {
      // Told once, when the gate opens (a resumed attempt does not tell again).
      if (onOpened && wait.opened) await onOpened();
      await this.wake("wait for approval", wait.remainingMs);
    }
    type Closed =
      | { decision: ApprovalDecision }
      | { cancelled: true }
      | { expired: true; dropped: number; sent: number };
    const closed: Closed = await this.step.do(
      "approval decided",
      STEP,
      async (): Promise<Closed> => (await this.ledger.closeApproval()) as Closed,
    );
    if ("cancelled" in closed) return { ok: false, status: "withdrawn", detail: await this.detail() };
    if ("decision" in closed) {
      const d = closed.decision;
      if (d.verdict === "approved") {
        await this.step.do("approval recorded", STEP, async () => {
          const m = await this.meta();
          await auditState(this.audit, m, `approved by ${d.by}`, undefined, decisionDetails(d));
        });
        return { ok: true };
      }
      return {
        ok: false,
        status: "rejected",
        detail: `rejected by ${d.by} at ${d.at}${d.reason ? `: ${d.reason}` : ""}; nothing was done`,
      };
    }
    // The run's last word never denies what was done: version 0.1 may have cancelled some already.
    const done =
      closed.sent > 0
        ? `${closed.sent} share(s) had been sent to KooDrive before the run waited (see the run's shares); nothing more was cancelled`
        : "nothing was done";
    const hours = (await this.meta()).request.approvalPolicy?.timeoutHours ?? LEGACY_TIMEOUT_HOURS;
    return { ok: false, status: "expired", detail: `no decision within ${hours} h; ${done}` };
  }

  /** Waits for a wake-up (a decision, a cancel, a reschedule) or the timeout; either way the ledger decides. */
  private async wake(name: string, timeoutMs: number): Promise<void> {
    try {
      await this.step.waitForEvent(name, { type: DECISION_EVENT, timeout: timeoutMs });
    } catch (err) {
      if (isEngineAbort(err)) throw err; // paused or terminated: not an answer
    }
  }

  private async meta(): Promise<RunMeta> {
    const m = await this.ledger.getMeta();
    if (!m) throw new Error("run not found");
    return m;
  }

  private async detail(): Promise<string> {
    return (await this.meta()).detail ?? "cancelled";
  }
}

const planDetails = (g: ApprovalGate) => ({
  reasons: g.reasons.join(","),
  planShares: g.planShares,
  planDigest: g.planDigest,
  deadline: g.deadline,
});

const decisionDetails = (d: { by: string; via: string; planShares: number; planDigest: string }) => ({
  decidedBy: d.by,
  via: d.via,
  planShares: d.planShares,
  planDigest: d.planDigest,
});
