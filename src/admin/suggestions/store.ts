import { DurableObject } from "cloudflare:workers";
import { normalizeName, type PersonSeen, type SeenRow, type SeenSource } from "./people";

/**
 * At most this many people are kept; a new one beyond it evicts the longest unseen. 50,000 rows of about
 * 300 bytes is 15 MB, far inside a SQLite Durable Object's 10 GB, and more people without a mapping than a
 * mid-size company employs: past that, load the identity map from HR (`PUT /identities`) instead.
 * @see https://developers.cloudflare.com/durable-objects/platform/limits/
 */
export const MAX_PEOPLE_SEEN = 50_000;

/**
 * A person not named by any source for this long is forgotten (dismissed ones too): personal data is kept
 * no longer than it serves (GDPR art. 5(1)(e)). A year covers an IdP that re-sends a user only when the
 * profile changes; the audit trail keeps its records for AUDIT_RETENTION_DAYS (400) anyway.
 */
export const SEEN_RETENTION_DAYS = 365;
const RETENTION_MS = SEEN_RETENTION_DAYS * 86_400_000;

/** People one `record` call may name: an Okta delivery carries at most 100 events (okta/schema.ts). */
export const MAX_PEOPLE_PER_RECORD = 100;

/** Expired rows deleted per `record` call: bounded work per webhook, and the backlog still shrinks. */
const PURGE_BATCH = 100;

interface Row {
  key: string;
  email: string | null;
  hr_id: string | null;
  name: string;
  source: SeenSource;
  first_seen: number;
  last_seen: number;
  dismissed_at: number | null;
  dismissed_by: string | null;
  [column: string]: SqlStorageValue;
}

const iso = (ms: number) => new Date(ms).toISOString();

const toSeen = (r: Row): SeenRow => ({
  key: r.key,
  ...(r.email ? { email: r.email } : {}),
  ...(r.hr_id ? { hrId: r.hr_id } : {}),
  name: r.name,
  source: r.source,
  firstSeenAt: iso(r.first_seen),
  lastSeenAt: iso(r.last_seen),
  ...(r.dismissed_at !== null ? { dismissedAt: iso(r.dismissed_at) } : {}),
  ...(r.dismissed_by ? { dismissedBy: r.dismissed_by } : {}),
});

/** Where a page starts: after this (normalised name, key). */
export type PageAfter = [nameKey: string, key: string];

/**
 * People seen without an identity-map entry (docs/storage-schema.md, "Durable Objects"), in one SQLite
 * Durable Object: strongly consistent, so a person confirmed or dismissed leaves the suggestions at once
 * (KV could show them again for up to 60 s), and the size can be capped exactly. Methods are synchronous,
 * so each runs alone in the object.
 */
export class PeopleSeen extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.storage.transactionSync(() => {
      this.sql.exec(`
        CREATE TABLE IF NOT EXISTS people (
          key TEXT PRIMARY KEY,
          email TEXT,
          hr_id TEXT,
          name TEXT NOT NULL,
          name_key TEXT NOT NULL,
          source TEXT NOT NULL,
          first_seen INTEGER NOT NULL,
          last_seen INTEGER NOT NULL,
          dismissed_at INTEGER,
          dismissed_by TEXT
        );
        CREATE INDEX IF NOT EXISTS people_open ON people (name_key, key) WHERE dismissed_at IS NULL;
        CREATE INDEX IF NOT EXISTS people_by_last_seen ON people (last_seen);
        CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
        INSERT OR IGNORE INTO meta (k, v) VALUES ('count', 0);
      `);
    });
  }

  private count(): number {
    return this.sql.exec<{ v: number }>("SELECT v FROM meta WHERE k = 'count'").one().v;
  }

  private addCount(delta: number): void {
    if (delta !== 0) this.sql.exec("UPDATE meta SET v = max(0, v + ?) WHERE k = 'count'", delta);
  }

  /** Deletes up to `n` rows chosen by `where` (oldest first), keeping the count. */
  private deleteOldest(where: string, n: number, ...args: SqlStorageValue[]): number {
    const gone = this.sql
      .exec(
        `DELETE FROM people WHERE key IN
           (SELECT key FROM people WHERE ${where} ORDER BY last_seen LIMIT ?) RETURNING key`,
        ...args,
        n,
      )
      .toArray().length;
    this.addCount(-gone);
    return gone;
  }

  /**
   * Remembers these people as seen now by `source`: a new person is added, a known one gets the new name,
   * ids and time (a dismissal stays). Forgets what is past the retention and, beyond the cap, the longest
   * unseen. One transaction, bounded: at most MAX_PEOPLE_PER_RECORD people.
   */
  record(people: PersonSeen[], source: SeenSource, now = Date.now()): { added: number; updated: number } {
    let added = 0;
    let updated = 0;
    this.ctx.storage.transactionSync(() => {
      this.deleteOldest("last_seen < ?", PURGE_BATCH, now - RETENTION_MS);
      for (const p of people.slice(0, MAX_PEOPLE_PER_RECORD)) {
        const known = this.sql.exec("SELECT 1 FROM people WHERE key = ?", p.key).toArray().length > 0;
        if (known) {
          this.sql.exec(
            `UPDATE people SET email = coalesce(?, email), hr_id = coalesce(?, hr_id), name = ?, name_key = ?,
               source = ?, last_seen = max(last_seen, ?) WHERE key = ?`,
            p.email ?? null,
            p.hrId ?? null,
            p.name,
            normalizeName(p.name),
            source,
            now,
            p.key,
          );
          updated++;
        } else {
          this.sql.exec(
            `INSERT INTO people (key, email, hr_id, name, name_key, source, first_seen, last_seen)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
            p.key,
            p.email ?? null,
            p.hrId ?? null,
            p.name,
            normalizeName(p.name),
            source,
            now,
            now,
          );
          added++;
        }
      }
      this.addCount(added);
      const over = this.count() - MAX_PEOPLE_SEEN;
      if (over > 0) this.deleteOldest("1 = 1", over);
    });
    return { added, updated };
  }

  /** Open (not dismissed) people by normalised name, then key, after `after`; `limit` at most. */
  page(after: PageAfter | null, limit: number): SeenRow[] {
    const rows = after
      ? this.sql.exec<Row>(
          `SELECT * FROM people WHERE dismissed_at IS NULL AND (name_key, key) > (?, ?)
           ORDER BY name_key, key LIMIT ?`,
          after[0],
          after[1],
          limit,
        )
      : this.sql.exec<Row>(
          "SELECT * FROM people WHERE dismissed_at IS NULL ORDER BY name_key, key LIMIT ?",
          limit,
        );
    return rows.toArray().map(toSeen);
  }

  /** These people, dismissed or not (absent keys are left out). */
  get(keys: string[]): SeenRow[] {
    return this.sql
      .exec<Row>("SELECT * FROM people WHERE key IN (SELECT value FROM json_each(?))", JSON.stringify(keys))
      .toArray()
      .map(toSeen);
  }

  /** Forgets these people (confirmed, or found in the identity map); returns how many were there. */
  forget(keys: string[]): number {
    let gone = 0;
    this.ctx.storage.transactionSync(() => {
      gone = this.sql
        .exec(
          "DELETE FROM people WHERE key IN (SELECT value FROM json_each(?)) RETURNING key",
          JSON.stringify(keys),
        )
        .toArray().length;
      this.addCount(-gone);
    });
    return gone;
  }

  /** Dismisses these people (kept, so seeing them again does not suggest them again); returns the keys found. */
  dismiss(keys: string[], by: string, now = Date.now()): string[] {
    return this.sql
      .exec<{ key: string }>(
        `UPDATE people SET dismissed_at = coalesce(dismissed_at, ?), dismissed_by = coalesce(dismissed_by, ?)
         WHERE key IN (SELECT value FROM json_each(?)) RETURNING key`,
        now,
        by,
        JSON.stringify(keys),
      )
      .toArray()
      .map((r) => r.key);
  }
}
