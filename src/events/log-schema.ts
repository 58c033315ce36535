/**
 * The EventLog's tables (docs/storage-schema.md "EventLog") and how the admin API shows their rows
 * (docs/events.md "Seeing and re-sending deliveries").
 */

/** Where one delivery stands: queued or being retried, taken (2xx), or given up (dead-lettered). */
export const DELIVERY_STATES = ["pending", "delivered", "dead"] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** One delivery as the admin API shows it (the destination by label: its URL is a credential). */
export interface DeliveryView {
  dest: string;
  state: DeliveryState;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  updatedAt: string;
}

/**
 * One POST to a destination (docs/events.md "Seeing and re-sending deliveries"): when, how it ended, how long
 * it took. Never the URL, the request or the answer's body (a receiver's error page can echo anything).
 */
export interface AttemptView {
  dest: string;
  /** The delivery's attempt number (1 = its first POST), counting the attempts no longer kept. */
  attempt: number;
  at: string;
  /** The HTTP status of the answer; null when none came (then `error` says why). */
  status: number | null;
  /** The error class when no answer came (`timeout`, `TypeError`), never its message. */
  error: string | null;
  durationMs: number;
}

export interface EventView {
  id: string;
  type: string;
  createdAt: string;
  deliveries: DeliveryView[];
  /** Every destination's kept attempts, oldest first. */
  attempts: AttemptView[];
}

/** What the consumer reports of one attempt (src/events/deliver.ts `post`). */
export interface AttemptOutcome {
  ok: boolean;
  status?: number;
  error?: string;
  durationMs: number;
}

export interface DeliveryRow {
  event_id: string;
  dest: string;
  state: DeliveryState;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  updated_at: string;
}

export interface AttemptRow {
  event_id: string;
  dest: string;
  n: number;
  at: string;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

export const viewOf = (r: DeliveryRow): DeliveryView => ({
  dest: r.dest,
  state: r.state,
  attempts: r.attempts,
  lastStatus: r.last_status,
  lastError: r.last_error,
  updatedAt: r.updated_at,
});

export const attemptViewOf = (r: AttemptRow): AttemptView => ({
  dest: r.dest,
  attempt: r.n,
  at: r.at,
  status: r.status,
  error: r.error,
  durationMs: r.duration_ms,
});

export const SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, type TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS deliveries (
    event_id TEXT NOT NULL, dest TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER, last_error TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (event_id, dest)
  );
  CREATE TABLE IF NOT EXISTS unqueued (
    event_id TEXT NOT NULL, dest TEXT NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (event_id, dest)
  );
  CREATE TABLE IF NOT EXISTS attempts (
    event_id TEXT NOT NULL, dest TEXT NOT NULL, n INTEGER NOT NULL, at TEXT NOT NULL, status INTEGER,
    error TEXT, duration_ms INTEGER NOT NULL, PRIMARY KEY (event_id, dest, n)
  ) WITHOUT ROWID;
`;

/**
 * The events no delivery still waits for, with when they settled: their last delivery change (delivered,
 * dead, re-sent). Timestamps are ISO strings of one format, so they compare as text.
 */
export const SETTLED = `
  SELECT e.id AS id, COALESCE(MAX(d.updated_at), e.created_at) AS settled_at
  FROM events e LEFT JOIN deliveries d ON d.event_id = e.id
  GROUP BY e.id HAVING COALESCE(SUM(d.state = 'pending'), 0) = 0`;
