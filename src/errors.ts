import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * Every error the API answers with, mapped to its HTTP status. One enum, one envelope:
 * `{ "error": { "code", "message", "requestId", "details"? } }`.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  /** `If-Match` names a version that is no longer current (RFC 9110 section 15.5.13). */
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  invalid_body: 422,
  /** A conditional request was required and `If-Match` is missing (RFC 6585 section 3). */
  precondition_required: 428,
  rate_limited: 429,
  internal: 500,
  // The deployment, not the request, is wrong: 503 tells a sender to retry later (Standard Webhooks
  // senders retry on 5xx) while the operator fixes the setting named in the log.
  misconfigured: 503,
  /** Something we depend on cannot be reached right now (e.g. Cloudflare Access's keys): retry later. */
  unavailable: 503,
  upstream: 502,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface FieldError {
  path: string;
  message: string;
}

/** An error meant for the caller: its message is safe to show (no secrets, no stack). */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: FieldError[],
  ) {
    super(message);
  }
  get status(): ContentfulStatusCode {
    return ERROR_STATUS[this.code];
  }
}

export function errorBody(code: ErrorCode, message: string, requestId: string, details?: FieldError[]) {
  return { error: { code, message, requestId, ...(details ? { details } : {}) } };
}

/** Turns zod issues into field errors that name the path (`data.employee.id`), never dump raw zod output. */
export function fieldErrors(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): FieldError[] {
  return issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
}

/** What everyone but an authenticated admin is told while the configuration is broken: nothing specific. */
export const MISCONFIGURED_MESSAGE =
  "the service is not configured correctly; its operator finds the details in the logs";

/**
 * Missing or invalid configuration. The message and `problems` name the variables (and an entry's
 * position), never a value: they go to the logs and to an authenticated admin, never to other callers.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    message: string,
    readonly problems: FieldError[] = [],
  ) {
    super(message);
  }
}

/** The caller-facing form of an error we know; undefined for anything unexpected (a bug: logged, 500). */
export function toApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  // An optional source's bad setting (sourceSecrets): logged by answerFor, told to no caller.
  if (err instanceof ConfigError) return new ApiError("misconfigured", MISCONFIGURED_MESSAGE);
  if (err instanceof HTTPException) {
    const status = err.status;
    const code = status === 413 ? "payload_too_large" : status === 401 ? "unauthorized" : "bad_request";
    return new ApiError(code, err.message || "bad request");
  }
  return undefined;
}

/**
 * What an error handler answers for `err` (the app's, or a sub-app's that renders its own format, as SCIM
 * does): the known error, or an opaque `internal` one. Logs what the caller is not told.
 */
export function answerFor(err: unknown, requestId: string): ApiError {
  const known = toApiError(err);
  if (!known) {
    console.error(JSON.stringify({ level: "error", requestId, msg: "unhandled error", error: String(err) }));
  } else if (err instanceof ConfigError) {
    console.error(JSON.stringify({ level: "error", requestId, msg: err.message }));
  }
  return known ?? new ApiError("internal", "internal error; quote the request id when reporting it");
}
