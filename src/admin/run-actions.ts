import type { Context } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import type { HandoverRequest } from "../offboarding/actions";
import { decideRun } from "../offboarding/decide";
import { describePerson } from "../offboarding/handover";
import { instanceId, watchRun } from "../offboarding/instances";
import { actorOf } from "./principal";
import { loadRun } from "./run-view";

/**
 * Starts another attempt of a run (failed shares are tried again), audited as the verified actor; a run
 * that cannot be retried now is a 409. Used by `POST /runs/:id/retry` and the console's retry form.
 */
export async function retryRun(c: Context<AppEnv>, runId: string, handoverTo?: HandoverRequest) {
  const { ledger, meta } = await loadRun(c.env, runId);
  const started = await ledger.beginRetry(handoverTo);
  if ("refused" in started) throw new ApiError("conflict", started.refused);
  await watchRun(c.env.AUDIT, runId);
  await c.env.OFFBOARDING.create({
    id: instanceId(runId, started.attempt),
    params: { runId, attempt: started.attempt },
  });
  await c.var.audit.write({
    type: "admin.retry",
    ...actorOf(c),
    runId,
    requestId: c.var.requestId,
    subject: meta.request.subject,
    status: "accepted",
    reason: `retry of a ${meta.status} run${handoverTo ? " with a handover recipient" : ""}`,
    details: {
      attempt: started.attempt,
      requeued: started.requeued,
      ...(handoverTo ? { handoverTo: describePerson(handoverTo.person) } : {}),
    },
  });
  return { runId, status: "accepted" as const, attempt: started.attempt, requeued: started.requeued };
}

/**
 * An operator confirms the name match a run waits for (RESOLVE_BY_NAME=confirm), naming the KooDrive id
 * they checked: only that id, once. Since 0.5 a confirmation is an approval naming the candidate
 * (`decideRun`: four eyes, audited as `run.decision`); a refusal is a 409 (403 for the requester).
 * Used by `POST /runs/:id/confirm` and the console's confirm form.
 */
export async function confirmRun(c: Context<AppEnv>, runId: string, koodriveUserId: string) {
  const who = actorOf(c);
  const r = await decideRun(
    c.env,
    runId,
    "approved",
    { actor: who.actor, via: who.verifiedBy ?? "admin" },
    { koodriveUserId, requestId: c.var.requestId },
  );
  if (!r.ok) throw new ApiError(r.code === "not_found" ? "not_found" : r.code, r.refused);
  return { runId, status: "running" as const, koodriveUserId, confirmedBy: who.actor };
}
