import { DurableObject } from "cloudflare:workers";
import { auditRetentionDaysOf, type Bindings } from "../env";
import {
  type AttemptOutcome,
  type AttemptRow,
  attemptViewOf,
  type DeliveryRow,
  type DeliveryState,
  type EventView,
  SCHEMA,
  SETTLED,
  viewOf,
} from "./log-schema";

/** When the alarm checks for deliveries recorded but never enqueued (the publisher enqueues at once). */
const REQUEUE_AFTER_MS = 60_000;
/** When it tries again after the queue refused. */
const REQUEUE_RETRY_MS = 5 * 60_000;
/** `sendBatch` takes at most 100 messages [Cloudflare Queues limits: "Messages per sendBatch call"]. */
const MAX_SEND_BATCH = 100;
/**
 * Attempts kept per delivery (an event to one destination): the newest 20. One automatic round is at most 8
 * POSTs (src/events/deliver.ts RETRY_SCHEDULE_SECONDS, wrangler.toml `max_retries = 7`), so 20 holds a round
 * and two re-sent rounds after it; only an operator re-sending a dead event again and again makes more, and
 * those are counted (`attempts`) but not kept, so a log cannot grow without bound.
 */
export const MAX_ATTEMPTS_KEPT = 20;
/** Events purged per alarm: a run publishes a handful, so one alarm is enough; more come back a second later. */
const PURGE_BATCH = 500;
/** While AUDIT_RETENTION_DAYS is invalid nothing is purged; the alarm looks again this much later. */
const RETENTION_RECHECK_MS = 86_400_000;

/**
 * The events of one run and their deliveries (issue 11, docs/storage-schema.md "EventLog"): one instance
 * per run id, strongly consistent, so a replayed Workflow step records an event once and the queue
 * consumer, the dead-letter consumer and a re-send agree on each delivery's state. Its alarm enqueues what
 * the publisher could not, and purges the events settled longer than AUDIT_RETENTION_DAYS ago (the audit
 * records about them expire after as long: docs/events.md "Retention"); the last purge deletes its storage.
 */
export class EventLog extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  /** Whether this instance knows the tables exist (false again once a purge deleted everything). */
  private ready = false;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
  }

  /**
   * Makes sure the tables exist (and the ones added since, in an older log). A read passes `create = false`:
   * a log never written, or purged to nothing, answers empty and stays without storage.
   */
  private tables(create: boolean): boolean {
    if (this.ready) return true;
    const exists =
      this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").toArray().length >
      0;
    if (!exists && !create) return false;
    this.sql.exec(SCHEMA);
    this.ready = true;
    return true;
  }

  /** Sets the alarm to `at` unless it is already due sooner (each alarm works out the next one itself). */
  private async alarmBy(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  private retentionMs(): number | undefined {
    const days = auditRetentionDaysOf(this.env);
    return days === undefined ? undefined : days * 86_400_000;
  }

  /** A delivery settled (delivered or given up): the purge is due one retention from now. */
  private async purgeLater(): Promise<void> {
    await this.alarmBy(Date.now() + (this.retentionMs() ?? RETENTION_RECHECK_MS));
  }

  /**
   * Records an event and a pending delivery per destination. Returns the destinations to enqueue: all of
   * them when the event is new, none when it was recorded before (the same state change published again).
   */
  async record(id: string, type: string, payload: string, dests: string[]): Promise<string[]> {
    this.tables(true);
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
    if (dests.length > 0) await this.alarmBy(Date.now() + REQUEUE_AFTER_MS);
    return dests;
  }

  /** Deliveries recorded and not yet enqueued (what the alarm still has to do). */
  unqueuedCount(): number {
    if (!this.tables(false)) return 0;
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM unqueued").one().n;
  }

  /** The caller enqueued these deliveries: the alarm has nothing left to do for them. */
  queued(id: string, dests: string[]): void {
    if (!this.tables(false)) return;
    for (const dest of dests) this.sql.exec("DELETE FROM unqueued WHERE event_id = ? AND dest = ?", id, dest);
  }

  /**
   * Enqueues what was recorded and never enqueued (again later if the queue refuses), purges the events
   * settled more than AUDIT_RETENTION_DAYS ago (never one a delivery still waits for), deletes all storage
   * when none is left, and sets itself for whichever is due next.
   */
  override async alarm(): Promise<void> {
    if (!this.tables(false)) return;
    const requeueAt = await this.requeue();
    const retentionMs = this.retentionMs();
    let purgeAt: number | undefined;
    if (retentionMs === undefined) {
      if (this.oldestSettled() !== undefined) purgeAt = Date.now() + RETENTION_RECHECK_MS;
    } else {
      const more = this.purge(new Date(Date.now() - retentionMs).toISOString());
      if (this.isEmpty()) {
        // Nothing left to keep: drop the tables and the alarm too (deleteAll removes the alarm from
        // compatibility date 2026-02-24 [Cloudflare changelog "deleteAll() now deletes Durable Object alarm"]).
        this.ready = false;
        await this.ctx.storage.deleteAll();
        return;
      }
      const oldest = this.oldestSettled();
      if (more) purgeAt = Date.now() + 1_000;
      else if (oldest !== undefined) purgeAt = Date.parse(oldest) + retentionMs;
    }
    const next = Math.min(requeueAt ?? Number.POSITIVE_INFINITY, purgeAt ?? Number.POSITIVE_INFINITY);
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next);
  }

  /** Enqueues up to a batch of unqueued deliveries; returns when to come back, if there is more to do. */
  private async requeue(): Promise<number | undefined> {
    const rows = this.sql
      .exec<{ event_id: string; dest: string; run_id: string }>(
        `SELECT event_id, dest, run_id FROM unqueued LIMIT ${MAX_SEND_BATCH}`,
      )
      .toArray();
    if (rows.length === 0) return undefined;
    try {
      await this.env.DELIVERIES.sendBatch(
        rows.map((r) => ({ body: { runId: r.run_id, eventId: r.event_id, dest: r.dest } })),
      );
    } catch {
      return Date.now() + REQUEUE_RETRY_MS;
    }
    for (const r of rows) this.queued(r.event_id, [r.dest]);
    return this.sql.exec("SELECT 1 FROM unqueued LIMIT 1").toArray().length > 0
      ? Date.now() + 1_000
      : undefined;
  }

  /** Deletes up to PURGE_BATCH events settled before `cutoff`, with all their rows; true if more may be due. */
  private purge(cutoff: string): boolean {
    const ids = this.sql
      .exec<{ id: string }>(
        `SELECT id FROM (${SETTLED}) WHERE settled_at < ? ORDER BY settled_at LIMIT ?`,
        cutoff,
        PURGE_BATCH,
      )
      .toArray()
      .map((r) => r.id);
    if (ids.length === 0) return false;
    this.ctx.storage.transactionSync(() => {
      for (const id of ids) {
        for (const table of ["attempts", "deliveries", "unqueued"])
          this.sql.exec(`DELETE FROM ${table} WHERE event_id = ?`, id);
        this.sql.exec("DELETE FROM events WHERE id = ?", id);
      }
    });
    return ids.length === PURGE_BATCH;
  }

  /** When the longest-settled event settled (ISO); undefined when every event still waits for a delivery. */
  private oldestSettled(): string | undefined {
    return (
      this.sql.exec<{ at: string | null }>(`SELECT MIN(settled_at) AS at FROM (${SETTLED})`).toArray()[0]
        ?.at ?? undefined
    );
  }

  private isEmpty(): boolean {
    return (
      this.sql.exec("SELECT 1 FROM events LIMIT 1").toArray().length === 0 &&
      this.sql.exec("SELECT 1 FROM unqueued LIMIT 1").toArray().length === 0
    );
  }

  /** The event's body and this delivery's state; undefined when either is unknown (or purged). */
  load(id: string, dest: string): { payload: string; state: DeliveryState; attempts: number } | undefined {
    if (!this.tables(false)) return undefined;
    const row = this.sql
      .exec<{ payload: string; state: DeliveryState; attempts: number }>(
        "SELECT e.payload, d.state, d.attempts FROM events e JOIN deliveries d ON d.event_id = e.id WHERE e.id = ? AND d.dest = ?",
        id,
        dest,
      )
      .toArray()[0];
    return row ? { ...row } : undefined;
  }

  /**
   * One attempt's outcome: `delivered` on a 2xx; otherwise the status or error class, still pending. The
   * attempt joins the delivery's history (the newest MAX_ATTEMPTS_KEPT are kept): its status, or its error
   * class when no answer came, and how long it took.
   */
  async attempt(id: string, dest: string, outcome: AttemptOutcome): Promise<void> {
    if (!this.tables(false)) return;
    const at = new Date().toISOString();
    const row = this.sql
      .exec<{ attempts: number }>(
        `UPDATE deliveries SET attempts = attempts + 1, state = CASE WHEN ? THEN 'delivered' ELSE state END,
           last_status = ?, last_error = ?, updated_at = ? WHERE event_id = ? AND dest = ? RETURNING attempts`,
        outcome.ok ? 1 : 0,
        outcome.status ?? null,
        outcome.error ?? null,
        at,
        id,
        dest,
      )
      .toArray()[0];
    if (!row) return;
    this.sql.exec(
      `INSERT OR REPLACE INTO attempts (event_id, dest, n, at, status, error, duration_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      id,
      dest,
      row.attempts,
      at,
      outcome.status ?? null,
      outcome.status === undefined ? (outcome.error ?? null) : null,
      Math.max(0, Math.round(outcome.durationMs)),
    );
    this.sql.exec(
      "DELETE FROM attempts WHERE event_id = ? AND dest = ? AND n <= ?",
      id,
      dest,
      row.attempts - MAX_ATTEMPTS_KEPT,
    );
    if (outcome.ok) await this.purgeLater();
  }

  /** Given up: dead-lettered after the last attempt, or its destination is no longer configured. */
  async markDead(id: string, dest: string, reason?: string): Promise<void> {
    if (!this.tables(false)) return;
    const changed = this.sql.exec(
      `UPDATE deliveries SET state = 'dead', last_error = COALESCE(?, last_error), updated_at = ?
         WHERE event_id = ? AND dest = ? AND state <> 'delivered'`,
      reason ?? null,
      new Date().toISOString(),
      id,
      dest,
    ).rowsWritten;
    if (changed > 0) await this.purgeLater();
  }

  /**
   * A re-send: every delivery of the event not yet delivered goes back to `pending`. Returns their
   * destinations (to enqueue again), or undefined when the event is unknown (or was purged).
   */
  resend(id: string): string[] | undefined {
    if (!this.tables(false)) return undefined;
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

  /** The run's events, oldest first, each with its deliveries and their kept attempts. */
  list(): EventView[] {
    if (!this.tables(false)) return [];
    const events = this.sql
      .exec<{ id: string; type: string; created_at: string }>(
        "SELECT id, type, created_at FROM events ORDER BY created_at, id",
      )
      .toArray();
    const deliveries = this.sql
      .exec<DeliveryRow & Record<string, SqlStorageValue>>("SELECT * FROM deliveries ORDER BY dest")
      .toArray();
    const attempts = this.sql
      .exec<AttemptRow & Record<string, SqlStorageValue>>("SELECT * FROM attempts ORDER BY at, dest, n")
      .toArray();
    return events.map((e) => ({
      id: e.id,
      type: e.type,
      createdAt: e.created_at,
      deliveries: deliveries.filter((d) => d.event_id === e.id).map(viewOf),
      attempts: attempts.filter((a) => a.event_id === e.id).map(attemptViewOf),
    }));
  }
}
