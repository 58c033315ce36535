import { DurableObject } from "cloudflare:workers";

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

export interface EventView {
  id: string;
  type: string;
  createdAt: string;
  deliveries: DeliveryView[];
}

interface DeliveryRow {
  event_id: string;
  dest: string;
  state: DeliveryState;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  updated_at: string;
}

const viewOf = (r: DeliveryRow): DeliveryView => ({
  dest: r.dest,
  state: r.state,
  attempts: r.attempts,
  lastStatus: r.last_status,
  lastError: r.last_error,
  updatedAt: r.updated_at,
});

/**
 * The events of one run and their deliveries (issue 11, docs/storage-schema.md "EventLog"): one instance
 * per run id, strongly consistent, so a replayed Workflow step records an event once and the queue
 * consumer, the dead-letter consumer and a re-send agree on each delivery's state.
 */
/** When the alarm checks for deliveries recorded but never enqueued (the publisher enqueues at once). */
const REQUEUE_AFTER_MS = 60_000;
/** When it tries again after the queue refused. */
const REQUEUE_RETRY_MS = 5 * 60_000;

export class EventLog extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, type TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS deliveries (
        event_id TEXT NOT NULL, dest TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        last_status INTEGER, last_error TEXT, updated_at TEXT NOT NULL, PRIMARY KEY (event_id, dest)
      );
      CREATE TABLE IF NOT EXISTS unqueued (
        event_id TEXT NOT NULL, dest TEXT NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (event_id, dest)
      );
    `);
  }

  /**
   * Records an event and a pending delivery per destination. Returns the destinations to enqueue: all of
   * them when the event is new, none when it was recorded before (the same state change published again).
   */
  record(id: string, type: string, payload: string, dests: string[]): string[] {
    const now = new Date().toISOString();
    const inserted = this.sql.exec(
      "INSERT OR IGNORE INTO events (id, type, payload, created_at) VALUES (?, ?, ?, ?)",
      id,
      type,
      payload,
      now,
    ).rowsWritten;
    if (inserted === 0) return [];
    const runId = (JSON.parse(payload) as { data?: { runId?: string } }).data?.runId ?? "";
    for (const dest of dests) {
      this.sql.exec(
        "INSERT OR IGNORE INTO deliveries (event_id, dest, state, updated_at) VALUES (?, ?, 'pending', ?)",
        id,
        dest,
        now,
      );
      this.sql.exec(
        "INSERT OR IGNORE INTO unqueued (event_id, dest, run_id) VALUES (?, ?, ?)",
        id,
        dest,
        runId,
      );
    }
    // Nothing lost: should the caller's enqueue fail (or the caller die first), the alarm enqueues them.
    if (dests.length > 0) void this.ctx.storage.setAlarm(Date.now() + REQUEUE_AFTER_MS);
    return dests;
  }

  /** Deliveries recorded and not yet enqueued (what the alarm still has to do). */
  unqueuedCount(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM unqueued").one().n;
  }

  /** The caller enqueued these deliveries: the alarm has nothing left to do for them. */
  queued(id: string, dests: string[]): void {
    for (const dest of dests) this.sql.exec("DELETE FROM unqueued WHERE event_id = ? AND dest = ?", id, dest);
  }

  /** Enqueues what was recorded and never enqueued; tries again later if the queue refuses. */
  override async alarm(): Promise<void> {
    const rows = this.sql
      .exec<{ event_id: string; dest: string; run_id: string }>(
        "SELECT event_id, dest, run_id FROM unqueued LIMIT 100",
      )
      .toArray();
    if (rows.length === 0) return;
    try {
      await this.env.DELIVERIES.sendBatch(
        rows.map((r) => ({ body: { runId: r.run_id, eventId: r.event_id, dest: r.dest } })),
      );
      for (const r of rows) this.queued(r.event_id, [r.dest]);
    } catch {
      await this.ctx.storage.setAlarm(Date.now() + REQUEUE_RETRY_MS);
      return;
    }
    if (this.sql.exec("SELECT 1 FROM unqueued LIMIT 1").toArray().length > 0)
      await this.ctx.storage.setAlarm(Date.now() + 1_000);
  }

  /** The event's body and this delivery's state; undefined when either is unknown. */
  load(id: string, dest: string): { payload: string; state: DeliveryState; attempts: number } | undefined {
    const row = this.sql
      .exec<{ payload: string; state: DeliveryState; attempts: number }>(
        "SELECT e.payload, d.state, d.attempts FROM events e JOIN deliveries d ON d.event_id = e.id WHERE e.id = ? AND d.dest = ?",
        id,
        dest,
      )
      .toArray()[0];
    return row ? { ...row } : undefined;
  }

  /** One attempt's outcome: `delivered` on a 2xx; otherwise the status or error class, still pending. */
  attempt(id: string, dest: string, outcome: { ok: boolean; status?: number; error?: string }): void {
    this.sql.exec(
      `UPDATE deliveries SET attempts = attempts + 1, state = CASE WHEN ? THEN 'delivered' ELSE state END,
         last_status = ?, last_error = ?, updated_at = ? WHERE event_id = ? AND dest = ?`,
      outcome.ok ? 1 : 0,
      outcome.status ?? null,
      outcome.error ?? null,
      new Date().toISOString(),
      id,
      dest,
    );
  }

  /** Given up: dead-lettered after the last attempt, or its destination is no longer configured. */
  markDead(id: string, dest: string, reason?: string): void {
    this.sql.exec(
      `UPDATE deliveries SET state = 'dead', last_error = COALESCE(?, last_error), updated_at = ?
         WHERE event_id = ? AND dest = ? AND state <> 'delivered'`,
      reason ?? null,
      new Date().toISOString(),
      id,
      dest,
    );
  }

  /**
   * A re-send: every delivery of the event not yet delivered goes back to `pending`. Returns their
   * destinations (to enqueue again), or undefined when the event is unknown.
   */
  resend(id: string): string[] | undefined {
    if (this.sql.exec("SELECT 1 FROM events WHERE id = ?", id).toArray().length === 0) return undefined;
    return this.sql
      .exec<{ dest: string }>(
        `UPDATE deliveries SET state = 'pending', updated_at = ? WHERE event_id = ? AND state <> 'delivered'
           RETURNING dest`,
        new Date().toISOString(),
        id,
      )
      .toArray()
      .map((r) => r.dest)
      .sort();
  }

  /** The run's events, oldest first, each with its deliveries. */
  list(): EventView[] {
    const events = this.sql
      .exec<{ id: string; type: string; created_at: string }>(
        "SELECT id, type, created_at FROM events ORDER BY created_at, id",
      )
      .toArray();
    const deliveries = this.sql
      .exec<DeliveryRow & Record<string, SqlStorageValue>>("SELECT * FROM deliveries ORDER BY dest")
      .toArray();
    return events.map((e) => ({
      id: e.id,
      type: e.type,
      createdAt: e.created_at,
      deliveries: deliveries.filter((d) => d.event_id === e.id).map(viewOf),
    }));
  }
}
