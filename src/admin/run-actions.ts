import type { Context } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import type { HandoverRequest } from "../offboarding/actions";
import { describePerson } from "../offboarding/handover";
import { instanceId, wakeInstance, watchRun } from "../offboarding/instances";
import { CONFIRM_EVENT } from "../offboarding/types";
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
 * they checked: only that id, once. The ledger records it first; the event then wakes the run. A refusal
 * is audited and is a 409. Used by `POST /runs/:id/confirm` and the console's confirm form.
 */
export async function confirmRun(c: Context<AppEnv>, runId: string, koodriveUserId: string) {
  const { ledger, meta } = await loadRun(c.env, runId);
  const who = actorOf(c);
  const confirmed = await ledger.confirm(koodriveUserId, who.actor);
  if ("refused" in confirmed) {
    await c.var.audit.write({
      type: "admin.confirm",
      ...who,
      runId,
      requestId: c.var.requestId,
      subject: meta.request.subject,
      status: "refused",
      reason: confirmed.refused,
      details: { koodriveUserId },
    });
    throw new ApiError("conflict", confirmed.refused);
  }
  await c.var.audit.write({
    type: "admin.confirm",
    ...who,
    runId,
    requestId: c.var.requestId,
    subject: { ...meta.request.subject, koodriveUserId },
    status: "confirmed",
    reason: `name match confirmed: KooDrive user ${koodriveUserId}`,
    details: { koodriveUserId },
  });
  const event = { type: CONFIRM_EVENT, payload: { koodriveUserId } };
  if (!(await wakeInstance(c.env.OFFBOARDING, instanceId(runId, confirmed.meta.attempt), event))) {
    // The confirmation is recorded; a run that cannot be woken is resumed by the sweeper and reads it.
    console.warn(JSON.stringify({ level: "warn", msg: "confirm event not delivered", runId }));
  }
  return { runId, status: "running" as const, koodriveUserId, confirmedBy: who.actor };
}
