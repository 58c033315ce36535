/**
 * The user endpoints: list, get, enable/disable [api.md "Users"].
 */

import { AuditOperation, recordAudit } from "./auditlog";
import { Code, MAX_USER_LIST_LIMIT, SIM_ORG_ID } from "./limits";
import { type ApiResult, fail, ok, parseJsonBody, USER_NOT_FOUND } from "./result";
import type { Store, UserRow } from "./store";

/** Mobile numbers come back masked, e.g. 138****0000 [api.md "Users": "mobile (masked)"]. */
function maskMobile(mobile: string): string {
  return mobile.length >= 7 ? `${mobile.slice(0, 3)}****${mobile.slice(-4)}` : "****";
}

/**
 * `GET /userList`: offset and limit required, limit 1..100, keyWord matches names only [api.md "Users"].
 * The result nests under `data` [inferred: "Some endpoints nest under data (users)"].
 * Any user may list users: the doc names no admin requirement for app authentication [inferred].
 */
export function userList(store: Store, params: URLSearchParams): ApiResult {
  const offset = params.get("offset");
  const limit = params.get("limit");
  if (offset === null || !/^\d{1,9}$/.test(offset))
    return fail(Code.paramInvalid, "offset must be an integer >= 0");
  if (
    limit === null ||
    !/^\d{1,4}$/.test(limit) ||
    Number(limit) < 1 ||
    Number(limit) > MAX_USER_LIST_LIMIT
  ) {
    return fail(Code.paramInvalid, `limit must be within 1..${MAX_USER_LIST_LIMIT}`);
  }
  const where = ["1 = 1"];
  const bindings: string[] = [];
  const deptId = params.get("deptId");
  if (deptId) {
    where.push("dept_id = ?");
    bindings.push(deptId);
  }
  const keyWord = params.get("keyWord");
  if (keyWord) {
    where.push("instr(lower(name), lower(?)) > 0");
    bindings.push(keyWord);
  }
  const clause = where.join(" AND ");
  const total = store.sql
    .exec<{ n: number }>(`SELECT count(*) AS n FROM users WHERE ${clause}`, ...bindings)
    .one().n;
  const rows = store.sql
    .exec<UserRow>(
      `SELECT * FROM users WHERE ${clause} ORDER BY user_id LIMIT ? OFFSET ?`,
      ...bindings,
      Number(limit),
      Number(offset),
    )
    .toArray();
  const list = rows.map((u) => ({
    name: u.name,
    userId: u.user_id,
    deptId: u.dept_id,
    deptName: u.dept_name,
    mobile: maskMobile(u.mobile),
    role: u.role,
    status: u.status,
    id: u.id,
  }));
  return ok({ data: { total, list } });
}

/**
 * `GET /users/{userId}`: the path takes the KooDrive userId, not the third-party id [inferred; doc unknown].
 * An id no user has is 13000309 "resource does not exist", like any missing resource [inferred: the contract
 * does not say how an unknown user is answered]; `PUT` alike.
 */
export function userGet(store: Store, userId: string): ApiResult {
  const u = store.user(userId);
  if (!u) return fail(Code.notFound, USER_NOT_FOUND);
  return ok({
    data: {
      id: u.id,
      orgId: SIM_ORG_ID,
      userId: u.user_id,
      deptId: u.dept_id,
      deptName: u.dept_name,
      mobile: maskMobile(u.mobile),
      name: u.name,
      role: u.role,
      status: u.status,
    },
  });
}

/**
 * `PUT /users/{userId}` `{status: 0|1}` (0 enabled, 1 disabled) [api.md "Users"]; recorded in KooDrive's
 * audit log (`user.disable` / `user.enable`, resource = the user id), setting the status it already has too.
 * A disabled user's shares stay listed and cancellable: disabling stops sign-in only [api.md "Users"].
 */
export function userPut(store: Store, actingUserId: string, userId: string, body: Uint8Array): ApiResult {
  const parsed = parseJsonBody(body);
  if (!("value" in parsed)) return parsed;
  const status = (parsed.value as { status?: unknown } | null)?.status;
  if (status !== 0 && status !== 1) return fail(Code.paramInvalid, "status must be 0 or 1");
  if (!store.user(userId)) return fail(Code.notFound, USER_NOT_FOUND);
  store.transaction(() => {
    store.sql.exec("UPDATE users SET status = ? WHERE user_id = ?", status, userId);
    recordAudit(store, [
      {
        at: Date.now(),
        operatorId: actingUserId,
        operation: status === 1 ? AuditOperation.userDisable : AuditOperation.userEnable,
        resource: userId,
        message: `status ${status}`,
      },
    ]);
  });
  return ok();
}
