import { PREFIX } from "../audit/keys";
import type { AuditStore } from "../audit/store";
import type { Bindings, Config } from "../env";
import { instanceId, unwatchRun } from "./instances";
import { type IndexRow, RUN_INDEX_NAME } from "./run-index";
import { TERMINAL } from "./types";

/** Runs checked per sweep at most (each costs a few subrequests); the rest are reached on later ticks. */
export const MAX_RUNS_PER_SWEEP = 100;

export interface SweepReport {
  checked: number;
  restarted: string[];
  resumed: string[];
  cleaned: number;
  errors: number;
  /** Runs index rows written because they were missing or disagreed with the run's ledger. */
  indexRepaired: number;
}

/** Open runs index rows compared with their ledgers per sweep at most (one ledger read each). */
export const MAX_INDEX_CHECKS_PER_SWEEP = 100;
/** An open row is compared again at most this often (a run waiting for days is not read every tick). */
export const INDEX_RECHECK_MS = 10 * 60_000;

/** Where the next sweep goes on listing `active-run:` keys (a KV list cursor). */
const SWEEP_CURSOR_KEY = "sweeper:cursor";

/**
 * The sweeper (Cron Trigger): nothing lost even when a Workflow stops. For each run that is not terminal
 * and has made no progress for STUCK_RUN_MINUTES, it looks at its Workflow instance:
 * - gone, errored, terminated, or complete without finishing the run: a new attempt is started;
 * - still "running" or "queued" with no progress: the instance is restarted (a replay from the start is
 *   safe: every step reads the ledger, so finished shares are never sent again);
 * - paused: left alone (an operator paused it).
 */
export async function sweepRuns(
  env: Bindings,
  config: Config,
  audit: AuditStore,
  now = Date.now(),
): Promise<SweepReport> {
  const report: SweepReport = {
    checked: 0,
    restarted: [],
    resumed: [],
    cleaned: 0,
    errors: 0,
    indexRepaired: 0,
  };
  // Go on where the last sweep stopped, so a long list is covered over several ticks.
  const cursor = (await env.AUDIT.get(SWEEP_CURSOR_KEY)) ?? undefined;
  const listed = await env.AUDIT.list({
    prefix: PREFIX.activeRun,
    limit: MAX_RUNS_PER_SWEEP,
    ...(cursor ? { cursor } : {}),
  });
  if (listed.list_complete) await env.AUDIT.delete(SWEEP_CURSOR_KEY);
  else await env.AUDIT.put(SWEEP_CURSOR_KEY, listed.cursor);
  for (const key of listed.keys) {
    const runId = key.name.slice(PREFIX.activeRun.length);
    try {
      await sweepOne(env, config, audit, runId, now, report);
    } catch (err) {
      // One bad run must not stop the others; it is looked at again next tick.
      report.errors++;
      console.error(
        JSON.stringify({ level: "error", msg: "sweep failed for a run", runId, error: String(err) }),
      );
    }
  }
  try {
    report.indexRepaired = await repairIndex(
      env,
      listed.keys.map((k) => k.name.slice(PREFIX.activeRun.length)),
      now,
    );
  } catch (err) {
    report.errors++;
    console.error(JSON.stringify({ level: "error", msg: "runs index repair failed", error: String(err) }));
  }
  return report;
}

/**
 * Brings the runs index in line with the ledgers (the truth): a watched run with no row gets one, and open
 * rows (accepted, running, needs confirmation) not compared for INDEX_RECHECK_MS are compared with their
 * ledger and rewritten when the ledger is newer. So an index write that failed (the accept path and the
 * ledger never wait for it) is repaired within a few ticks. Returns how many rows were written.
 */
export async function repairIndex(env: Bindings, watched: string[], now: number): Promise<number> {
  const index = env.RUN_INDEX.getByName(RUN_INDEX_NAME);
  const missing = watched.length ? await index.missing(watched) : [];
  const open = await index.openRuns(MAX_INDEX_CHECKS_PER_SWEEP, now - INDEX_RECHECK_MS, now);
  const rows: IndexRow[] = [];
  for (const runId of missing) {
    const row = await env.RUNS.getByName(runId).indexRow();
    if (row) rows.push(row);
  }
  for (const stale of open) {
    const row = await env.RUNS.getByName(stale.runId).indexRow();
    if (row && (row.rev > stale.rev || row.status !== stale.status)) rows.push(row);
  }
  return rows.length ? index.upsert(rows) : 0;
}

async function sweepOne(
  env: Bindings,
  config: Config,
  audit: AuditStore,
  runId: string,
  now: number,
  report: SweepReport,
): Promise<void> {
  const ledger = env.RUNS.getByName(runId);
  const meta = await ledger.getMeta();
  if (!meta || TERMINAL.has(meta.status)) {
    await unwatchRun(env.AUDIT, runId);
    report.cleaned++;
    return;
  }
  report.checked++;
  // A run sleeping until the leaver's last day is not stuck; its silence counts from when it wakes.
  const wokeAt = meta.waitUntil ? Date.parse(meta.waitUntil) : 0;
  if (wokeAt > now) return;
  if (now - Math.max(await ledger.lastProgress(), wokeAt) < config.STUCK_RUN_MINUTES * 60_000) return;

  const id = instanceId(runId, meta.attempt);
  let instance: WorkflowInstance | undefined;
  try {
    instance = await env.OFFBOARDING.get(id);
  } catch (err) {
    // Only a Workflow that does not exist is "gone"; any other error is retried next tick.
    if (!/not.?found/i.test(String(err))) throw err;
  }
  const status = instance ? (await instance.status()).status : "missing";
  if (["paused", "waitingForPause", "waiting", "rollingBack"].includes(status)) return;
  if (instance && (status === "running" || status === "queued" || status === "unknown")) {
    await instance.restart();
    report.restarted.push(runId);
    await audit.write(
      sweepRecord(meta.request, `no progress for ${config.STUCK_RUN_MINUTES} min; Workflow ${id} restarted`),
    );
    return;
  }
  const next = await ledger.beginResume();
  if ("refused" in next) return;
  await env.OFFBOARDING.create({
    id: instanceId(runId, next.attempt),
    params: { runId, attempt: next.attempt },
  });
  report.resumed.push(runId);
  await audit.write(
    sweepRecord(
      meta.request,
      `Workflow ${id} is ${status} but the run was not finished; attempt ${next.attempt} started`,
    ),
  );
}

function sweepRecord(
  request: { runId: string; source: string; eventId: string; subject: { hrId: string } },
  reason: string,
) {
  return {
    type: "run.state" as const,
    actor: "sweeper",
    source: request.source,
    eventId: request.eventId,
    runId: request.runId,
    subject: request.subject,
    status: "running",
    reason,
  };
}
