import { DurableObject } from "cloudflare:workers";

/**
 * One person, one active run. A Durable Object per KooDrive user id remembers which run is revoking that
 * user's shares; a second run for the same person (a resend with a new event id, the same leaver from
 * another source) waits until the first is done instead of cancelling the same shares alongside it.
 * Strongly consistent: two runs claiming at once cannot both win.
 */
export class LeaverLock extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS holder (k INTEGER PRIMARY KEY CHECK (k = 1), run_id TEXT NOT NULL, since TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS waiters (instance_id TEXT PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS watcher (k INTEGER PRIMARY KEY CHECK (k = 1), run_id TEXT NOT NULL, instance_id TEXT NOT NULL);
    `);
  }

  private current(): { runId: string; since: string } | undefined {
    const row = this.sql
      .exec<{ run_id: string; since: string }>("SELECT run_id, since FROM holder WHERE k = 1")
      .toArray()[0];
    return row ? { runId: row.run_id, since: row.since } : undefined;
  }

  /**
   * Claims the person for `runId`. Granted when free, already held by this run, or held by `replacing` (a
   * run the caller found finished or gone); otherwise says who holds it and remembers `instanceId` as a
   * waiter, to be woken when the holder lets go.
   */
  claim(
    runId: string,
    instanceId: string,
    replacing?: string,
  ): { granted: true; watcher?: { runId: string; instanceId: string } } | { heldBy: string; since: string } {
    const holder = this.current();
    if (holder && holder.runId !== runId && holder.runId !== replacing) {
      this.sql.exec("INSERT OR IGNORE INTO waiters (instance_id) VALUES (?)", instanceId);
      return { heldBy: holder.runId, since: holder.since };
    }
    this.sql.exec("DELETE FROM waiters WHERE instance_id = ?", instanceId);
    if (holder?.runId !== runId) {
      this.sql.exec(
        "INSERT OR REPLACE INTO holder (k, run_id, since) VALUES (1, ?, ?)",
        runId,
        new Date().toISOString(),
      );
    }
    const watcher = this.watcherOf();
    return watcher && watcher.runId !== runId ? { granted: true, watcher } : { granted: true };
  }

  /**
   * A run whose main actions are done and which watches this person for late shares (issue 10). It does
   * not hold the person between checks; the next run that claims them is told, and ends the watch.
   */
  setWatcher(runId: string, instanceId: string): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO watcher (k, run_id, instance_id) VALUES (1, ?, ?)",
      runId,
      instanceId,
    );
  }

  /** The watch of `runId` is over (finished, or ended by a newer run): forgets it, if it is still the one. */
  clearWatcher(runId: string): void {
    this.sql.exec("DELETE FROM watcher WHERE k = 1 AND run_id = ?", runId);
  }

  watcherOf(): { runId: string; instanceId: string } | undefined {
    const row = this.sql
      .exec<{ run_id: string; instance_id: string }>("SELECT run_id, instance_id FROM watcher WHERE k = 1")
      .toArray()[0];
    return row ? { runId: row.run_id, instanceId: row.instance_id } : undefined;
  }

  /**
   * Lets the person go, if `runId` holds them (a finished run that never claimed changes nothing). Returns
   * the Workflow instances waiting for them, to wake (they also poll, so a lost wake-up only costs time).
   */
  release(runId: string): string[] {
    return this.ctx.storage.transactionSync(() => {
      if (this.sql.exec("DELETE FROM holder WHERE k = 1 AND run_id = ?", runId).rowsWritten === 0) return [];
      const waiters = this.sql
        .exec<{ instance_id: string }>("SELECT instance_id FROM waiters ORDER BY instance_id")
        .toArray()
        .map((r) => r.instance_id);
      this.sql.exec("DELETE FROM waiters");
      return waiters;
    });
  }

  holderOf(): string | null {
    return this.current()?.runId ?? null;
  }
}
