import { env } from "cloudflare:workers";
import { admin, waitForRun } from "./worker";

/** The whole-leaver tests' view of a run (`GET /runs/:id`): its actions, evidence and shares. */

export interface ActionView {
  action: string;
  state: string;
  detail: string;
  recipient?: { koodriveUserId: string; foundBy: string };
  tasks?: Array<{
    taskId: string;
    status?: number;
    resultCode?: string;
    foundInList?: boolean;
    recipient?: string;
  }>;
  blockedAt?: string;
  schedule?: string[];
  checksDone?: number;
  lateShares?: number;
  endedBy?: string;
}

export type RunWithActions = Omit<Awaited<ReturnType<typeof waitForRun>>, "shares"> & {
  actions: ActionView[];
  evidence: { found: number; of: number; complete: boolean } | null;
  shares: Array<{ shareId: string; state: string; late?: boolean }>;
};

export const actionOf = (run: RunWithActions, name: string) =>
  run.actions.find((a) => a.action === name) as ActionView;

export async function runView(runId: string): Promise<RunWithActions> {
  return (await (await admin(`/runs/${runId}?limit=5000`)).json()) as RunWithActions;
}

/** Waits for the run to end (its Workflow too), then reads it. */
export async function waitForView(
  runId: string,
  timeoutMs = 60_000,
  minAttempt = 1,
): Promise<RunWithActions> {
  await waitForRun(runId, timeoutMs, minAttempt);
  return runView(runId);
}

/**
 * Frees a leaver before a test: a run an earlier test left behind (a Workflow the sweeper restarted, still
 * sleeping) must not hold them, nor watch them.
 */
export async function freeLeaver(userId: string): Promise<void> {
  const lock = env.LEAVERS.getByName(userId);
  const holder = await lock.holderOf();
  if (holder) await lock.release(holder);
  const watcher = await lock.watcherOf();
  if (watcher) await lock.clearWatcher(watcher.runId);
}
