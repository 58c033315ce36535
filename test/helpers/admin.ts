/**
 * Helpers for the admin API tests (holds, identities, export): requests tagged with their own request id,
 * the audit records one request wrote, and the error envelope.
 */
import { expect } from "vitest";
import { expectEnvelope } from "./expect";
import { admin, uniqueId } from "./worker";

export interface AuditView {
  type: string;
  actor: string;
  verifiedBy?: string;
  requestId?: string;
  reason?: string;
  details?: Record<string, string | number | boolean | null>;
}

/** An admin call with a fresh `X-Request-Id`, so the audit records it wrote can be found. */
export async function adminCall(
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ res: Response; requestId: string }> {
  const requestId = uniqueId("t");
  const headers: Record<string, string> = { "x-request-id": requestId, ...init.headers };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
    headers["content-type"] ??= "application/json";
  }
  const res = await admin(path, {
    method: init.method ?? "GET",
    headers,
    ...(body === undefined ? {} : { body }),
  });
  return { res, requestId };
}

/** The audit records (newest first) written by the request with this id. */
export async function auditOf(requestId: string): Promise<AuditView[]> {
  const res = await admin("/audit?limit=100");
  expect(res.status).toBe(200);
  const { records } = (await res.json()) as { records: AuditView[] };
  return records.filter((r) => r.requestId === requestId);
}

/** Asserts our error envelope with this status and code; returns the error. */
export async function expectError(res: Response, status: number, code: string) {
  return (await expectEnvelope(res, status, code)).error;
}
