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
  payload_too_large: 413,
  unsupported_media_type: 415,
  invalid_body: 422,
  rate_limited: 429,
  internal: 500,
  // The deployment, not the request, is wrong: 503 tells a sender to retry later (Standard Webhooks
  // senders retry on 5xx) while the operator fixes the setting named in the log.
  misconfigured: 503,
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
