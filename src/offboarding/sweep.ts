import { activeRunKey, PREFIX } from "../audit/keys";
import type { AuditStore } from "../audit/store";
import type { Bindings, Config } from "../env";
import { instanceId } from "./start";
import { TERMINAL } from "./types";

/** Runs checked per sweep at most; the rest wait for the next tick (every 5 minutes). */
export const MAX_RUNS_PER_SWEEP = 500;

export interface SweepReport {
  checked: number;
  restarted: string[];
  resumed: string[];
  cleaned: number;
}

/** Marks a run as one the sweeper must watch until it is terminal. */
export async function watchRun(kv: KVNamespace, runId: string): Promise<void> {
  await kv.put(activeRunKey(runId), JSON.stringify({ runId, since: new Date().toISOString() }));
}

export async function unwatchRun(kv: KVNamespace, runId: string): Promise<void> {
  await kv.delete(activeRunKey(runId));
}

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
  const report: SweepReport = { checked: 0, restarted: [], resumed: [], cleaned: 0 };
  const stuckMs = config.STUCK_RUN_MINUTES * 60_000;
  const listed = await env.AUDIT.list({ prefix: PREFIX.activeRun, limit: MAX_RUNS_PER_SWEEP });
  for (const key of listed.keys) {
    const runId = key.name.slice(PREFIX.activeRun.length);
    const ledger = env.RUNS.getByName(runId);
    const meta = await ledger.getMeta();
    if (!meta || TERMINAL.has(meta.status)) {
      await unwatchRun(env.AUDIT, runId);
      report.cleaned++;
      continue;
    }
    report.checked++;
    if (now - (await ledger.lastProgress()) < stuckMs) continue;

    const id = instanceId(runId, meta.attempt);
    const status = await env.OFFBOARDING.get(id)
      .then((instance) => instance.status().then((s) => ({ instance, status: s.status })))
      .catch(() => ({ instance: undefined, status: "missing" as const }));
    if (status.status === "paused" || status.status === "waitingForPause") continue;
    if (status.instance && ["running", "queued", "waiting", "unknown"].includes(status.status)) {
      await status.instance.restart();
      report.restarted.push(runId);
      await audit.write(
        sweepRecord(
          meta.request,
          `no progress for ${config.STUCK_RUN_MINUTES} min; Workflow ${id} restarted`,
        ),
      );
      continue;
    }
    const next = await ledger.beginResume();
    if ("refused" in next) continue;
    await env.OFFBOARDING.create({
      id: instanceId(runId, next.attempt),
      params: { runId, attempt: next.attempt },
    });
    report.resumed.push(runId);
    await audit.write(
      sweepRecord(
        meta.request,
        `Workflow ${id} is ${status.status} but the run was not finished; attempt ${next.attempt} started`,
      ),
    );
  }
  return report;
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
