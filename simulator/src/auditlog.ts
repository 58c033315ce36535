/**
 * KooDrive's own audit log [api.md "Handover, blocking and evidence": `POST /auditlog`]: what the tenant
 * recorded about operations, which the service reads as evidence of its cancels.
 *
 * Recorded (successful operations only, `operateResult` 0 [inferred]): every share cancelled (`share.cancel`,
 * resource = the share id), every handover task created (`task.create`, resource = the task id), every
 * user status change (`user.disable` / `user.enable`, resource = the user id) and every user removed by a
 * handover (`user.delete`, resource = the user id). The operation names are the simulator's own: the real
 * ones are undocumented, which is why a caller must match by `resource`, never by `operation`.
 */
import {
  AUDIT_LOG_ID_BASE,
  AUDIT_RESULT_OK,
  Code,
  DEFAULT_AUDIT_PAGE_SIZE,
  MAX_AUDIT_PAGE_SIZE,
  SIM_OPERATOR_IP,
  SIM_ORG_ID,
} from "./limits";
import { type ApiResult, fail, ok, parseJsonBody } from "./result";
import type { Store } from "./store";

/** The simulator's operation names (see the file comment). */
export const AuditOperation = {
  shareCancel: "share.cancel",
  taskCreate: "task.create",
  userDisable: "user.disable",
  userEnable: "user.enable",
  userDelete: "user.delete",
} as const;

export interface AuditEntry {
  at: number;
  operatorId: string;
  operation: string;
  resource: string;
  message: string;
}

interface AuditRow {
  seq: number;
  at: number;
  operator_id: string;
  operator_name: string;
  operation: string;
  resource: string;
  operate_result: number;
  message: string;
  [key: string]: SqlStorageValue;
}

/**
 * Appends entries in one statement (a cancel of 100 shares is one insert, not 100); the operator's name is
 * looked up in the same statement. Runs inside the caller's transaction, so an entry exists iff the
 * operation happened.
 */
export function recordAudit(store: Store, entries: AuditEntry[]): void {
  if (entries.length === 0) return;
  store.sql.exec(
    `INSERT INTO audit_log (at, operator_id, operator_name, operation, resource, operate_result, message)
     SELECT e.value ->> '$.at', e.value ->> '$.operatorId',
            coalesce((SELECT name FROM users WHERE user_id = e.value ->> '$.operatorId'), ''),
            e.value ->> '$.operation', e.value ->> '$.resource', ?, e.value ->> '$.message'
     FROM json_each(?) AS e`,
    AUDIT_RESULT_OK,
    JSON.stringify(entries),
  );
}

/** `2025-01-01T00:00:01.000Z`, the reference's example format for operTimeFrom / operTimeTo [api.md]. */
const TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
/** sortType 1 = time, the only one documented; sortDirection 1 asc, 2 desc [api.md]. */
const SORT_BY_TIME = 1;
const SORT_ASC = 1;
const SORT_DESC = 2;
/** Pages are numbered from 1 [inferred: the reference does not say]. */
const FIRST_PAGE_NUM = 1;

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");

function parseTime(value: unknown, name: string): number | null | string {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || !TIME_PATTERN.test(value) || Number.isNaN(Date.parse(value)))
    return `${name} must be a UTC time like 2025-01-01T00:00:01.000Z`;
  return Date.parse(value);
}

interface Query {
  where: string[];
  bindings: (string | number)[];
  pageSize: number;
  pageNum: number;
  asc: boolean;
}

/** The filter part of the body: SQL conditions and their values, or an error message. */
function parseFilter(b: Record<string, unknown>): Pick<Query, "where" | "bindings"> | string {
  const where: string[] = [];
  const bindings: (string | number)[] = [];
  const add = (condition: string, ...values: (string | number)[]) => {
    where.push(condition);
    bindings.push(...values);
  };
  const from = parseTime(b.operTimeFrom, "operTimeFrom");
  const to = parseTime(b.operTimeTo, "operTimeTo");
  if (typeof from === "string") return from;
  if (typeof to === "string") return to;
  if (from !== null) add("at >= ?", from);
  if (to !== null) add("at <= ?", to);
  const { operatorName, operatorIP, operateResult } = b;
  if (operatorName !== undefined && operatorName !== null) {
    if (typeof operatorName !== "string") return "operatorName must be a string";
    add("operator_name = ?", operatorName);
  }
  if (operatorIP !== undefined && operatorIP !== null) {
    if (typeof operatorIP !== "string") return "operatorIP must be a string";
    // Every entry's operator IP is SIM_OPERATOR_IP.
    add("? = ?", SIM_OPERATOR_IP, operatorIP);
  }
  for (const [field, negate] of [
    ["operations", false],
    ["excludedOperations", true],
  ] as const) {
    const v = b[field];
    if (v === undefined || v === null) continue;
    if (!isStrings(v)) return `${field} must be an array of strings`;
    if (v.length > 0)
      add(`operation ${negate ? "NOT IN" : "IN"} (SELECT value FROM json_each(?))`, JSON.stringify(v));
  }
  if (operateResult !== undefined && operateResult !== null) {
    if (!isInt(operateResult)) return "operateResult must be an integer";
    add("operate_result = ?", operateResult);
  }
  return { where, bindings };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads the (all optional) body; an error message for anything KooDrive would call a parameter error. */
function parseQuery(b: Record<string, unknown>): Query | string {
  const filter = parseFilter(b);
  if (typeof filter === "string") return filter;
  const pageInfo = b.pageInfo ?? {};
  if (!isObject(pageInfo)) return "pageInfo must be an object";
  const pageSize = pageInfo.pageSize ?? DEFAULT_AUDIT_PAGE_SIZE;
  if (!isInt(pageSize) || pageSize < 1 || pageSize > MAX_AUDIT_PAGE_SIZE)
    return `pageInfo.pageSize must be within 1..${MAX_AUDIT_PAGE_SIZE}`;
  const pageNum = pageInfo.pageNum ?? FIRST_PAGE_NUM;
  if (!isInt(pageNum) || pageNum < FIRST_PAGE_NUM) return "pageInfo.pageNum must be an integer >= 1";
  const sortInfo = b.sortInfo ?? {};
  if (!isObject(sortInfo)) return "sortInfo must be an object";
  if (sortInfo.sortType !== undefined && sortInfo.sortType !== SORT_BY_TIME)
    return "sortInfo.sortType must be 1";
  const direction = sortInfo.sortDirection ?? SORT_DESC;
  if (direction !== SORT_ASC && direction !== SORT_DESC) return "sortInfo.sortDirection must be 1 or 2";
  return { ...filter, pageSize, pageNum, asc: direction === SORT_ASC };
}

/** An entry as `logInfoList[]` carries it [api.md]. */
function logInfo(row: AuditRow): Record<string, unknown> {
  return {
    logId: (AUDIT_LOG_ID_BASE + BigInt(row.seq)).toString(),
    tenantId: SIM_ORG_ID,
    operatorName: row.operator_name,
    operatorId: row.operator_id,
    operateTime: new Date(row.at).toISOString(),
    operation: row.operation,
    resource: row.resource,
    operateResult: row.operate_result,
    operatorIP: SIM_OPERATOR_IP,
    message: row.message,
  };
}

/**
 * `POST /auditlog`: filter, `total` (entries matching the filter), one page (`pageNum` from 1, `pageSize`
 * 1-100, default 10), sorted by time (default newest first [inferred]; ties in recording order). An empty
 * body is every entry.
 */
export function auditLogQuery(store: Store, body: Uint8Array): ApiResult {
  let raw: unknown = {};
  if (body.length > 0) {
    const parsed = parseJsonBody(body);
    if (!("value" in parsed)) return parsed;
    raw = parsed.value;
  }
  if (!isObject(raw)) return fail(Code.paramInvalid, "body must be a JSON object");
  const q = parseQuery(raw);
  if (typeof q === "string") return fail(Code.paramInvalid, q);
  const clause = q.where.length ? `WHERE ${q.where.join(" AND ")}` : "";
  const total = store.sql
    .exec<{ n: number }>(`SELECT count(*) AS n FROM audit_log ${clause}`, ...q.bindings)
    .one().n;
  const dir = q.asc ? "ASC" : "DESC";
  const rows = store.sql
    .exec<AuditRow>(
      `SELECT * FROM audit_log ${clause} ORDER BY at ${dir}, seq ${dir} LIMIT ? OFFSET ?`,
      ...q.bindings,
      q.pageSize,
      (q.pageNum - FIRST_PAGE_NUM) * q.pageSize,
    )
    .toArray();
  return ok({ total, logInfoList: rows.map(logInfo) });
}

/** Every entry, oldest first (optionally for one resource): the control plane's view. */
export function auditEntries(store: Store, resource: string | null): Record<string, unknown>[] {
  const rows = store.sql
    .exec<AuditRow>(
      `SELECT * FROM audit_log ${resource ? "WHERE resource = ?" : ""} ORDER BY at, seq`,
      ...(resource ? [resource] : []),
    )
    .toArray();
  return rows.map(logInfo);
}
