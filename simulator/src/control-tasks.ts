/**
 * Control routes for the leaver's other steps (below /__sim/, already authenticated by control.ts):
 * task timing and inspection, one user's state (status, removed by a handover, configured recipient), and
 * KooDrive's audit log as stored.
 *
 * - `GET /tasks?src=<userId>` -> `{timing: {newMs, executingMs}, tasks: [{taskId, srcUserId, dstUserId,
 *   actingUserId, status, resultCode?, fate, createdAt, endTime}]}` (oldest first)
 * - `PUT /tasks` `{newMs?, executingMs?}` -> `{timing}`: how long tasks created from now on stay NEW, then
 *   EXECUTING
 * - `PUT /tasks/<taskId>` `{fate: "succeed"|"fail"|"stuck"}` -> `{task}`: changes how an unfinished task
 *   ends; releasing a stuck task ends it now (its EXECUTING phase is stretched to the present)
 * - `GET /users/<userId>` -> `{userId, exists, status, removed: {at, taskId} | null, handoverTo}`
 * - `PUT /users/<userId>/handover` `{to: "<userId>" | null}` -> `{userId, handoverTo}`
 * - `GET /auditlog?resource=<id>` -> `{entries: [...]}` (oldest first)
 */
import { auditEntries } from "./auditlog";
import { TASK_FATES, type TaskFate } from "./faults";
import { TASK_FAILED_RESULT_CODE, TaskStatus, USER_ID_PATTERN } from "./limits";
import type { Store } from "./store";
import {
  parseTaskTiming,
  readTaskTiming,
  setHandoverRecipient,
  settleTasks,
  type TaskRow,
  taskRow,
} from "./tasks";

const json = (status: number, body: unknown): Response => Response.json(body, { status });
const bad = (error: string): Response => json(400, { error });

function taskView(t: TaskRow): Record<string, unknown> {
  return {
    taskId: t.task_id,
    srcUserId: t.src_user_id,
    dstUserId: t.dst_user_id,
    actingUserId: t.acting_user_id,
    status: t.status,
    ...(t.status === TaskStatus.failed ? { resultCode: TASK_FAILED_RESULT_CODE } : {}),
    fate: t.fate,
    createdAt: t.created_at,
    endTime: t.end_time,
  };
}

function userView(store: Store, userId: string): Record<string, unknown> {
  const user = store.user(userId);
  const removed = store.sql
    .exec<{ removed_at: number; task_id: string }>(
      "SELECT removed_at, task_id FROM removed_users WHERE user_id = ?",
      userId,
    )
    .toArray()[0];
  const recipient = store.sql
    .exec<{ dst_user_id: string }>("SELECT dst_user_id FROM handover_recipients WHERE user_id = ?", userId)
    .toArray()[0];
  return {
    userId,
    exists: user !== undefined,
    status: user?.status ?? null,
    removed: removed ? { at: removed.removed_at, taskId: removed.task_id } : null,
    handoverTo: recipient?.dst_user_id ?? null,
  };
}

/** Sets a task's fate; a task released from `stuck` ends at the next settle (now). */
function setFate(store: Store, taskId: string, fate: TaskFate): Response {
  const t = taskRow(store, taskId);
  if (!t) return json(404, { error: `no task ${taskId}` });
  if (t.status !== TaskStatus.new && t.status !== TaskStatus.executing)
    return json(409, { error: `task ${taskId} has already ended (status ${t.status})` });
  const now = Date.now();
  const executingMs = Math.max(t.executing_ms, now - t.created_at - t.new_ms);
  store.sql.exec("UPDATE tasks SET fate = ?, executing_ms = ? WHERE task_id = ?", fate, executingMs, taskId);
  settleTasks(store, now);
  return json(200, { task: taskView(taskRow(store, taskId) as TaskRow) });
}

/** Answers one of the routes above, or null when `route` is none of them. */
export async function handleTaskControl(
  request: Request,
  route: string,
  q: URLSearchParams,
  store: Store,
  readJson: (request: Request) => Promise<unknown>,
): Promise<Response | null> {
  if (route === "GET /tasks") {
    const src = q.get("src");
    const rows = store.sql
      .exec<TaskRow>(
        `SELECT * FROM tasks ${src ? "WHERE src_user_id = ?" : ""} ORDER BY seq`,
        ...(src ? [src] : []),
      )
      .toArray();
    return json(200, { timing: readTaskTiming(store), tasks: rows.map(taskView) });
  }
  if (route === "PUT /tasks") {
    const timing = parseTaskTiming(store, await readJson(request));
    if (typeof timing === "string") return bad(timing);
    store.setMeta("tasks", timing);
    return json(200, { timing });
  }
  const task = /^PUT \/tasks\/(\d{19})$/.exec(route);
  if (task?.[1]) {
    const fate = ((await readJson(request)) as { fate?: unknown } | undefined)?.fate;
    if (!TASK_FATES.includes(fate as TaskFate)) return bad(`fate must be one of ${TASK_FATES.join(", ")}`);
    return setFate(store, task[1], fate as TaskFate);
  }
  const user = /^GET \/users\/(\d{19})$/.exec(route);
  if (user?.[1]) return json(200, userView(store, user[1]));
  const handover = /^PUT \/users\/(\d{19})\/handover$/.exec(route);
  if (handover?.[1]) {
    const to = ((await readJson(request)) as { to?: unknown } | undefined)?.to;
    if (to !== null && !(typeof to === "string" && USER_ID_PATTERN.test(to)))
      return bad('body must be {"to": "<19-digit userId>"} or {"to": null}');
    if (!store.user(handover[1])) return json(404, { error: `no user ${handover[1]}` });
    setHandoverRecipient(store, handover[1], to);
    return json(200, { userId: handover[1], handoverTo: to });
  }
  if (route === "GET /auditlog") return json(200, { entries: auditEntries(store, q.get("resource")) });
  return null;
}
