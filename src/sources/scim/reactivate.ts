import type { AuditStore } from "../../audit/store";
import type { Bindings } from "../../env";
import { withdrawWaitingRuns } from "../reactivation";
import type { PendingReactivation } from "./schema";

/**
 * Withdraws the waiting runs of a reactivation kept in the directory's outbox, then confirms it (`done`: the
 * directory deletes the entry). A failure (a ledger, the runs index or KV down; or the Worker dying first)
 * leaves the entry for the directory's alarm, which calls this again every minute until it succeeds.
 * Twice is harmless: a run already withdrawn is not withdrawn again, one that already acts is never stopped
 * (cancelRun refuses it), and only runs received before the reactivation (`at`, the time of the directory's
 * write) are withdrawn, however late the retry. Logs the error only (never the person or a secret).
 */
export async function drainReactivation(
  env: Bindings,
  audit: AuditStore,
  pending: PendingReactivation,
  done: (seqs: number[]) => unknown,
  leftTo: string,
): Promise<boolean> {
  try {
    await withdrawWaitingRuns(env, audit, pending.reactivation);
    await done([pending.seq]);
    return true;
  } catch (err) {
    console.error(
      JSON.stringify({
        level: "error",
        msg: `scim reactivation left to ${leftTo}`,
        requestId: pending.reactivation.requestId,
        seq: pending.seq,
        error: String(err),
      }),
    );
    return false;
  }
}
