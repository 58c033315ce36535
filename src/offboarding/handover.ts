import {
  CODE_NOT_FOUND,
  type KooDriveClient,
  KooDriveError,
  type TaskInfo,
  taskRecipient,
  taskSourceUser,
} from "../koodrive/client";
import type { HandoverRequest, HandoverTask, Recipient } from "./actions";
import { TASK_STATUS } from "./actions";
import type { RunLedger } from "./ledger";
import { resolveLeaver } from "./resolve";
import type { RunMeta } from "./types";

/**
 * The handover action (issue 10): hand the leaver's files to a recipient through a KooDrive "transfer and
 * delete" task [koodrive-api.md: Handover], created exactly once across replays and lost answers, then
 * polled until it settles. These are the bodies of the Workflow's steps; the Workflow sleeps between polls.
 */

/** What the handover and block steps work with. */
export interface AccountDeps {
  ledger: DurableObjectStub<RunLedger>;
  client: KooDriveClient;
  kv: KVNamespace;
  /** The directory user the app acts as for task and user calls (KOODRIVE_DIRECTORY_USER_ID). */
  acting: string;
  /** The leaver's KooDrive user id. */
  userId: string;
}

/** First wait between polls of a task, and the longest (the issue: from 30 s, backing off to 15 min). */
export const POLL_FIRST_MS = 30_000;
export const POLL_MAX_MS = 15 * 60_000;
/** The n-th wait between polls (n from 0): doubling from POLL_FIRST_MS up to POLL_MAX_MS. */
export const pollDelayMs = (n: number) => Math.min(POLL_MAX_MS, POLL_FIRST_MS * 2 ** Math.min(n, 20));

/**
 * After a poll that found the task still NEW or EXECUTING: give up (the task is older than the timeout),
 * or wait this long before the n-th next poll.
 */
export function nextPoll(
  createdAt: string,
  now: number,
  timeoutMs: number,
  n: number,
): { giveUp: true } | { giveUp: false; waitMs: number } {
  if (now - Date.parse(createdAt) >= timeoutMs) return { giveUp: true };
  return { giveUp: false, waitMs: pollDelayMs(n) };
}

/**
 * Pages of `GET /task/list` read at most when looking for a task whose create answer was lost (100 tasks a
 * page: 5,000 of the tenant's tasks). Beyond that the action fails rather than risk a second task.
 */
export const MAX_TASK_LIST_PAGES = 50;
/** A lost task was created after the intent was recorded; this much clock skew is allowed (our choice). */
const TASK_CLOCK_SKEW_MS = 10 * 60_000;

const WHERE: Record<Recipient["foundBy"], string> = {
  event: "named by the event (the employee's manager)",
  scim_manager: "the manager in the SCIM directory",
  request: "named by an operator",
  koodrive: "KooDrive's configured recipient for this user",
  default: "HANDOVER_DEFAULT_USER_ID",
};

/** How a recipient was found, in words (run reports, chat, the console). */
export const recipientFoundBy = (r: Recipient) => WHERE[r.foundBy];

export const describePerson = (p: HandoverRequest["person"]) =>
  p.email ?? p.hrId ?? p.koodriveUserId ?? p.name ?? "(nobody)";

/**
 * Who receives the files, in order: the person the request names (an operator's retry `handoverTo`, else
 * the event's manager or SCIM's), KooDrive's configured recipient, HANDOVER_DEFAULT_USER_ID. Never the
 * leaver. A person named by an operator who cannot be resolved is not replaced by a fallback (they asked
 * for that person); a manager from an event who cannot be resolved is, and the note says why.
 */
export async function chooseRecipient(
  deps: AccountDeps,
  meta: RunMeta,
  defaultUserId: string,
): Promise<{ recipient: Recipient; note: string } | { none: string }> {
  const notes: string[] = [];
  const asked = meta.handoverOverride ?? meta.request.handoverTo;
  if (asked) {
    const person = asked.person;
    const found = await resolveLeaver(
      { hrId: person.hrId ?? "", email: person.email, koodriveUserId: person.koodriveUserId },
      // A recipient is never a guess: no name matching, whatever the leaver's policy.
      { kv: deps.kv, client: deps.client, directoryUserId: deps.acting, nameMatch: "off" },
    );
    const who = describePerson(person);
    if (found.ok && found.userId !== deps.userId)
      return {
        recipient: { koodriveUserId: found.userId, name: found.name, foundBy: asked.from },
        note: `${who}: ${WHERE[asked.from]}`,
      };
    const why = found.ok ? "is the leaver themselves" : `could not be resolved (${found.detail})`;
    if (asked.from === "request") return { none: `the recipient named by an operator, ${who}, ${why}` };
    notes.push(`the recipient ${WHERE[asked.from]}, ${who}, ${why}`);
  }
  const configured = await configuredRecipient(deps, notes);
  if (configured && configured.userId !== deps.userId)
    return {
      recipient: { koodriveUserId: configured.userId, name: configured.name, foundBy: "koodrive" },
      note: [...notes, WHERE.koodrive].join("; "),
    };
  if (defaultUserId && defaultUserId !== deps.userId)
    return {
      recipient: { koodriveUserId: defaultUserId, foundBy: "default" },
      note: [...notes, WHERE.default].join("; "),
    };
  notes.push(
    "no recipient: the request named none that resolves, KooDrive has no configured recipient for this user, and HANDOVER_DEFAULT_USER_ID is not set; retry the run with handoverTo",
  );
  return { none: notes.join("; ") };
}

/**
 * KooDrive's configured recipient for the leaver, or null. A refusal of KooDrive's own (a 4xx with a code:
 * the leaver or the acting directory user unknown, no permission) will not change on a retry: it is noted
 * and the next fallback is tried, at once, rather than the step retried for minutes. Anything else (a 5xx,
 * a timeout) throws, and the step retries it.
 */
async function configuredRecipient(
  deps: AccountDeps,
  notes: string[],
): Promise<{ userId: string; name: string } | null> {
  try {
    return await deps.client.handoverRecipient(deps.acting, deps.userId);
  } catch (err) {
    if (!isDefiniteRefusal(err)) throw err;
    notes.push(
      `KooDrive's configured recipient could not be read (KooDrive refused, code ${err.code}: ${err.msg}; the acting user is KOODRIVE_DIRECTORY_USER_ID ${deps.acting})`,
    );
    return null;
  }
}

export type EnsureResult =
  | { task: HandoverTask }
  | { failed: string; code?: string | undefined }
  | { completed: HandoverTask };

/**
 * The run's task for this recipient, created at most once: a task in progress or done is kept; after a
 * lost create answer (an intent recorded, no task id) the task list is searched before creating another.
 * The intent is recorded in the ledger before the create is sent, so a replay of this step after any
 * failure knows a task may exist. A failed task (status 3) is kept on record and a new one is made.
 */
export async function ensureTask(deps: AccountDeps, recipient: string): Promise<EnsureResult> {
  const meta = await deps.ledger.getMeta();
  const h = meta?.actions?.handover;
  const tasks = h?.tasks ?? [];
  const last = tasks[tasks.length - 1];
  if (last && last.status === TASK_STATUS.SUCCESS) return { completed: last };
  // In progress (or not polled yet): keep it, whoever it was for (KooDrive allows one at a time [sim]).
  if (last && last.status !== TASK_STATUS.FAILED) return { task: last };
  const known = new Set(tasks.map((t) => t.taskId));
  if (h?.intent) {
    const lost = await findLostTask(deps, h.intent, known);
    if (lost === "not_searched")
      return {
        failed: `a handover task may have been created (its answer was lost) and it was not found in the first ${MAX_TASK_LIST_PAGES} pages of KooDrive's task list; check KooDrive before retrying`,
      };
    if (lost) {
      const task: HandoverTask = {
        taskId: lost.taskId,
        recipient: taskRecipient(lost) ?? h.intent.recipient,
        createdAt: h.intent.at,
        status: lost.status,
        ...(lost.resultCode ? { resultCode: lost.resultCode } : {}),
        foundInList: true,
      };
      await deps.ledger.setAction("handover", { tasks: [...tasks, task], intent: undefined });
      return { task };
    }
  }
  const intent = { recipient, at: new Date().toISOString() };
  await deps.ledger.setAction("handover", { intent });
  let taskId: string;
  try {
    ({ taskId } = await deps.client.createHandoverTask(deps.acting, deps.userId, recipient));
  } catch (err) {
    if (isDefiniteRefusal(err)) {
      // A definite refusal: no task was made.
      await deps.ledger.setAction("handover", { intent: undefined });
      return { failed: `KooDrive refused the handover task: ${err.message}`, code: err.code };
    }
    throw err; // uncertain: the step is retried, and the intent makes it search first
  }
  const task: HandoverTask = { taskId, recipient, createdAt: intent.at };
  await deps.ledger.setAction("handover", { tasks: [...tasks, task], intent: undefined });
  return { task };
}

/**
 * KooDrive answered the create with an error of its own (HTTP 4xx other than 429, with a code): no task was
 * made. Anything else (a 5xx, a timeout, a 200 whose body could not be read) may have made one.
 */
function isDefiniteRefusal(err: unknown): err is KooDriveError {
  return (
    err instanceof KooDriveError &&
    !err.retryable &&
    err.code !== undefined &&
    err.httpStatus !== undefined &&
    err.httpStatus >= 400 &&
    err.httpStatus < 500 &&
    err.httpStatus !== 429
  );
}

/**
 * A task of this leaver to `intent.recipient`, created since the intent (less clock skew), that the run does
 * not know yet. Reads at most MAX_TASK_LIST_PAGES pages; "not_searched" when the list did not end by then.
 */
async function findLostTask(
  deps: AccountDeps,
  intent: { recipient: string; at: string },
  known: ReadonlySet<string>,
): Promise<TaskInfo | null | "not_searched"> {
  const since = Date.parse(intent.at) - TASK_CLOCK_SKEW_MS;
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TASK_LIST_PAGES; page++) {
    const { tasks, nextCursor } = await deps.client.listTaskPage(deps.acting, {
      pageSize: 100,
      ...(cursor ? { pageCursor: cursor } : {}),
    });
    const match = tasks.find((t) => {
      if (known.has(t.taskId) || taskSourceUser(t) !== deps.userId) return false;
      const to = taskRecipient(t);
      if (to !== undefined && to !== intent.recipient) return false;
      const created = parseTaskTime(t.createTime);
      return created === undefined || created >= since;
    });
    if (match) return match;
    if (!nextCursor) return null;
    cursor = nextCursor;
  }
  return "not_searched";
}

/** A task's time: epoch milliseconds (a Long) or an ISO string; the reference shows neither [unknown]. */
function parseTaskTime(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\d{10,16}$/.test(value)) return Number(value);
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** Polls one task and records its status (and result code) in the run's handover outcome. */
export async function pollTask(deps: AccountDeps, taskId: string): Promise<HandoverTask> {
  const info = await deps.client.getTask(deps.acting, taskId);
  const meta = await deps.ledger.getMeta();
  const tasks = meta?.actions?.handover?.tasks ?? [];
  const settled = info.status === TASK_STATUS.SUCCESS || info.status === TASK_STATUS.FAILED;
  const now = new Date().toISOString();
  let updated: HandoverTask | undefined;
  const next = tasks.map((t) => {
    if (t.taskId !== taskId) return t;
    updated = {
      ...t,
      status: info.status,
      ...(info.resultCode ? { resultCode: info.resultCode } : {}),
      ...(settled && !t.settledAt ? { settledAt: now } : {}),
    };
    return updated;
  });
  if (!updated) throw new Error(`task ${taskId} is not one of this run's tasks`);
  await deps.ledger.setAction("handover", { tasks: next });
  return updated;
}

/**
 * block_login: disables the leaver's KooDrive user (`PUT /users/{id} {"status": 1}`). Doing it twice is
 * harmless, and a step that already recorded it does not call again. "Not found" after a completed handover
 * counts as done ("transfer and delete" may remove the user [koodrive-api.md: Handover]).
 */
export async function blockLogin(
  deps: AccountDeps,
  handedOver: boolean,
): Promise<{ ok: true; detail: string } | { ok: false; detail: string; code?: string | undefined }> {
  try {
    await deps.client.setUserStatus(deps.acting, deps.userId, 1);
    return { ok: true, detail: `KooDrive user ${deps.userId} disabled: they cannot sign in` };
  } catch (err) {
    if (!(err instanceof KooDriveError) || err.retryable) throw err;
    if (err.code === CODE_NOT_FOUND && handedOver)
      return {
        ok: true,
        detail: `KooDrive user ${deps.userId} no longer exists (removed by the handover): nobody can sign in as them`,
      };
    return { ok: false, detail: `KooDrive refused to disable the user: ${err.message}`, code: err.code };
  }
}
