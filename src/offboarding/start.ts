import type { AuditInput } from "../audit/schema";
import type { AuditStore } from "../audit/store";
import { sha256Hex } from "../bytes";
import { type Bindings, type Config, loadConfig } from "../env";
import { AUTOMATED_SOURCES } from "../policy";
import { within } from "../timeout";
import type { ActionName } from "./actions";
import { instanceId, watchRun } from "./instances";
import { type IndexRow, RUN_INDEX_NAME } from "./run-index";
import { ALL_SCOPES, type RunParams, type RunRequest, type RunStatus } from "./types";

/** Workflow instance ids: [a-zA-Z0-9_-], at most 100 characters. */
const RUN_ID = /^[a-z]+-[0-9a-f]{32}$/;

export const isRunId = (value: string) => RUN_ID.test(value);

/**
 * The run id is derived from the source and its event id, so a redelivery maps to the same run: it doubles
 * as the idempotency key (Workflow instance ids are unique, and the ledger Durable Object is strongly consistent).
 */
export async function runIdFor(source: string, eventId: string): Promise<string> {
  return `${source}-${(await sha256Hex(`${source}\n${eventId}`)).slice(0, 32)}`;
}

/**
 * What a source knows about a request to offboard; `newRunRequest` fills in the rest. `actions` is required:
 * every source decides it explicitly (the policy's list, or fewer as asked: `actionsFor`), so no run is
 * accepted without the actions it will take (issue 10).
 */
export type RunRequestInput = Pick<RunRequest, "source" | "eventId" | "subject" | "requestId"> & {
  actions: ActionName[];
} & Partial<
    Pick<
      RunRequest,
      "reason" | "effectiveAt" | "dryRun" | "scopes" | "actor" | "verifiedBy" | "notifyUrl" | "handoverTo"
    >
  >;

/**
 * A run request as every source makes it: the run id derived from source and event id (the idempotency
 * key), received now; unless given, not a dry run, all scopes, and the source itself as the actor.
 */
export async function newRunRequest(input: RunRequestInput): Promise<RunRequest> {
  return {
    dryRun: false,
    scopes: [...ALL_SCOPES],
    actor: `source:${input.source}`,
    ...input,
    runId: await runIdFor(input.source, input.eventId),
    receivedAt: new Date().toISOString(),
  };
}

/** The audit record of a verified request to offboard (`request.received` or `request.duplicate`). */
export function receivedRecord(request: RunRequest, duplicate: boolean, status: string): AuditInput {
  return {
    type: duplicate ? "request.duplicate" : "request.received",
    at: duplicate ? new Date().toISOString() : request.receivedAt,
    actor: request.actor,
    ...(request.verifiedBy ? { verifiedBy: request.verifiedBy } : {}),
    source: request.source,
    eventId: request.eventId,
    runId: request.runId,
    requestId: request.requestId,
    subject: request.subject,
    status,
    reason: duplicate
      ? "same event id as an earlier delivery; no new run"
      : (request.reason ?? "offboarding requested"),
    details: {
      verified: true,
      dryRun: request.dryRun,
      scopes: request.scopes.join(","),
      // Who the request named as the handover recipient is in the run (GET /runs/:id); here only where from.
      ...(request.actions ? { actions: request.actions.join(",") } : {}),
      ...(request.handoverTo ? { handoverFrom: request.handoverTo.from } : {}),
    },
  };
}

function alreadyExists(err: unknown): boolean {
  return err instanceof Error && /already.exists/i.test(err.message);
}

/** Creates the Workflow instance; one that already exists (a racing delivery made it) is fine. */
async function createOnce(env: Bindings, id: string, params: RunParams): Promise<void> {
  try {
    await env.OFFBOARDING.create({ id, params });
  } catch (err) {
    if (!alreadyExists(err)) throw err;
  }
}

async function instanceExists(env: Bindings, id: string): Promise<boolean> {
  try {
    await env.OFFBOARDING.get(id);
    return true;
  } catch {
    return false;
  }
}

/**
 * Records a request to offboard and starts its run, exactly once per (source, event id). Returns the run id
 * and whether this request was a duplicate. Safe under concurrent deliveries: the ledger's `accept` is
 * serialised by its Durable Object and the Workflow refuses a second instance with the same id.
 */
export async function startRun(
  env: Bindings,
  audit: AuditStore,
  request: RunRequest,
): Promise<{ runId: string; duplicate: boolean; status: RunStatus }> {
  const ledger = env.RUNS.getByName(request.runId);
  // The run keeps the policies in force now (name matching, its actions, the watch's delays), whatever the
  // settings are when it gets there.
  const config = loadConfig(env);
  const policy = request.nameMatch ?? config.RESOLVE_BY_NAME;
  const actions = request.actions ?? [...config.OFFBOARDING_ACTIONS];
  const { created, meta, row } = await ledger.accept({
    ...request,
    nameMatch: policy,
    actions,
    // A redelivery keeps the run it names (its policy included): only a new run counts in a burst.
    ...((await ledger.getMeta()) ? {} : { approvalPolicy: await approvalPolicyFor(env, config, request) }),
    ...(actions.includes("watch") ? { watchAfterMs: request.watchAfterMs ?? config.WATCH_AFTER } : {}),
  });
  // Listed before the answer (GET /runs is strongly consistent with the 202). A duplicate writes its row
  // again, which repairs one an earlier delivery could not write.
  await indexRun(env, row);
  // The ledger decides who was first; the Workflow create is then idempotent on its id.
  const duplicate = !created;
  const id = instanceId(request.runId, meta.attempt);
  const params = { runId: request.runId, attempt: meta.attempt };
  if (created) {
    // Watched before the Workflow exists: if anything below fails, the sweeper still finds the run.
    await watchRun(env.AUDIT, request.runId);
    await createOnce(env, id, params);
  } else if (meta.status === "accepted" && !(await instanceExists(env, id))) {
    // Accepted but no Workflow: an earlier delivery crashed between the two writes. Start it now.
    await watchRun(env.AUDIT, request.runId);
    await createOnce(env, id, params);
  }
  // A new run's "request received" record is written by the run's first (durable, retried) step, which
  // keeps the webhook's answer fast. A duplicate is recorded here, since no run will, but only the first
  // one: later deliveries of the same event are counted in the ledger (`duplicates`, shown by GET /runs/:id
  // and in the run's final record), so replaying a captured delivery cannot flood the audit trail.
  if (duplicate && meta.duplicates === 1) await audit.write(receivedRecord(request, true, meta.status));
  return { runId: request.runId, duplicate, status: meta.status };
}

/** The layoff guard's window (issue 11: "more than BURST_APPROVAL_THRESHOLD runs ... within 10 minutes"). */
export const BURST_WINDOW_MS = 10 * 60_000;

/**
 * The approval policy a request is accepted under (issue 11). The layoff guard counts the runs accepted
 * from automated sources before this one is: fail closed, a guard that cannot count throws and nothing
 * is accepted (the sender retries). Dry runs change nothing and are never held.
 */
async function approvalPolicyFor(
  env: Bindings,
  config: Config,
  request: RunRequest,
): Promise<NonNullable<RunRequest["approvalPolicy"]>> {
  const policy = {
    source: config.APPROVAL_REQUIRED.includes(request.source),
    aboveShares: config.APPROVAL_ABOVE_SHARES,
    timeoutHours: config.APPROVAL_TIMEOUT_HOURS,
  };
  const threshold = config.BURST_APPROVAL_THRESHOLD;
  if (request.dryRun || threshold === 0 || !AUTOMATED_SOURCES.includes(request.source)) return policy;
  const n = await env.RUN_INDEX.getByName(RUN_INDEX_NAME).burstPosition(
    request.runId,
    Date.now(),
    BURST_WINDOW_MS,
  );
  return n > threshold ? { ...policy, burst: n, burstThreshold: threshold } : policy;
}

/** How long the accept path waits for the runs index before answering anyway. */
const INDEX_WRITE_BUDGET_MS = 1_000;

/**
 * Writes a run's row to the runs index. Never fails the caller: the run is already accepted in its ledger,
 * and the sweeper fills in a row that is missing (sweep.ts `repairIndex`).
 */
export async function indexRun(env: Bindings, row: IndexRow): Promise<void> {
  try {
    // Bounded: a slow index must not eat a sender's answer budget (Slack and Okta allow 3 s); a row that
    // does not land now is sent again by the ledger (its alarm) and the sweeper.
    await within(
      env.RUN_INDEX.getByName(RUN_INDEX_NAME).upsert([row]),
      INDEX_WRITE_BUDGET_MS,
      `runs index did not answer within ${INDEX_WRITE_BUDGET_MS} ms`,
    );
  } catch (err) {
    console.warn(
      JSON.stringify({ level: "warn", msg: "runs index not updated", runId: row.runId, error: String(err) }),
    );
  }
}
