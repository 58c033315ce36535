import type { AuditInput } from "../audit/schema";
import { type Bindings, checkChatOperators, loadConfig } from "../env";
import { publishRunEvent } from "../events/publish";
import { auditStore } from "../services";
import {
  type ApprovalDecision,
  chatLinks,
  DECISION_EVENT,
  type Decider,
  identitiesOf,
  identityOf,
  personOf,
  type RefusalCode,
  type Verdict,
} from "./approval";
import { type Refusal, waitsForDecision, waitsForTime } from "./gate";
import { instanceId, wakeInstance } from "./instances";
import type { RunLedger } from "./ledger";
import { RUN_INDEX_NAME } from "./run-index";
import { isRunId } from "./start";
import { CONFIRM_EVENT, type RunMeta } from "./types";

export type { RefusalCode } from "./approval";

export type DecideResult =
  | { ok: true; meta: RunMeta; decision: ApprovalDecision }
  | { ok: false; code: RefusalCode; refused: string };

/** A run id that cannot exist is answered like an unknown run, before any Durable Object is touched. */
const NO_SUCH_RUN = { ok: false as const, code: "not_found" as const, refused: "run not found" };

/** Waiting runs of one person are found among this many of their newest runs (the runs index). */
const PERSON_RUNS_SCANNED = 200;

function record(
  meta: RunMeta | null,
  runId: string,
  input: Omit<AuditInput, "runId" | "source" | "eventId" | "subject">,
): AuditInput {
  return {
    ...input,
    runId,
    ...(meta
      ? { source: meta.request.source, eventId: meta.request.eventId, subject: meta.request.subject }
      : {}),
  } as AuditInput;
}

/** Wakes the run's Workflow; a run that misses it is restarted by the sweeper and reads its ledger. */
async function wake(env: Bindings, meta: RunMeta, legacy: boolean): Promise<void> {
  const id = instanceId(meta.request.runId, meta.attempt);
  // A run version 0.4 left waiting for a name match listens for its own event type.
  const type = legacy ? CONFIRM_EVENT : DECISION_EVENT;
  if (!(await wakeInstance(env.OFFBOARDING, id, { type, payload: {} })))
    console.warn(JSON.stringify({ level: "warn", msg: "wake-up not delivered", runId: meta.request.runId }));
}

/**
 * Approves or rejects a run waiting in `awaiting_approval` (issue 11), for the admin API, the console and
 * Slack's buttons alike. Four eyes: the decider must not be the requester under any of their identities
 * (`identitiesOf`: a chat user linked to an e-mail in SLACK_OPERATORS / TEAMS_OPERATORS is that e-mail's
 * person, through the links configured now, whenever the run was requested); a second decision, or one
 * after the deadline, is refused (conflict). Every decision and every refusal is audited here, with
 * who, when, and the plan's share count and digest. A name match needs `koodriveUserId` equal to the
 * candidate's to be approved. The decision is recorded in the run's ledger, then the run is woken.
 * The caller checks the decider's role (operator) first.
 */
export async function decideRun(
  env: Bindings,
  runId: string,
  verdict: Verdict,
  decider: Decider,
  opts: { reason?: string | undefined; koodriveUserId?: string | undefined; requestId?: string } = {},
): Promise<DecideResult> {
  if (!isRunId(runId)) return NO_SUCH_RUN;
  const config = loadConfig(env);
  // The links say who is one person for four eyes: with a malformed list, no decision is taken (503).
  checkChatOperators(config.SLACK_OPERATORS, config.TEAMS_OPERATORS);
  const audit = auditStore(env.AUDIT, config);
  const ledger = env.RUNS.getByName(runId);
  const links = chatLinks(config);
  const identities = identitiesOf(decider.actor, links);
  const result = await ledger.decide(
    verdict,
    { ...decider, identities },
    {
      ...(opts.reason ? { reason: opts.reason } : {}),
      ...(opts.koodriveUserId ? { koodriveUserId: opts.koodriveUserId } : {}),
    },
  );
  const base = { actor: decider.actor, ...(opts.requestId ? { requestId: opts.requestId } : {}) };
  // The person's e-mail beside a linked chat actor (whose actor string stays the chat user's, as Slack
  // renders it): the trail names the person whichever way they decided.
  const person = personOf(decider.actor, links);
  const linked = person === identityOf(decider.actor) ? {} : { identity: person };
  if ("refused" in result) {
    if (result.code !== "not_found")
      await audit.write(
        record(await ledger.getMeta(), runId, {
          type: "run.decision",
          ...base,
          status: "refused",
          reason: result.refused,
          details: { verdict, via: decider.via, ...linked },
        }),
      );
    return { ok: false, code: result.code, refused: result.refused };
  }
  const d = result.decision;
  await audit.write(
    record(result.meta, runId, {
      type: "run.decision",
      ...base,
      status: d.verdict,
      reason:
        d.reason ??
        (result.meta.approval?.candidate
          ? `name match confirmed: KooDrive user ${result.meta.approval.candidate.koodriveUserId}`
          : `${d.verdict} by ${d.by}`),
      details: { via: d.via, ...linked, planShares: d.planShares, planDigest: d.planDigest },
    }),
  );
  await wake(env, result.meta, result.before === "needs_confirmation");
  return { ok: true, meta: result.meta, decision: d };
}

export type CancelResult = { ok: true; meta: RunMeta } | { ok: false; code: RefusalCode; refused: string };

/**
 * A change to a waiting run (withdraw, reschedule): applied by the ledger in one call, audited (the
 * refusal too, for a run that exists), then the run is woken to read it.
 */
async function changeWaitingRun(
  env: Bindings,
  runId: string,
  change: {
    type: "run.cancel" | "run.reschedule";
    actor: string;
    requestId?: string | undefined;
    apply: (ledger: DurableObjectStub<RunLedger>) => Promise<{ meta: RunMeta } | Refusal>;
    done: (before: RunMeta | null) => { status: string; reason: string };
  },
): Promise<CancelResult & { before?: RunMeta | null }> {
  if (!isRunId(runId)) return NO_SUCH_RUN;
  const audit = auditStore(env.AUDIT, loadConfig(env));
  const ledger = env.RUNS.getByName(runId);
  const before = await ledger.getMeta();
  const result = await change.apply(ledger);
  const base = {
    type: change.type,
    actor: change.actor,
    ...(change.requestId ? { requestId: change.requestId } : {}),
  };
  if ("refused" in result) {
    if (result.code !== "not_found")
      await audit.write(record(before, runId, { ...base, status: "refused", reason: result.refused }));
    return { ok: false, code: result.code, refused: result.refused };
  }
  await audit.write(record(result.meta, runId, { ...base, ...change.done(before) }));
  return { ok: true, meta: result.meta, before };
}

/**
 * Cancels a run that has not started acting: waiting for its `effectiveAt` or for approval (issue 11).
 * The run ends `withdrawn` with nothing done in KooDrive; audited with the reason. A run already acting, or
 * finished, is refused (conflict). Used by `POST /runs/:id/cancel`, the console, and a reactivation (Okta
 * `user.lifecycle.reactivate` / `unsuspend`, SCIM `active: true`) of the same person.
 */
export async function cancelRun(
  env: Bindings,
  runId: string,
  reason: string,
  actor: string,
  requestId?: string,
): Promise<CancelResult> {
  const r = await changeWaitingRun(env, runId, {
    type: "run.cancel",
    actor,
    requestId,
    apply: (ledger) => ledger.cancel(reason, actor),
    done: () => ({ status: "withdrawn", reason }),
  });
  if (!r.ok) return r;
  // The event now, not when the Workflow wakes (its finish step publishes the same event id again: once).
  await publishRunEvent(env, r.meta);
  await wake(env, r.meta, r.before?.status === "needs_confirmation");
  return { ok: true, meta: r.meta };
}

/** Moves a run waiting for its `effectiveAt` to another moment; audited; the run is woken to wait anew. */
export async function rescheduleRun(
  env: Bindings,
  runId: string,
  effectiveAt: string,
  actor: string,
  requestId?: string,
): Promise<CancelResult> {
  const r = await changeWaitingRun(env, runId, {
    type: "run.reschedule",
    actor,
    requestId,
    apply: (ledger) => ledger.reschedule(effectiveAt, actor),
    done: (before) => ({
      status: "rescheduled",
      reason: `effectiveAt moved from ${before?.request.effectiveAt ?? "(none)"} to ${effectiveAt}`,
    }),
  });
  if (!r.ok) return r;
  await wake(env, r.meta, false);
  return { ok: true, meta: r.meta };
}

/**
 * The runs of one person that are waiting (for `effectiveAt` or approval) and would be cancelled by
 * `cancelRun`: looked up in the runs index by KooDrive user id, e-mail or HR id, then checked in each
 * run's ledger (the truth).
 */
export async function waitingRunsOf(
  env: Bindings,
  person: { koodriveUserId?: string; email?: string; hrId?: string },
): Promise<string[]> {
  const keys = [
    ...(person.koodriveUserId ? [`kd:${person.koodriveUserId}`] : []),
    ...(person.email ? [`email:${person.email.trim().toLowerCase()}`] : []),
    ...(person.hrId ? [`hr:${person.hrId.trim()}`] : []),
  ];
  if (keys.length === 0) return [];
  const { runs } = await env.RUN_INDEX.getByName(RUN_INDEX_NAME).list({
    personKeys: keys,
    statuses: ["accepted", "running", "awaiting_approval", "needs_confirmation"],
    limit: PERSON_RUNS_SCANNED,
  });
  const waiting: string[] = [];
  for (const row of runs) {
    const m = await env.RUNS.getByName(row.runId).getMeta();
    if (!m || m.request.dryRun) continue;
    if (waitsForTime(m, Date.now()) || waitsForDecision(m)) waiting.push(row.runId);
  }
  return waiting;
}
