/**
 * Test helpers for outbound events and notifications (src/events/): an env with destinations configured and
 * a recording queue in place of DELIVERIES (so each test drives the consumer itself, deterministically), the
 * consumer run on a batch built by `cloudflare:test`, and a RunMeta to publish.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Bindings } from "../../src/env";
import type { AttemptView, DeliveryView } from "../../src/events/log-schema";
import type { DeliveryMessage } from "../../src/events/types";
import worker from "../../src/index";
import type { RunMeta, RunStatus } from "../../src/offboarding/types";
import { ADMIN_TOKEN } from "./worker";

/** A Standard Webhooks secret (24 random bytes, base64) for outbound events in tests. */
export const OUTBOUND_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
export const DELIVERIES_QUEUE = "koodrive-offboard-deliveries";
export const DEAD_LETTER_QUEUE = "koodrive-offboard-deliveries-dlq";
const ORIGIN = "https://offboard.example.com";

/** A receiver's URL in the simulator (every outbound fetch of the Worker lands there in tests). */
export const hookUrl = (name: string) => `https://hooks.example.test/__hooks/${name}`;

/** What the Worker put on the queue. */
export interface RecordingQueue {
  sent: DeliveryMessage[];
  /** Raw message bodies as serialised, to check that no URL is ever queued. */
  raw: string[];
}

/**
 * The destinations vitest.config.ts gives every test (each run's events go to a receiver), switched off so
 * a test sees only the destinations it sets.
 */
export const NO_DESTINATIONS = {
  OUTBOUND_WEBHOOK_URLS: "",
  OUTBOUND_WEBHOOK_SECRET: "",
  NOTIFY_SLACK_WEBHOOK_URLS: "",
  NOTIFY_TEAMS_WEBHOOK_URLS: "",
};

/** The test env with `vars` over it (and no destination they do not set); DELIVERIES is a recorder. */
export function eventEnv(vars: Record<string, string>): { env: Bindings; queue: RecordingQueue } {
  const queue: RecordingQueue = { sent: [], raw: [] };
  const keep = (body: unknown) => {
    queue.sent.push(body as DeliveryMessage);
    queue.raw.push(JSON.stringify(body));
  };
  const DELIVERIES = {
    send: async (body: unknown) => keep(body),
    sendBatch: async (messages: Iterable<{ body: unknown }>) => {
      for (const m of messages) keep(m.body);
    },
  };
  return { env: { ...env, ...NO_DESTINATIONS, ...vars, DELIVERIES } as unknown as Bindings, queue };
}

let seq = 0;

/** What the consumer did with a batch: acked message ids, and retried ones with their delay. */
export interface BatchResult {
  acked: string[];
  retried: { id: string; delaySeconds?: number }[];
  retriedAll: boolean;
}

/**
 * Runs the Worker's queue handler on `messages` (each delivered for the `attempts`-th time). The batch is
 * built here, not by `createMessageBatch` (cloudflare:test 1.5 records a retry without its delaySeconds).
 */
export async function consume(
  e: Bindings,
  messages: DeliveryMessage[],
  attempts = 1,
  queue = DELIVERIES_QUEUE,
): Promise<BatchResult> {
  const result: BatchResult = { acked: [], retried: [], retriedAll: false };
  const batch = {
    queue,
    messages: messages.map((body) => {
      const id = `msg-${seq++}`;
      return {
        id,
        timestamp: new Date(),
        attempts,
        body,
        ack: () => result.acked.push(id),
        retry: (options?: { delaySeconds?: number }) => result.retried.push({ id, ...options }),
      };
    }),
    ackAll: () => result.acked.push(...batch.messages.map((m) => m.id)),
    retryAll: () => {
      result.retriedAll = true;
    },
  };
  await worker.queue(batch as unknown as MessageBatch, e);
  return result;
}

/** Calls the admin API (break-glass admin) with the given env. */
export async function adminWith(e: Bindings, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${ADMIN_TOKEN}`);
  const ctx = createExecutionContext();
  return worker.fetch(new Request(`${ORIGIN}${path}`, { ...init, headers }), e as never, ctx);
}

/** A run id of the form the service makes (`hr-` and 32 hex digits), unique per call. */
export function newRunId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `hr-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** A run's meta in `status`, as the ledger holds it. */
export function runMeta(status: RunStatus, overrides: Partial<RunMeta> = {}): RunMeta {
  const now = new Date().toISOString();
  return {
    request: {
      runId: newRunId(),
      source: "hr",
      eventId: `evt-${seq++}`,
      subject: { hrId: "E-1001", email: "ada@example.com", name: "Ada Lovelace" },
      dryRun: false,
      scopes: [],
      requestId: crypto.randomUUID(),
      receivedAt: now,
      actor: "source:hr",
    },
    status,
    attempt: 1,
    koodriveUserId: "1505084218764547201",
    detail: "2 shares could not be cancelled",
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

/** `GET /events` answers the EventLog's own views (src/events/log-schema.ts). */
export type { AttemptView, DeliveryView } from "../../src/events/log-schema";

/** `GET /events?runId=` as the admin sees it. */
export async function eventsOf(
  e: Bindings,
  runId: string,
): Promise<
  { id: string; type: string; createdAt: string; deliveries: DeliveryView[]; attempts: AttemptView[] }[]
> {
  const res = await adminWith(e, `/events?runId=${runId}`);
  if (res.status !== 200) throw new Error(`GET /events: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { events: never[] }).events;
}

/** Every audit record in KV, as text (to check no URL was written anywhere). */
export async function allAuditText(): Promise<string> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.AUDIT.list(cursor ? { cursor } : {});
    for (const k of page.keys) out.push(k.name, (await env.AUDIT.get(k.name)) ?? "");
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return out.join("\n");
}
