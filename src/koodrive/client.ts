import type * as z from "zod";
import {
  type AuditLogEntry,
  AuditLogResponse,
  BatchResponse,
  Envelope,
  RecipientResponse,
  type ShareLink,
  ShareListResponse,
  type SubResponse,
  TaskCreateResponse,
  TaskInfo,
  TaskListResponse,
  type User,
  UserListResponse,
  UserResponse,
} from "./schema";
import { authorizationHeader, formatXDate, sign, TRACE_ID_LENGTH } from "./signer";

/** At most 100 ids per cancel / exit call; more is parameter error 13000102 [doc: Cancel]. */
export const MAX_IDS_PER_CANCEL = 100;
/** pageSize max 100 [doc: List]. */
export const PAGE_SIZE = 100;
/** userList `limit` 1-100 [doc: Users]. */
export const USER_PAGE_SIZE = 100;
/** `GET /task/list` pageSize max 100 [doc: "Handover, blocking and evidence"]. */
export const TASK_PAGE_SIZE = 100;
/** `POST /auditlog` pageInfo.pageSize 1-100 [doc: "Handover, blocking and evidence"]. */
export const AUDIT_PAGE_SIZE_MAX = 100;
/** taskType 0: the handover ("transfer and delete") [doc: "Handover, blocking and evidence"]. */
export const HANDOVER_TASK_TYPE = 0;
/** Task statuses [doc: "0 NEW, 1 EXECUTING, 2 SUCCESS, 3 FAILED"]. */
export const TaskStatus = { new: 0, executing: 1, success: 2, failed: 3 } as const;
/** KooDrive's success code; it may come as 0 or "0" [doc]. */
export const SUCCESS = "0";
/** "resource does not exist" [doc: error codes]. */
export const CODE_NOT_FOUND = "13000309";
/** "inner server invoke failure": server side, so a later attempt may succeed [doc: error codes]. */
export const CODE_INNER_FAILURE = "13000201";

export type CallName =
  | "share.list"
  | "share.cancel"
  | "share.detail"
  | "share.received"
  | "share.exit"
  | "user.list"
  | "user.get"
  | "user.update"
  | "task.create"
  | "task.get"
  | "task.list"
  | "task.recipient"
  | "auditlog";

/** A KooDrive call that did not succeed: says which call, for which user, and what KooDrive answered. */
export class KooDriveError extends Error {
  override readonly name = "KooDriveError";
  constructor(
    readonly call: CallName,
    readonly userId: string,
    readonly httpStatus: number | undefined,
    readonly code: string | undefined,
    readonly msg: string,
    /** True for 429, 5xx, timeouts and network errors: the same call may succeed later. */
    readonly retryable: boolean,
    readonly attempts: number,
  ) {
    const answered =
      httpStatus === undefined
        ? msg
        : `HTTP ${httpStatus}${code !== undefined ? ` code ${code}` : ""}: ${msg}`;
    super(`KooDrive ${call} as user ${userId} failed after ${attempts} attempt(s): ${answered}`);
  }
}

/** What became of one attempt, for a permit hook (the rate governor learns from 429s and successes). */
export interface PermitOutcome {
  call: CallName;
  status: "ok" | "rate_limited" | "failed";
  retryAfterMs?: number | undefined;
  /** What `acquire` answered for this attempt's permit (the governor's generation when it granted it). */
  permit?: number | undefined;
}

/**
 * Paces calls (the rate governor, governor/permits.ts): `acquire` resolves when the call may be sent (with a
 * tag for the permit, handed back in the attempt's outcome), `report` hears how each attempt went. Optional:
 * a client without one sends at once.
 */
export interface PermitHook {
  acquire(call: CallName): Promise<number | undefined>;
  report(outcome: PermitOutcome): Promise<void> | void;
}

export interface ClientOptions {
  baseUrl: string;
  appId: string;
  appSecret: string;
  /** Injected for tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Injected clock for X-Date. */
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Optional 58-character correlation id sent as X-Traceid on every call. */
  traceId?: string;
  timeoutMs?: number;
  /** Attempts per call, including the first. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A Retry-After longer than this is not waited for inline: the call fails as retryable instead. */
  maxRetryAfterMs?: number;
  /** Every attempt (retries included) takes a permit first and reports how it went. */
  permits?: PermitHook | undefined;
  /**
   * When above 0, a 429 is not one of the `maxAttempts`: the call waits it out (Retry-After, backoff) for up
   * to this many milliseconds in all, then fails as retryable. A busy tenant slows a run; it does not fail it.
   */
  rateLimitWaitMs?: number;
}

/** Outcome of one share in a cancel call, straight from `subResponseList`. */
export interface ShareOutcome {
  shareId: string;
  code: string;
  msg: string;
  ok: boolean;
  /**
   * An earlier attempt of this call may have been processed (it failed with 5xx, a timeout or a network
   * error, not a 429), so "not found" now may mean that attempt cancelled the share.
   */
  afterUncertainAttempt: boolean;
}

export interface SharePage {
  shareLinks: ShareLink[];
  nextCursor: string | undefined;
}

export interface RequestSpec<S extends z.ZodType> {
  call: CallName;
  method: "GET" | "POST" | "PUT";
  path: string;
  userId: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  schema: S;
  /**
   * Not safe to send twice (a create): after a failed attempt that may have been processed (5xx, timeout,
   * network error, 13000201), fail at once as retryable instead of resending. A 429 is still retried: the
   * gateway refused it before any work [doc: "Endpoints and transport"].
   */
  notIdempotent?: boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Parses Retry-After (seconds or HTTP date) into milliseconds. */
export function retryAfterMs(header: string | null, now: Date): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

/**
 * Typed KooDrive open API client with app-auth signing, per-call timeouts and bounded retries
 * (exponential backoff with full jitter, honouring Retry-After) on 429, 5xx and network errors only.
 */
export class KooDriveClient {
  private readonly opts: Required<Omit<ClientOptions, "traceId" | "permits">> & {
    traceId?: string;
    permits?: PermitHook | undefined;
  };

  constructor(options: ClientOptions) {
    if (options.traceId !== undefined && options.traceId.length !== TRACE_ID_LENGTH) {
      throw new Error(`X-Traceid must be exactly ${TRACE_ID_LENGTH} characters`);
    }
    this.opts = {
      fetch: (input, init) => fetch(input, init),
      now: () => new Date(),
      sleep: defaultSleep,
      random: Math.random,
      timeoutMs: 10_000,
      maxAttempts: 4,
      baseDelayMs: 250,
      maxDelayMs: 8_000,
      maxRetryAfterMs: 30_000,
      rateLimitWaitMs: 0,
      ...options,
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
    };
  }

  /** One page of `GET /share`. `cursor` "0" is the first page. */
  async listSharePage(
    userId: string,
    cursor: string,
    opts: { pageSize?: number; displayName?: string } = {},
  ): Promise<SharePage> {
    const res = await this.request({
      call: "share.list",
      method: "GET",
      path: "/koodrive/ose/v1/share",
      userId,
      query: { pageSize: opts.pageSize ?? PAGE_SIZE, pageCursor: cursor, displayName: opts.displayName },
      schema: ShareListResponse,
    });
    return { shareLinks: res.shareLinks, nextCursor: res.nextCursor };
  }

  /** One `POST /share/cancel` call with 1 to 100 ids. */
  async cancelBatch(userId: string, shareIds: readonly string[]): Promise<ShareOutcome[]> {
    return this.batchCall("share.cancel", "/koodrive/ose/v1/share/cancel", userId, shareIds);
  }

  /** One page of `GET /userList`, acting as `actingUserId` (a directory admin). */
  async listUsers(
    actingUserId: string,
    opts: { offset: number; limit?: number; keyWord?: string; deptId?: string },
  ): Promise<{ total: number; list: User[] }> {
    const res = await this.request({
      call: "user.list",
      method: "GET",
      path: "/koodrive/ose/v1/userList",
      userId: actingUserId,
      query: {
        offset: opts.offset,
        limit: opts.limit ?? USER_PAGE_SIZE,
        keyWord: opts.keyWord,
        deptId: opts.deptId,
      },
      schema: UserListResponse,
    });
    return { total: res.total, list: res.list };
  }

  /** All users whose name matches `keyWord` (KooDrive matches names only, fuzzily). */
  async findUsersByName(actingUserId: string, keyWord: string): Promise<User[]> {
    const found: User[] = [];
    for (let offset = 0; ; offset += USER_PAGE_SIZE) {
      const page = await this.listUsers(actingUserId, { offset, keyWord });
      found.push(...page.list);
      if (page.list.length === 0 || offset + USER_PAGE_SIZE >= page.total) return found;
    }
  }

  /** `GET /users/{userId}`. Which of the two ids it takes is [unknown]; we pass `userId`. */
  async getUser(actingUserId: string, userId: string) {
    const res = await this.request({
      call: "user.get",
      method: "GET",
      path: `/koodrive/ose/v1/users/${encodeURIComponent(userId)}`,
      userId: actingUserId,
      schema: UserResponse,
    });
    return res.data;
  }

  /** `PUT /users/{userId}` `{status}`: 1 disables the login, 0 enables it [doc: Users]; 13000309 if no such user. */
  async setUserStatus(actingUserId: string, userId: string, status: 0 | 1): Promise<void> {
    await this.request({
      call: "user.update",
      method: "PUT",
      path: `/koodrive/ose/v1/users/${encodeURIComponent(userId)}`,
      userId: actingUserId,
      body: { status },
      schema: Envelope,
    });
  }

  /**
   * `POST /task/create` `{taskType: 0, srcUserId, dstUserId}`: starts "transfer and delete" of the source
   * user's data to the recipient [doc: "Handover, blocking and evidence"]. Never resent after an attempt
   * that may have been processed: such a failure is a KooDriveError with `retryable` true, and the task may
   * or may not exist (look for it with `listTaskPage` before creating again). A 429 is retried as usual.
   */
  async createHandoverTask(
    actingUserId: string,
    srcUserId: string,
    dstUserId: string,
  ): Promise<{ taskId: string }> {
    if (srcUserId === dstUserId)
      throw new RangeError("a handover needs a recipient other than the source user");
    const res = await this.request({
      call: "task.create",
      method: "POST",
      path: "/koodrive/ose/v1/task/create",
      userId: actingUserId,
      body: { taskType: HANDOVER_TASK_TYPE, srcUserId, dstUserId },
      schema: TaskCreateResponse,
      notIdempotent: true,
    });
    return { taskId: res.taskId };
  }

  /** `GET /task/{taskId}`: status 0 NEW, 1 EXECUTING, 2 SUCCESS, 3 FAILED (with `resultCode`). */
  async getTask(actingUserId: string, taskId: string): Promise<TaskInfo> {
    return this.request({
      call: "task.get",
      method: "GET",
      path: `/koodrive/ose/v1/task/${encodeURIComponent(taskId)}`,
      userId: actingUserId,
      schema: TaskInfo,
    });
  }

  /**
   * One page of `GET /task/list?taskType=0` (handover tasks), optionally of one status; `pageCursor` from
   * the previous page's `nextCursor` (absent: the first page). Accepts `taskList` and `taskListDtos`.
   */
  async listTaskPage(
    actingUserId: string,
    q: { status?: number; pageSize?: number; pageCursor?: string } = {},
  ): Promise<{ tasks: TaskInfo[]; nextCursor?: string }> {
    const pageSize = q.pageSize ?? TASK_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > TASK_PAGE_SIZE) {
      throw new RangeError(`task.list pageSize must be within 1..${TASK_PAGE_SIZE}, got ${pageSize}`);
    }
    const res = await this.request({
      call: "task.list",
      method: "GET",
      path: "/koodrive/ose/v1/task/list",
      userId: actingUserId,
      query: { taskType: HANDOVER_TASK_TYPE, status: q.status, pageSize, pageCursor: q.pageCursor },
      schema: TaskListResponse,
    });
    return res.nextCursor === undefined
      ? { tasks: res.tasks }
      : { tasks: res.tasks, nextCursor: res.nextCursor };
  }

  /**
   * `GET /task/dstUserInfo/{srcUserId}`: the recipient KooDrive's admin configured for this user's data, or
   * null when none is (an answer without an id [inferred]). An unknown source user is a KooDriveError.
   */
  async handoverRecipient(
    actingUserId: string,
    srcUserId: string,
  ): Promise<{ userId: string; name: string } | null> {
    return this.request({
      call: "task.recipient",
      method: "GET",
      path: `/koodrive/ose/v1/task/dstUserInfo/${encodeURIComponent(srcUserId)}`,
      userId: actingUserId,
      schema: RecipientResponse,
    });
  }

  /**
   * One page of KooDrive's audit log (`POST /auditlog`) for a time window (`from` / `to` like
   * `2025-01-01T00:00:01.000Z`), oldest first. `pageNum` counts from 1 [inferred]; `pageSize` 1-100.
   * `total` is the number of entries in the window. Match entries by `resource`, not `operation` (whose
   * values are undocumented) [doc].
   */
  async auditLogPage(
    actingUserId: string,
    q: { from: string; to: string; pageNum: number; pageSize: number; operatorName?: string | undefined },
  ): Promise<{ total: number; entries: AuditLogEntry[] }> {
    if (!Number.isInteger(q.pageSize) || q.pageSize < 1 || q.pageSize > AUDIT_PAGE_SIZE_MAX) {
      throw new RangeError(`auditlog pageSize must be within 1..${AUDIT_PAGE_SIZE_MAX}, got ${q.pageSize}`);
    }
    if (!Number.isInteger(q.pageNum) || q.pageNum < 1) {
      throw new RangeError(`auditlog pageNum must be an integer >= 1, got ${q.pageNum}`);
    }
    return this.request({
      call: "auditlog",
      method: "POST",
      path: "/koodrive/ose/v1/auditlog",
      userId: actingUserId,
      body: {
        operTimeFrom: q.from,
        operTimeTo: q.to,
        ...(q.operatorName ? { operatorName: q.operatorName } : {}),
        pageInfo: { pageSize: q.pageSize, pageNum: q.pageNum },
        // sortType 1 = time, sortDirection 1 = ascending [doc].
        sortInfo: { sortType: 1, sortDirection: 1 },
      },
      schema: AuditLogResponse,
    });
  }

  /**
   * One call taking 1 to 100 share ids (`/share/cancel`, `/share/exit`): one outcome per id from
   * `subResponseList`; an id KooDrive did not report on is an explicit failure, never assumed done.
   */
  async batchCall(
    call: CallName,
    path: string,
    userId: string,
    shareIds: readonly string[],
  ): Promise<ShareOutcome[]> {
    if (shareIds.length < 1 || shareIds.length > MAX_IDS_PER_CANCEL) {
      throw new RangeError(`${call} takes 1 to ${MAX_IDS_PER_CANCEL} ids, got ${shareIds.length}`);
    }
    const { value: res, uncertain } = await this.requestWithMeta({
      call,
      method: "POST",
      path,
      userId,
      body: { shareIds },
      schema: BatchResponse,
    });
    const byId = new Map<string, SubResponse>(res.subResponseList.map((s) => [s.shareId, s]));
    return shareIds.map((shareId) => {
      const sub = byId.get(shareId);
      if (!sub) {
        return {
          shareId,
          code: "missing",
          msg: "KooDrive did not report on this share",
          ok: false,
          afterUncertainAttempt: uncertain,
        };
      }
      return {
        shareId,
        code: sub.code,
        msg: sub.msg,
        ok: sub.code === SUCCESS,
        afterUncertainAttempt: uncertain,
      };
    });
  }

  /** One signed call with retries, its answer parsed with `spec.schema`. */
  async request<S extends z.ZodType>(spec: RequestSpec<S>): Promise<z.output<S>> {
    return (await this.requestWithMeta(spec)).value;
  }

  /** Sends with retries; `uncertain` says whether a failed earlier attempt may have been processed. */
  private async requestWithMeta<S extends z.ZodType>(
    spec: RequestSpec<S>,
  ): Promise<{ value: z.output<S>; uncertain: boolean }> {
    const { maxAttempts, permits, rateLimitWaitMs } = this.opts;
    let lastError: KooDriveError | undefined;
    let uncertain = false;
    let attempts = 0; // attempts that count against maxAttempts
    let limited = 0; // 429s waited out outside maxAttempts (rateLimitWaitMs > 0)
    let limitedMs = 0;
    for (let sent = 1; ; sent++) {
      const permit = await permits?.acquire(spec.call);
      const result = await this.attempt(spec, sent);
      if (result.ok) {
        await permits?.report({ call: spec.call, status: "ok", permit });
        return { value: result.value, uncertain };
      }
      lastError = result.error;
      const is429 = result.error.httpStatus === 429;
      await permits?.report({
        call: spec.call,
        status: is429 ? "rate_limited" : "failed",
        retryAfterMs: result.retryAfterMs,
        permit,
      });
      // A 429 is the gateway refusing before any work; anything else retryable may have been processed.
      if (!is429) uncertain = true;
      if (spec.notIdempotent && !is429) break;
      const waitOut = is429 && rateLimitWaitMs > 0;
      if (waitOut) limited++;
      else attempts++;
      if (!result.error.retryable || attempts >= maxAttempts) break;
      if (result.retryAfterMs !== undefined && result.retryAfterMs > this.opts.maxRetryAfterMs) break;
      const exponent = (waitOut ? limited : attempts) - 1;
      const backoff = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** exponent);
      const delay = Math.max(Math.floor(this.opts.random() * backoff), result.retryAfterMs ?? 0);
      if (waitOut) {
        if (limitedMs + delay > rateLimitWaitMs) break;
        limitedMs += delay;
      }
      await this.opts.sleep(delay);
    }
    throw lastError ?? new Error("unreachable");
  }

  private async attempt<S extends z.ZodType>(
    spec: RequestSpec<S>,
    attempt: number,
  ): Promise<
    { ok: true; value: z.output<S> } | { ok: false; error: KooDriveError; retryAfterMs?: number | undefined }
  > {
    const url = new URL(this.opts.baseUrl + spec.path);
    for (const [k, v] of Object.entries(spec.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const now = this.opts.now();
    const headers: Record<string, string> = { "x-date": formatXDate(now), "x-user-id": spec.userId };
    const signed = await sign(
      { method: spec.method, url: url.toString(), headers, body: body ?? "" },
      this.opts.appSecret,
    );
    const fail = (
      httpStatus: number | undefined,
      code: string | undefined,
      msg: string,
      retryable: boolean,
    ) => new KooDriveError(spec.call, spec.userId, httpStatus, code, msg, retryable, attempt);

    let response: Response;
    try {
      response = await this.opts.fetch(url.toString(), {
        method: spec.method,
        headers: {
          ...headers,
          authorization: authorizationHeader(this.opts.appId, signed),
          accept: "application/json",
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...(this.opts.traceId ? { "x-traceid": this.opts.traceId } : {}),
        },
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
      return {
        ok: false,
        error: fail(
          undefined,
          undefined,
          timedOut ? `timed out after ${this.opts.timeoutMs} ms` : `network error: ${String(err)}`,
          true,
        ),
      };
    }

    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      // The answer broke off (timeout or reset while reading): it may have been processed.
      return {
        ok: false,
        error: fail(response.status, undefined, `network error reading the answer: ${String(err)}`, true),
      };
    }
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const envelope = Envelope.safeParse(json);
    const code = envelope.success ? envelope.data.code : undefined;
    const msg = envelope.success ? envelope.data.msg : text.slice(0, 200) || response.statusText;

    if (response.status === 429 || response.status >= 500) {
      return {
        ok: false,
        error: fail(response.status, code, msg, true),
        retryAfterMs: retryAfterMs(response.headers.get("retry-after"), now),
      };
    }
    // 13000201 "inner server invoke failure" is KooDrive's own transient error, whatever the HTTP status
    // (the reference answers errors with 400): retry it like a 5xx.
    const transient = code === CODE_INNER_FAILURE;
    if (!response.ok) return { ok: false, error: fail(response.status, code, msg, transient) };
    if (!envelope.success)
      return { ok: false, error: fail(response.status, undefined, `unparseable response: ${msg}`, false) };
    if (code !== SUCCESS) return { ok: false, error: fail(response.status, code, msg, transient) };
    const parsed = spec.schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        ok: false,
        error: fail(
          response.status,
          code,
          `unexpected response shape at ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? ""}`,
          false,
        ),
      };
    }
    return { ok: true, value: parsed.data };
  }
}

/** Reads one id field of a task's `initParams` JSON; digits kept exact even when sent as a JSON number. */
function initParam(t: TaskInfo, field: "srcUserId" | "dstUserId"): string | undefined {
  if (!t.initParams) return undefined;
  let value: unknown;
  try {
    value = (JSON.parse(t.initParams) as Record<string, unknown> | null)?.[field];
  } catch {
    return undefined;
  }
  if (typeof value === "string" && value !== "") return value;
  if (typeof value !== "number") return undefined;
  // JSON.parse has rounded a 19-digit number: read the digits from the text instead.
  return new RegExp(`"${field}"\\s*:\\s*(\\d+)`).exec(t.initParams)?.[1];
}

/**
 * The user a handover task transfers from: `initParams.srcUserId`, else `userId` [inferred: the reference
 * does not say whose `userId` is, so the explicit parameter wins].
 */
export function taskSourceUser(t: TaskInfo): string | undefined {
  return initParam(t, "srcUserId") ?? t.userId;
}

/** The user a handover task transfers to: `initParams.dstUserId` [inferred]; undefined when not given. */
export function taskRecipient(t: TaskInfo): string | undefined {
  return initParam(t, "dstUserId");
}

export type { AuditLogEntry, TaskInfo };

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
