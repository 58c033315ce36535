/**
 * Test helpers that talk to the Worker through its real entry point (`exports.default.fetch`).
 */
import { env, exports } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { type RunStatus, TERMINAL } from "../../src/offboarding/types";

/** The two secrets configured in vitest.config.ts (HR_WEBHOOK_SECRETS); the first is the published vector's. */
export const HR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
export const HR_SECRET_2 = "whsec_dGVzdC1zZWNvbmQtc2VjcmV0LXJvdGF0aW9u";
export const ADMIN_TOKEN = "test-admin-token";
const ORIGIN = "https://offboard.example.com";

export function call(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(`${ORIGIN}${path}`, init));
}

export function admin(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${ADMIN_TOKEN}`);
  return call(path, { ...init, headers });
}

/** Holds live in a Durable Object that outlives a test: start each test with none (`If-Match: *` overwrites). */
export async function clearHolds(): Promise<void> {
  const res = await admin("/holds", {
    method: "PUT",
    headers: { "content-type": "application/json", "if-match": "*" },
    body: '{"holds":[]}',
  });
  if (res.status !== 200) throw new Error(`clearing holds: ${res.status}`);
}

export interface HrEventOptions {
  id?: string;
  secret?: string;
  timestamp?: number;
  /** Overrides the signature header entirely. */
  signature?: string | null;
  headers?: Record<string, string | null>;
}

/**
 * Signs a delivery the way a Standard Webhooks sender does, with the official `standardwebhooks` library:
 * an oracle independent of our verifier. Returns the `webhook-signature` value (`v1,<base64>`).
 */
export function signHr(secret: string, id: string, timestamp: number, body: string): string {
  return new Webhook(secret).sign(id, new Date(timestamp * 1000), body);
}

let counter = 0;
export const uniqueId = (prefix = "msg") =>
  `${prefix}_${Date.now().toString(36)}_${(counter++).toString(36)}`;

/** An `employee.offboarded` event. */
export function offboardedEvent(employee: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    type: "employee.offboarded",
    timestamp: new Date().toISOString(),
    data: { employee, effectiveAt: new Date().toISOString(), reason: "resigned" },
    ...extra,
  };
}

/** Sends a Standard Webhooks-signed delivery to `POST /webhooks/hr`. */
export async function sendHr(body: unknown, opts: HrEventOptions = {}): Promise<Response> {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const id = opts.id ?? uniqueId();
  const ts = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const signature =
    opts.signature === undefined ? signHr(opts.secret ?? HR_SECRET, id, ts, raw) : opts.signature;
  const headers = new Headers({
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(ts),
  });
  if (signature !== null) headers.set("webhook-signature", signature);
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    if (v === null) headers.delete(k);
    else headers.set(k, v);
  }
  return call("/webhooks/hr", { method: "POST", headers, body: raw });
}

export interface RunView {
  runId: string;
  status: string;
  attempt: number;
  detail: string | null;
  koodriveUserId: string | null;
  createdAt: string;
  resolvedBy: string | null;
  counts: Record<string, number>;
  shares: Array<{
    shareId: string;
    state: string;
    code: string;
    msg: string;
    scope: number;
    attempts: number;
  }>;
  nextCursor?: string;
}

// The run statuses that end a run, as the service defines them.

/**
 * Waits until the run's Workflow instance has ended too: a run is terminal once its finish step ran, but a
 * chat-started run then posts its result (one more outbound call), which must not land in the next test.
 */
async function instanceDone(id: string, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    try {
      const { status } = await (await env.OFFBOARDING.get(id)).status();
      if (status === "complete" || status === "errored" || status === "terminated") return;
    } catch {
      return; // no such instance (e.g. a ledger written by the test itself)
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `GET /runs/:id` until the run is terminal and its Workflow has ended (or the time is up). */
export async function waitForRun(runId: string, timeoutMs = 60_000, minAttempt = 1): Promise<RunView> {
  const deadline = Date.now() + timeoutMs;
  let last: RunView | undefined;
  while (Date.now() < deadline) {
    const res = await admin(`/runs/${runId}?limit=5000`);
    if (res.status === 200) {
      last = (await res.json()) as RunView;
      if (TERMINAL.has(last.status as RunStatus) && last.attempt >= minAttempt) {
        await instanceDone(last.attempt === 1 ? runId : `${runId}-r${last.attempt}`, deadline);
        return last;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${runId} not terminal after ${timeoutMs} ms: ${JSON.stringify(last?.status)}`);
}

/** Polls `GET /runs/:id` until the run has this status (a run waiting for an operator is not terminal). */
export async function waitForStatus(runId: string, status: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const res = await admin(`/runs/${runId}`);
    if (res.status === 200) {
      last = ((await res.json()) as { status: string }).status;
      if (last === status) return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`run ${runId} did not reach ${status} (last: ${last})`);
}
