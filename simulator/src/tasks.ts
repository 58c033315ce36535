/**
 * Handover tasks ("transfer and delete") and the configured recipient [api.md "Handover, blocking and
 * evidence"]: `POST /task/create`, `GET /task/{taskId}`, `GET /task/list`, `GET /task/dstUserInfo/{src}`.
 *
 * A task moves NEW -> EXECUTING -> SUCCESS by the time elapsed since it was created: `newMs` as NEW, then
 * `executingMs` as EXECUTING (both from `PUT /__sim/tasks`, taken when the task is created, so changing them
 * later does not move existing tasks). A fault decided at creation can make it end FAILED (status 3,
 * resultCode 18000205) or stay EXECUTING. Statuses are settled lazily: `settleTasks` runs before every
 * request, so what one request sees is exact at its own time.
 *
 * A task that SUCCEEDS removes its source user (the "and delete" of "transfer and delete" [unknown in the
 * reference: what it removes, and whether the leaver's shares survive]). The simulator picks the harshest
 * reading: the user row is deleted, so afterwards `GET` / `PUT /users/{id}` answer 13000309 and any call
 * acting as that user (their share list included) answers 13000309 "user does not exist". Their share rows
 * stay in the store, unreachable through the API, so the control plane can still show them. This is why the
 * service cancels shares first, hands over next and blocks the login last.
 */
import { type AuditEntry, AuditOperation, recordAudit } from "./auditlog";
import type { FaultEngine, TaskFate } from "./faults";
import {
  Code,
  DEFAULT_TASK_EXECUTING_MS,
  DEFAULT_TASK_NEW_MS,
  DEFAULT_TASK_PAGE_SIZE,
  HANDOVER_TASK_TYPE,
  MAX_TASK_PAGE_SIZE,
  MAX_TASK_PHASE_MS,
  SIM_ORG_ID,
  TASK_FAILED_RESULT_CODE,
  TASK_ID_BASE,
  TaskStatus,
  USER_ID_PATTERN,
} from "./limits";
import { type ApiResult, fail, ok, parseJsonBody, USER_NOT_FOUND } from "./result";
import type { Store } from "./store";

export const TASK_NOT_FOUND = "task does not exist";

export interface TaskTiming {
  newMs: number;
  executingMs: number;
}

export interface TaskRow {
  seq: number;
  task_id: string;
  task_type: number;
  src_user_id: string;
  dst_user_id: string;
  acting_user_id: string;
  created_at: number;
  new_ms: number;
  executing_ms: number;
  fate: TaskFate;
  status: number;
  end_time: number | null;
  [key: string]: SqlStorageValue;
}

export const DEFAULT_TASK_TIMING: TaskTiming = {
  newMs: DEFAULT_TASK_NEW_MS,
  executingMs: DEFAULT_TASK_EXECUTING_MS,
};

export function readTaskTiming(store: Store): TaskTiming {
  return { ...DEFAULT_TASK_TIMING, ...store.getMeta<Partial<TaskTiming>>("tasks") };
}

/** Validates a `PUT /__sim/tasks` body (either field may be left out). */
export function parseTaskTiming(store: Store, body: unknown): TaskTiming | string {
  if (typeof body !== "object" || body === null) return "body must be a JSON object";
  const next = { ...readTaskTiming(store), ...(body as Partial<TaskTiming>) };
  for (const key of ["newMs", "executingMs"] as const) {
    const v = next[key];
    if (!Number.isInteger(v) || v < 0 || v > MAX_TASK_PHASE_MS)
      return `${key} must be an integer within 0..${MAX_TASK_PHASE_MS}`;
  }
  return { newMs: next.newMs, executingMs: next.executingMs };
}

/** The status a task has at `now` by its timing and fate; SQL, so settling is one statement. */
const STATUS_AT = `CASE
  WHEN ? < created_at + new_ms THEN ${TaskStatus.new}
  WHEN fate = 'stuck' OR ? < created_at + new_ms + executing_ms THEN ${TaskStatus.executing}
  WHEN fate = 'fail' THEN ${TaskStatus.failed}
  ELSE ${TaskStatus.success} END`;

/**
 * Brings every unfinished task's status up to `now` and applies what finishing does: a SUCCESS removes
 * the source user (and their configured recipient) and records `user.delete` in the audit log.
 */
export function settleTasks(store: Store, now: number): void {
  store.transaction(() => {
    const changed = store.sql
      .exec<{
        task_id: string;
        src_user_id: string;
        acting_user_id: string;
        status: number;
        end_time: number;
      }>(
        `UPDATE tasks SET status = x.s,
           end_time = CASE WHEN x.s IN (${TaskStatus.success}, ${TaskStatus.failed})
                           THEN created_at + new_ms + executing_ms END
         FROM (SELECT task_id AS id, ${STATUS_AT} AS s FROM tasks
               WHERE status IN (${TaskStatus.new}, ${TaskStatus.executing})) AS x
         WHERE tasks.task_id = x.id AND x.s <> tasks.status
         RETURNING task_id, src_user_id, acting_user_id, status, end_time`,
        now,
        now,
      )
      .toArray();
    const audit: AuditEntry[] = [];
    for (const t of changed) {
      if (t.status !== TaskStatus.success) continue;
      const user = store.user(t.src_user_id);
      if (!user) continue;
      store.sql.exec(
        "INSERT OR REPLACE INTO removed_users (user_id, name, removed_at, task_id) VALUES (?, ?, ?, ?)",
        t.src_user_id,
        user.name,
        t.end_time,
        t.task_id,
      );
      store.sql.exec("DELETE FROM users WHERE user_id = ?", t.src_user_id);
      store.sql.exec("DELETE FROM handover_recipients WHERE user_id = ?", t.src_user_id);
      audit.push({
        at: t.end_time,
        operatorId: t.acting_user_id,
        operation: AuditOperation.userDelete,
        resource: t.src_user_id,
        message: `removed by handover task ${t.task_id}`,
      });
    }
    recordAudit(store, audit);
  });
}

/** TaskInfo as the list carries it [api.md "Handover": list items add initParams and the times]. */
function taskInfo(t: TaskRow, full: boolean): Record<string, unknown> {
  const info: Record<string, unknown> = {
    taskId: t.task_id,
    taskName: "transfer and delete",
    taskType: t.task_type,
    tenantId: SIM_ORG_ID,
    // The source user [inferred: the reference lists `userId` without saying whose it is].
    userId: t.src_user_id,
    status: t.status,
  };
  if (t.status === TaskStatus.failed) info.resultCode = TASK_FAILED_RESULT_CODE;
  if (!full) return info;
  // Times as epoch milliseconds, like the share list's times [inferred: the reference gives no format].
  info.initParams = JSON.stringify({ srcUserId: t.src_user_id, dstUserId: t.dst_user_id });
  info.createTime = t.created_at;
  if (t.status !== TaskStatus.new) info.startTime = t.created_at + t.new_ms;
  if (t.end_time !== null) info.endTime = t.end_time;
  return info;
}

export function taskRow(store: Store, taskId: string): TaskRow | undefined {
  return store.sql.exec<TaskRow>("SELECT * FROM tasks WHERE task_id = ?", taskId).toArray()[0];
}

const isId = (v: unknown): v is string => typeof v === "string" && USER_ID_PATTERN.test(v);

/**
 * `POST /task/create` `{taskType: 0, srcUserId, dstUserId}` -> `{taskId}`. Refused (the reference names no
 * codes for these; the simulator's choices): a taskType other than 0, ids that are not 19-digit strings,
 * src == dst (13000102); a src or dst user that does not exist (13000309); a src that already has a task
 * NEW or EXECUTING (13000102 "a handover task for this user is already running"), so a blind second create
 * is refused rather than starting a second transfer of the same data. After a FAILED task a new one may
 * be created.
 */
export function taskCreate(
  store: Store,
  faults: FaultEngine,
  actingUserId: string,
  body: Uint8Array,
): ApiResult {
  const parsed = parseJsonBody(body);
  if (!("value" in parsed)) return parsed;
  const b = (parsed.value ?? {}) as { taskType?: unknown; srcUserId?: unknown; dstUserId?: unknown };
  if (b.taskType !== HANDOVER_TASK_TYPE) return fail(Code.paramInvalid, "taskType must be 0");
  const { srcUserId: src, dstUserId: dst } = b;
  if (!isId(src) || !isId(dst))
    return fail(Code.paramInvalid, "srcUserId and dstUserId must be 19-digit strings");
  if (src === dst) return fail(Code.paramInvalid, "srcUserId and dstUserId must differ");
  if (!store.user(src) || !store.user(dst)) return fail(Code.notFound, USER_NOT_FOUND);
  const running = store.sql
    .exec<{ n: number }>(
      "SELECT count(*) AS n FROM tasks WHERE src_user_id = ? AND status IN (?, ?)",
      src,
      TaskStatus.new,
      TaskStatus.executing,
    )
    .one().n;
  if (running > 0) return fail(Code.paramInvalid, "a handover task for this user is already running");
  const timing = readTaskTiming(store);
  const fate = faults.taskFate();
  const now = Date.now();
  const taskId = store.transaction(() => {
    const id = (TASK_ID_BASE + BigInt(store.bump("seq:taskId") - 1)).toString();
    store.sql.exec(
      `INSERT INTO tasks (task_id, task_type, src_user_id, dst_user_id, acting_user_id, created_at, new_ms,
                          executing_ms, fate, status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      id,
      HANDOVER_TASK_TYPE,
      src,
      dst,
      actingUserId,
      now,
      timing.newMs,
      timing.executingMs,
      fate,
      TaskStatus.new,
    );
    recordAudit(store, [
      {
        at: now,
        operatorId: actingUserId,
        operation: AuditOperation.taskCreate,
        resource: id,
        message: `transfer ${src} to ${dst}`,
      },
    ]);
    return id;
  });
  // A task with no time to spend NEW or EXECUTING is finished at once.
  settleTasks(store, now);
  return { ...ok({ taskId }), ...(fate !== "succeed" ? { note: `task:${fate}` } : {}) };
}

/** `GET /task/{taskId}`: the detail fields [api.md]; an unknown id is 13000309. */
export function taskGet(store: Store, taskId: string): ApiResult {
  const t = taskRow(store, taskId);
  if (!t) return fail(Code.notFound, TASK_NOT_FOUND);
  return ok(taskInfo(t, false));
}

/** An integer query parameter, absent when missing or empty (`status=` in the reference's example). */
function intParam(params: URLSearchParams, name: string): number | undefined | string {
  const raw = params.get(name);
  if (raw === null || raw === "") return undefined;
  if (!/^\d{1,19}$/.test(raw)) return `${name} must be a non-negative integer`;
  return Number(raw);
}

/**
 * `GET /task/list?taskType=0&status=&pageSize=&pageCursor=`: newest first. `pageCursor` is a Long
 * [api.md]: absent or 0 for the first page, else the `nextCursor` of the page before (the sequence number
 * of its last task, sent as a JSON number, small enough to be exact); `nextCursor` is absent on the last
 * page. The array is `taskList`, or `taskListDtos` (the reference example's spelling) with that quirk on.
 */
export function taskList(store: Store, params: URLSearchParams, dtosSpelling: boolean): ApiResult {
  const taskType = intParam(params, "taskType");
  const status = intParam(params, "status");
  const pageSize = intParam(params, "pageSize") ?? DEFAULT_TASK_PAGE_SIZE;
  const cursor = intParam(params, "pageCursor") ?? 0;
  if (typeof taskType === "string") return fail(Code.paramInvalid, taskType);
  if (typeof status === "string") return fail(Code.paramInvalid, status);
  if (typeof pageSize === "string") return fail(Code.paramInvalid, pageSize);
  if (typeof cursor === "string") return fail(Code.paramInvalid, cursor);
  if (pageSize < 1 || pageSize > MAX_TASK_PAGE_SIZE)
    return fail(Code.paramInvalid, `pageSize must be within 1..${MAX_TASK_PAGE_SIZE}`);
  if (status !== undefined && !(Object.values(TaskStatus) as number[]).includes(status))
    return fail(Code.paramInvalid, "status must be 0, 1, 2 or 3");
  const where = ["1 = 1"];
  const bindings: number[] = [];
  const add = (condition: string, value: number) => {
    where.push(condition);
    bindings.push(value);
  };
  if (taskType !== undefined) add("task_type = ?", taskType);
  if (status !== undefined) add("status = ?", status);
  if (cursor !== 0) add("seq < ?", cursor);
  const rows = store.sql
    .exec<TaskRow>(
      `SELECT * FROM tasks WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`,
      ...bindings,
      pageSize + 1,
    )
    .toArray();
  const page = rows.slice(0, pageSize);
  const fields: Record<string, unknown> = {
    [dtosSpelling ? "taskListDtos" : "taskList"]: page.map((t) => taskInfo(t, true)),
  };
  const last = page.at(-1);
  if (rows.length > page.length && last) fields.nextCursor = last.seq;
  return { ...ok(fields), ...(dtosSpelling ? { note: "taskListDtos" } : {}) };
}

/**
 * `GET /task/dstUserInfo/{srcUserId}` -> `{id, name}`: the recipient KooDrive's admin configured for this
 * user. None configured is answered `code 0` with `id` and `name` empty strings [inferred: the reference does
 * not say how "none" looks]; an unknown source user is 13000309.
 */
export function dstUserInfo(store: Store, srcUserId: string): ApiResult {
  if (!store.user(srcUserId)) return fail(Code.notFound, USER_NOT_FOUND);
  const row = store.sql
    .exec<{ dst_user_id: string }>("SELECT dst_user_id FROM handover_recipients WHERE user_id = ?", srcUserId)
    .toArray()[0];
  if (!row) return ok({ id: "", name: "" });
  return ok({ id: row.dst_user_id, name: store.user(row.dst_user_id)?.name ?? "" });
}

/** Sets (or, with null, clears) a user's configured recipient: the seed and the control plane. */
export function setHandoverRecipient(store: Store, userId: string, to: string | null): void {
  if (to === null) store.sql.exec("DELETE FROM handover_recipients WHERE user_id = ?", userId);
  else
    store.sql.exec(
      `INSERT INTO handover_recipients (user_id, dst_user_id) VALUES (?, ?)
       ON CONFLICT (user_id) DO UPDATE SET dst_user_id = excluded.dst_user_id`,
      userId,
      to,
    );
}
