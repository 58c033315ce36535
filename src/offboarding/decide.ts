import type { Bindings } from "../env";
import type { ApprovalDecision, Decider, Verdict } from "./approval";
import type { RunMeta } from "./types";

/** Why a decision, a cancel or a reschedule was refused: the HTTP status the admin API answers with. */
export type RefusalCode = "not_found" | "conflict" | "forbidden";

export type DecideResult =
  | { ok: true; meta: RunMeta; decision: ApprovalDecision }
  | { ok: false; code: RefusalCode; refused: string };

/**
 * Approves or rejects a run waiting in `awaiting_approval` (issue 11), for the admin API, the console and
 * Slack's buttons alike. Four eyes: the decider must not be the requester (`identityOf`); a second decision,
 * or one after the deadline, is refused (conflict). Every decision and every refusal is audited here, with
 * who, when, and the plan's share count and digest. A name match needs `koodriveUserId` equal to the
 * candidate's to be approved. The decision is recorded in the run's ledger, then the run is woken.
 * The caller checks the decider's role (operator) first.
 */
export async function decideRun(
  _env: Bindings,
  _runId: string,
  _verdict: Verdict,
  _decider: Decider,
  _opts: { reason?: string; koodriveUserId?: string; requestId?: string } = {},
): Promise<DecideResult> {
  throw new Error("decideRun: not implemented yet");
}

export type CancelResult = { ok: true; meta: RunMeta } | { ok: false; code: RefusalCode; refused: string };

/**
 * Cancels a run that has not started acting: waiting for its `effectiveAt` or for approval (issue 11).
 * The run ends `cancelled` with nothing cancelled in KooDrive; audited with the reason. A run already
 * acting, or finished, is refused (conflict). Used by `POST /runs/:id/cancel` and by a reactivation
 * (Okta `user.lifecycle.reactivate` / `unsuspend`, SCIM `active: true`) of the same person.
 */
export async function cancelRun(
  _env: Bindings,
  _runId: string,
  _reason: string,
  _actor: string,
  _requestId?: string,
): Promise<CancelResult> {
  throw new Error("cancelRun: not implemented yet");
}

/**
 * The runs of one person that are waiting (for `effectiveAt` or approval) and would be cancelled by
 * `cancelRun`: looked up in the runs index by KooDrive user id, e-mail or HR id.
 */
export async function waitingRunsOf(
  _env: Bindings,
  _person: { koodriveUserId?: string; email?: string; hrId?: string },
): Promise<string[]> {
  throw new Error("waitingRunsOf: not implemented yet");
}
