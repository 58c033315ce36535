import { activeRunKey } from "../audit/keys";

/**
 * A run's Workflow instances and the sweeper's watch list: what starting, retrying and sweeping a run all
 * need, in one place below them (so none of them imports another).
 */

/** The Workflow instance of a run's n-th attempt. */
export const instanceId = (runId: string, attempt: number) =>
  attempt === 1 ? runId : `${runId}-r${attempt}`;

/** Marks a run as one the sweeper must watch until it is terminal. */
export async function watchRun(kv: KVNamespace, runId: string): Promise<void> {
  await kv.put(activeRunKey(runId), JSON.stringify({ runId, since: new Date().toISOString() }));
}

export async function unwatchRun(kv: KVNamespace, runId: string): Promise<void> {
  await kv.delete(activeRunKey(runId));
}
