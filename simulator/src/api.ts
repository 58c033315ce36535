/**
 * The KooDrive endpoints, after authentication and fault injection. Every handler is synchronous SQL, so
 * one call is atomic inside the Durable Object.
 * @see ../../../shared/koodrive-api.md
 */
import { type AuditEntry, AuditOperation, auditLogQuery, recordAudit } from "./auditlog";
import type { Endpoint, FaultEngine } from "./faults";
import { Code, MAX_IDS_PER_CALL, SHARE_ID_PATTERN } from "./limits";
import { cutPage, keysetClause, type PageRequest, parsePaging, type Quirks } from "./paging";
import { type ApiResult, fail, INNER_FAILURE, ok, parseJsonBody, SHARE_NOT_FOUND } from "./result";
import type { Recipients, ShareCounters, ShareRow, Store } from "./store";
import { dstUserInfo, taskCreate, taskGet, taskList } from "./tasks";
import { userGet, userList, userPut } from "./users";

export interface Route {
  endpoint: Endpoint;
  /** The `{shareId}`, `{userId}` or `{taskId}` path parameter. */
  param?: string;
}

function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Maps method + path (below the API prefix) to an endpoint; null = unknown route (404). */
export function matchRoute(method: string, subPath: string): Route | null {
  const path = subPath.replace(/\/+$/, "");
  const m = method.toUpperCase();
  if (path === "/share") return m === "GET" ? { endpoint: "list" } : null;
  if (path === "/share/cancel") return m === "POST" ? { endpoint: "cancel" } : null;
  if (path === "/share/received") return m === "GET" ? { endpoint: "received" } : null;
  if (path === "/share/exit") return m === "POST" ? { endpoint: "exit" } : null;
  if (path === "/userList") return m === "GET" ? { endpoint: "userList" } : null;
  if (path === "/auditlog") return m === "POST" ? { endpoint: "auditlog" } : null;
  if (path === "/task/create") return m === "POST" ? { endpoint: "taskCreate" } : null;
  if (path === "/task/list") return m === "GET" ? { endpoint: "taskList" } : null;
  const recipient = /^\/task\/dstUserInfo\/([^/]+)$/.exec(path);
  if (recipient?.[1])
    return m === "GET" ? { endpoint: "dstUserInfo", param: decodeParam(recipient[1]) } : null;
  const task = /^\/task\/([^/]+)$/.exec(path);
  if (task?.[1] && m === "GET") return { endpoint: "taskGet", param: decodeParam(task[1]) };
  const share = /^\/share\/([^/]+)$/.exec(path);
  if (share?.[1] && m === "GET") return { endpoint: "detail", param: decodeParam(share[1]) };
  const user = /^\/users\/([^/]+)$/.exec(path);
  if (user?.[1] && m === "GET") return { endpoint: "userGet", param: decodeParam(user[1]) };
  if (user?.[1] && m === "PUT") return { endpoint: "userUpdate", param: decodeParam(user[1]) };
  return null;
}

/** ShareByMeLink [api.md "List"]; `permission` is derived from the scope [inferred: not stored]. */
function shareLink(row: ShareRow): Record<string, unknown> {
  return {
    shareId: row.share_id,
    shortUrl: row.short_url,
    linkUrl: row.link_url,
    shareTime: row.share_time,
    scope: row.scope,
    files: JSON.parse(row.files),
    displayName: row.display_name,
    expireTime: row.expire_time,
    status: row.status,
    comment: row.comment,
    viewCnt: row.view_cnt,
    containerId: row.container_id,
    containerName: row.container_name,
    permission: { preview: true, edit: false, download: row.scope !== 1 },
  };
}

/** Parses a `{"shareIds": [...]}` body: 1..100 strings [api.md "Cancel"]. */
function parseShareIds(body: Uint8Array): string[] | ApiResult {
  const parsed = parseJsonBody(body);
  if (!("value" in parsed)) return parsed;
  const ids = (parsed.value as { shareIds?: unknown } | null)?.shareIds;
  if (!Array.isArray(ids) || ids.length < 1 || ids.length > MAX_IDS_PER_CALL) {
    return fail(Code.paramInvalid, `shareIds must hold 1 to ${MAX_IDS_PER_CALL} ids`);
  }
  if (!ids.every((id) => typeof id === "string")) return fail(Code.paramInvalid, "shareIds must be strings");
  return ids as string[];
}

export class Api {
  constructor(
    private readonly store: Store,
    private readonly faults: FaultEngine,
    private readonly quirks: Quirks,
  ) {}

  handle(route: Route, userId: string, url: URL, body: Uint8Array): ApiResult {
    switch (route.endpoint) {
      case "list":
        return this.list(userId, url.searchParams, false);
      case "received":
        return this.list(userId, url.searchParams, true);
      case "cancel":
        return this.cancel(userId, body);
      case "exit":
        return this.exit(userId, body);
      case "detail":
        return this.detail(userId, route.param ?? "");
      case "userList":
        return userList(this.store, url.searchParams);
      case "userGet":
        return userGet(this.store, route.param ?? "");
      case "userUpdate":
        return userPut(this.store, userId, route.param ?? "", body);
      case "taskCreate":
        return taskCreate(this.store, this.faults, userId, body);
      case "taskGet":
        return taskGet(this.store, route.param ?? "");
      case "taskList":
        return taskList(this.store, url.searchParams, this.quirks.taskListDtos);
      case "dstUserInfo":
        return dstUserInfo(this.store, route.param ?? "");
      case "auditlog":
        return auditLogQuery(this.store, body);
    }
  }

  /** `GET /share` (own shares) and `GET /share/received` (shares naming the caller as a recipient). */
  private list(userId: string, params: URLSearchParams, received: boolean): ApiResult {
    const req = parsePaging(params);
    if (typeof req === "string") return fail(Code.paramInvalid, req);
    const rows = this.queryPage(userId, req, params.get("displayName"), received);
    const pageNo = this.store.bump("seq:page");
    const page = cutPage(rows, req, this.quirks, pageNo);
    const owners = new Map<string, string>();
    const shareLinks = page.items.map((row) => {
      const link = shareLink(row);
      if (!received) return link;
      if (!owners.has(row.owner_id)) owners.set(row.owner_id, this.store.user(row.owner_id)?.name ?? "");
      return { ...link, ownerId: row.owner_id, ownerName: owners.get(row.owner_id) };
    });
    const fields: Record<string, unknown> = { shareLinks };
    if (page.nextCursor !== undefined) fields.nextCursor = page.nextCursor;
    return { ...ok(fields), ...(page.quirk ? { note: `${page.quirk}Page` } : {}) };
  }

  private queryPage(
    userId: string,
    req: PageRequest,
    displayName: string | null,
    received: boolean,
  ): ShareRow[] {
    const keyset = keysetClause(req);
    const where = ["cancelled_at IS NULL"];
    const bindings: (string | number)[] = [];
    if (received) {
      where.push("EXISTS (SELECT 1 FROM json_each(recipients, '$.users') WHERE value ->> '$.id' = ?)");
    } else {
      where.push("owner_id = ?");
    }
    bindings.push(userId);
    // displayName is a fuzzy match [api.md "List"]: case-insensitive "contains" [inferred].
    if (displayName) {
      where.push("instr(lower(display_name), lower(?)) > 0");
      bindings.push(displayName);
    }
    where.push(keyset.where);
    const sql = `SELECT * FROM shares WHERE ${where.join(" AND ")} ORDER BY ${keyset.order} LIMIT ?`;
    return this.store.sql.exec<ShareRow>(sql, ...bindings, ...keyset.bindings, req.pageSize + 1).toArray();
  }

  /**
   * `POST /share/cancel`: one subResponse per id, in order; the batch can partly fail [api.md "Cancel"].
   * Unknown, foreign and already-cancelled ids all answer 13000309 (the per-id codes are [unknown]).
   */
  private cancel(userId: string, body: Uint8Array): ApiResult {
    const ids = parseShareIds(body);
    if (!Array.isArray(ids)) return ids;
    let failed = 0;
    let omitted = 0;
    // One read and one write per call (not per id): the simulator must not be the bottleneck of a benchmark.
    const subResponseList = this.store.transaction(() => {
      const rows = this.store.shareStates(ids.filter((id) => SHARE_ID_PATTERN.test(id)));
      const changes = new Map<string, ShareCounters>();
      const change = (id: string) => {
        const known = changes.get(id);
        if (known) return known;
        const c = { id, requests: 0, afterCancelled: 0, cancelled: 0 };
        changes.set(id, c);
        return c;
      };
      // Ids are handled in order, so an id repeated in one call is cancelled once and then "not found".
      const answers = ids.map((shareId) => {
        const row = rows.get(shareId);
        if (!row) return { shareId, code: Code.notFound, msg: SHARE_NOT_FOUND };
        const c = change(shareId);
        c.requests += 1;
        if (row.owner_id !== userId) return { shareId, code: Code.notFound, msg: SHARE_NOT_FOUND };
        if (row.cancelled_at !== null || c.cancelled > 0) {
          c.afterCancelled += 1;
          return { shareId, code: Code.notFound, msg: SHARE_NOT_FOUND };
        }
        if (this.faults.shareFails(shareId)) {
          failed += 1;
          return { shareId, code: Code.innerFailure, msg: INNER_FAILURE };
        }
        c.cancelled = 1;
        return { shareId, code: Code.ok, msg: "success" };
      });
      const at = Date.now();
      this.store.applyCancels([...changes.values()], at);
      // KooDrive's audit log records each cancel, resource = the share id; an auditOmit fault drops one.
      const audit: AuditEntry[] = [];
      for (const c of changes.values()) {
        if (c.cancelled === 0) continue;
        if (this.faults.auditOmits(c.id)) omitted += 1;
        else
          audit.push({
            at,
            operatorId: userId,
            operation: AuditOperation.shareCancel,
            resource: c.id,
            message: "share cancelled",
          });
      }
      recordAudit(this.store, audit);
      return answers;
    });
    const notes = [failed ? `shareFailure:${failed}` : "", omitted ? `auditOmit:${omitted}` : ""];
    const note = notes.filter(Boolean).join(",");
    return { ...ok({ subResponseList }), ids: ids.length, ...(note ? { note } : {}) };
  }

  /** `POST /share/exit`: removes the caller from the recipients of shares others gave them. */
  private exit(userId: string, body: Uint8Array): ApiResult {
    const ids = parseShareIds(body);
    if (!Array.isArray(ids)) return ids;
    const subResponseList = this.store.transaction(() =>
      ids.map((shareId) => {
        const row = SHARE_ID_PATTERN.test(shareId) ? this.store.share(shareId) : undefined;
        const recipients = row ? (JSON.parse(row.recipients) as Recipients) : null;
        if (!row || row.cancelled_at !== null || !recipients?.users.some((u) => u.id === userId)) {
          return { shareId, code: Code.notFound, msg: SHARE_NOT_FOUND };
        }
        recipients.users = recipients.users.filter((u) => u.id !== userId);
        this.store.sql.exec(
          "UPDATE shares SET recipients = ? WHERE share_id = ?",
          JSON.stringify(recipients),
          shareId,
        );
        return { shareId, code: Code.ok, msg: "success" };
      }),
    );
    return { ...ok({ subResponseList }), ids: ids.length };
  }

  /** `GET /share/{shareId}`: list fields plus recipients; only the owner sees it [api.md "Detail"]. */
  private detail(userId: string, shareId: string): ApiResult {
    const row = this.store.share(shareId);
    if (!row || row.owner_id !== userId || row.cancelled_at !== null)
      return fail(Code.notFound, SHARE_NOT_FOUND);
    const recipients = JSON.parse(row.recipients) as Recipients;
    return ok({ shareLink: { ...shareLink(row), ...recipients } });
  }
}
