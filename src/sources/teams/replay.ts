import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../../env";
import { TEAMS_TOLERANCE_MS, type TeamsVerified } from "./verify";

/**
 * Margin added to how long an activity id is remembered, for the difference between the Worker's clock
 * (which judged the timestamp) and the Durable Object's (which expires the id). Cloudflare's clocks agree
 * far closer than a minute.
 */
export const CLOCK_MARGIN_MS = 60_000;

/**
 * The ids of the activities already handled, each kept while its signed timestamp could still pass the
 * freshness check (`sentAt + TEAMS_TOLERANCE_MS`, plus CLOCK_MARGIN_MS); after that the timestamp itself
 * refuses a replay. One instance (`getByName("teams")`): a Durable Object is strongly consistent, so two
 * copies of an activity racing each other cannot both be first, which KV (eventually consistent, up to
 * 60 s) could not promise. An alarm purges expired ids, so the table holds at most about ten minutes of
 * Teams traffic.
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

/**
 * Whether this is the first delivery of a verified activity (false: a replay, already handled). Keyed by
 * conversation and activity id (Bot Framework ids are unique within a conversation). The id is remembered
 * before the command runs: a command runs at most once per activity.
 */
export async function firstDelivery(env: Bindings, activity: TeamsVerified): Promise<boolean> {
  const key = `${activity.conversationId}\n${activity.activityId}`;
  return env.REPLAY.getByName("teams").remember(key, activity.sentAt + TEAMS_TOLERANCE_MS + CLOCK_MARGIN_MS);
}
