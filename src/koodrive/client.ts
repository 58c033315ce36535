import type * as z from "zod";
import {
  BatchResponse,
  Envelope,
  type ShareLink,
  ShareListResponse,
  type SubResponse,
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
  | "user.update";

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

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
