import { PREFIX } from "../audit/keys";
import type { AuditStore } from "../audit/store";
import type { Bindings, Config } from "../env";
import { instanceId, unwatchRun } from "./instances";
import { TERMINAL } from "./types";

/** Runs checked per sweep at most (each costs a few subrequests); the rest are reached on later ticks. */
export const MAX_RUNS_PER_SWEEP = 100;

export interface SweepReport {
  checked: number;
  restarted: string[];
  resumed: string[];
  cleaned: number;
  errors: number;
}

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
  const report: SweepReport = { checked: 0, restarted: [], resumed: [], cleaned: 0, errors: 0 };
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
  return report;
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
