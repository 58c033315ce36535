import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";

/**
 * Margin added to how long an activity id is remembered, for the difference between the Worker's clock
 * (which judged the timestamp) and the Durable Object's (which expires the id). Cloudflare's clocks agree
 * far closer than a minute.
 */
export const CLOCK_MARGIN_MS = 60_000;

/**
 * Ids a source has already handled, each kept for as long as a replay of it could still be accepted. One
 * instance per source (`getByName("teams")`, `"slack"`, `"okta"`, `"hr"`): a Durable Object is strongly
 * consistent, so two copies of a request racing each other cannot both be first, which KV (eventually
 * consistent, up to 60 s) could not promise. An alarm purges expired ids.
 * - Teams activity ids and Slack `trigger_id`s: until the signed timestamp is stale (5 minutes, plus
 *   CLOCK_MARGIN_MS); after that the timestamp itself refuses a replay.
 * - Okta and HR records of deliveries that start no run (ignored types, invalid events): one record per
 *   delivery, not per replay.
 */
export class ReplayGuard extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS seen (
      id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)`);
  }

  /**
   * Remembers `id` until `expiresAt` (epoch ms). True the first time (within its lifetime), false for a
   * replay. The read and the write run without an await between them: a Durable Object handles one call at
   * a time up to its next await, so this is atomic.
   */
  async remember(id: string, expiresAt: number): Promise<boolean> {
    const now = Date.now();
    const row = this.sql
      .exec<{ expires_at: number }>("SELECT expires_at FROM seen WHERE id = ?", id)
      .toArray()[0];
    if (row && row.expires_at > now) return false;
    this.sql.exec("INSERT OR REPLACE INTO seen (id, expires_at) VALUES (?, ?)", id, expiresAt);
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > expiresAt) await this.ctx.storage.setAlarm(expiresAt);
    return true;
  }

  /** Forgets `id` (its first handling failed, so a redelivery must be handled again). */
  forget(id: string): void {
    this.sql.exec("DELETE FROM seen WHERE id = ?", id);
  }

  /** How many ids are remembered now (for tests and operators). */
  size(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM seen").one().n;
  }

  /** Purges expired ids, then wakes again at the next expiry (if any id is left). */
  override async alarm(): Promise<void> {
    this.sql.exec("DELETE FROM seen WHERE expires_at <= ?", Date.now());
    const next = this.sql
      .exec<{ next: number | null }>("SELECT MIN(expires_at) AS next FROM seen")
      .one().next;
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }
}

/** Whether `key` is seen for the first time by `scope`'s guard (false: a replay, already handled). */
export function firstTime(env: Bindings, scope: string, key: string, expiresAt: number): Promise<boolean> {
  return env.REPLAY.getByName(scope).remember(key, expiresAt);
}

/**
 * Runs `write` only the first time `scope` sees `key`; if it fails, the key is forgotten again, so the
 * sender's redelivery writes it (a record is never lost to the guard that keeps it from being repeated).
 */
export async function onceFor(
  env: Bindings,
  scope: string,
  key: string,
  expiresAt: number,
  write: () => Promise<unknown>,
): Promise<void> {
  if (!(await firstTime(env, scope, key, expiresAt))) return;
  try {
    await write();
  } catch (err) {
    await env.REPLAY.getByName(scope).forget(key);
    throw err;
  }
}
