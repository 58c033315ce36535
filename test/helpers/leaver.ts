import { env } from "cloudflare:workers";
import { admin, uniqueId, waitForRun } from "./worker";

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

/** A leaver of a test's own: HR id, e-mail, Okta id, KooDrive user id, name. */
export interface Person {
  hrId: string;
  email: string;
  oktaId: string;
  kd: string;
  name: string;
}

let personSeq = 0;
/**
 * A person of their own, so no test sees another's runs. `kdPrefix` (10 digits) keeps the KooDrive ids of
 * one test file apart from another's (the simulator is shared).
 */
export function newPerson(tag: string, kdPrefix = "1505084218"): Person {
  const id = uniqueId(tag).toLowerCase();
  const n = (Date.now() % 100_000) * 100 + (personSeq++ % 100);
  return {
    hrId: `E-${id}`,
    email: `${id}@example.com`,
    oktaId: `00u${id.replace(/[^a-z0-9]/g, "")}`,
    kd: `${kdPrefix}${String(n).padStart(9, "0")}`,
    name: `Person ${id}`,
  };
}
