import { activeRunKey } from "../audit/keys";

/**
 * A run's Workflow instances and the sweeper's watch list: what starting, retrying and sweeping a run all
 * need, in one place below them (so none of them imports another).
 */

/** The Workflow instance of a run's n-th attempt. */
export const instanceId = (runId: string, attempt: number) =>
  attempt === 1 ? runId : `${runId}-r${attempt}`;

/**
 * Sends a Workflow event to one instance, best effort: false when it is gone, finished, or the send failed.
 * Every event we send only wakes a run whose truth is in its ledger (a confirmation, a leaver let go), and
 * a run that misses one looks again by itself (it polls, or the sweeper resumes it).
 */
export async function wakeInstance(
  workflow: Workflow,
  id: string,
  event: { type: string; payload: Record<string, unknown> },
): Promise<boolean> {
  try {
    await (await workflow.get(id)).sendEvent(event);
    return true;
  } catch {
    return false;
  }
}

/** Marks a run as one the sweeper must watch until it is terminal. */
export async function watchRun(kv: KVNamespace, runId: string): Promise<void> {
  await kv.put(activeRunKey(runId), JSON.stringify({ runId, since: new Date().toISOString() }));
}

export async function unwatchRun(kv: KVNamespace, runId: string): Promise<void> {
  await kv.delete(activeRunKey(runId));
}
