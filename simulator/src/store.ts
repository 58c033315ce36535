/**
 * The simulator's SQLite schema and the few queries shared by the API and the control plane.
 * One Durable Object holds the whole tenant, so every statement here runs without races.
 */

/** A recipient entry as KooDrive returns it in share detail (`{id, name}`) [api.md "Detail"]. */
export interface Recipient {
  id: string;
  name: string;
}

export interface Recipients {
  depts: Recipient[];
  groups: Recipient[];
  /** `id` is the recipient's KooDrive userId [inferred]. */
  users: Recipient[];
}

export interface ShareFile {
  id: string;
  fileName: string;
  fileType: number;
  mimeType: string;
  size: number;
}

/** A share's content as inserted (column names in SQL are snake_case). */
export interface NewShare {
  share_id: string;
  owner_id: string;
  scope: number;
  short_url: string;
  link_url: string;
  share_time: number;
  display_name: string;
  expire_time: number;
  status: number;
  comment: string;
  view_cnt: number;
  container_id: string;
  container_name: string;
  files: string;
  recipients: string;
  cancelled_at: number | null;
}

/** A share row as stored: content plus the simulator's cancel bookkeeping. */
export interface ShareRow extends NewShare {
  cancel_requests: number;
  cancel_successes: number;
  cancel_after_cancelled: number;
  [key: string]: SqlStorageValue;
}

export interface UserRow {
  user_id: string;
  id: string;
  name: string;
  dept_id: string;
  dept_name: string;
  mobile: string;
  role: number;
  status: number;
  [key: string]: SqlStorageValue;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  user_id TEXT PRIMARY KEY, id TEXT NOT NULL, name TEXT NOT NULL, dept_id TEXT NOT NULL,
  dept_name TEXT NOT NULL, mobile TEXT NOT NULL, role INTEGER NOT NULL, status INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS shares (
  share_id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, scope INTEGER NOT NULL, short_url TEXT NOT NULL,
  link_url TEXT NOT NULL, share_time INTEGER NOT NULL, display_name TEXT NOT NULL, expire_time INTEGER NOT NULL,
  status INTEGER NOT NULL, comment TEXT NOT NULL, view_cnt INTEGER NOT NULL, container_id TEXT NOT NULL,
  container_name TEXT NOT NULL, files TEXT NOT NULL, recipients TEXT NOT NULL, cancelled_at INTEGER,
  cancel_requests INTEGER NOT NULL DEFAULT 0, cancel_successes INTEGER NOT NULL DEFAULT 0,
  cancel_after_cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS shares_active_by_owner
  ON shares (owner_id, share_time DESC, share_id DESC) WHERE cancelled_at IS NULL;
CREATE TABLE IF NOT EXISTS calls (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
  query TEXT NOT NULL, endpoint TEXT NOT NULL, user_id TEXT, http_status INTEGER NOT NULL, code TEXT,
  ids INTEGER NOT NULL, fault TEXT
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL UNIQUE, task_type INTEGER NOT NULL,
  src_user_id TEXT NOT NULL, dst_user_id TEXT NOT NULL, acting_user_id TEXT NOT NULL,
  created_at INTEGER NOT NULL, new_ms INTEGER NOT NULL, executing_ms INTEGER NOT NULL,
  fate TEXT NOT NULL, status INTEGER NOT NULL, end_time INTEGER
);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status);
CREATE TABLE IF NOT EXISTS handover_recipients (user_id TEXT PRIMARY KEY, dst_user_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS removed_users (
  user_id TEXT PRIMARY KEY, name TEXT NOT NULL, removed_at INTEGER NOT NULL, task_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, operator_id TEXT NOT NULL,
  operator_name TEXT NOT NULL, operation TEXT NOT NULL, resource TEXT NOT NULL,
  operate_result INTEGER NOT NULL, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (at, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** Every table `/__sim/reset` empties. */
const WIPED_TABLES = [
  "users",
  "shares",
  "calls",
  "counters",
  "meta",
  "tasks",
  "handover_recipients",
  "removed_users",
  "audit_log",
] as const;

/** What one cancel call does to one share: counters for the control plane, and whether it cancelled it. */
export interface ShareCounters {
  id: string;
  requests: number;
  afterCancelled: number;
  cancelled: number;
}

/** Thin typed wrapper over `ctx.storage.sql`. */
export class Store {
  constructor(
    readonly sql: SqlStorage,
    private readonly storage: DurableObjectStorage,
  ) {
    sql.exec(SCHEMA);
  }

  transaction<T>(fn: () => T): T {
    return this.storage.transactionSync(fn);
  }

  /** Bumped by every wipe, so in-memory caches (the fault engine's) know to reload. */
  wipes = 0;

  /** Wipes every table (schema kept). */
  wipe(): void {
    this.wipes += 1;
    this.transaction(() => {
      for (const table of WIPED_TABLES) this.sql.exec(`DELETE FROM ${table}`);
      // Restart sequence numbers (call log, tasks, audit log) at 1 after a reset.
      this.sql.exec("DELETE FROM sqlite_sequence");
    });
  }

  getMeta<T>(key: string): T | undefined {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  setMeta(key: string, value: unknown): void {
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      JSON.stringify(value),
    );
  }

  deleteMeta(key: string): void {
    this.sql.exec("DELETE FROM meta WHERE key = ?", key);
  }

  /** Adds `by` to a named counter and returns the new value. */
  bump(name: string, by = 1): number {
    return this.sql
      .exec<{ value: number }>(
        `INSERT INTO counters (name, value) VALUES (?, ?)
         ON CONFLICT (name) DO UPDATE SET value = value + excluded.value RETURNING value`,
        name,
        by,
      )
      .one().value;
  }

  counters(prefix: string): Record<string, number> {
    const out: Record<string, number> = {};
    const rows = this.sql.exec<{ name: string; value: number }>(
      "SELECT name, value FROM counters WHERE name LIKE ? ORDER BY name",
      `${prefix}%`,
    );
    for (const row of rows) out[row.name.slice(prefix.length)] = row.value;
    return out;
  }

  user(userId: string): UserRow | undefined {
    return this.sql.exec<UserRow>("SELECT * FROM users WHERE user_id = ?", userId).toArray()[0];
  }

  /** Owner and cancel time of the given shares that exist, in one query. */
  shareStates(shareIds: string[]): Map<string, Pick<ShareRow, "owner_id" | "cancelled_at">> {
    const rows = this.sql.exec<{ share_id: string; owner_id: string; cancelled_at: number | null }>(
      `SELECT share_id, owner_id, cancelled_at FROM shares
       WHERE share_id IN (SELECT value FROM json_each(?))`,
      JSON.stringify(shareIds),
    );
    const out = new Map<string, Pick<ShareRow, "owner_id" | "cancelled_at">>();
    for (const r of rows) out.set(r.share_id, { owner_id: r.owner_id, cancelled_at: r.cancelled_at });
    return out;
  }

  /** Applies one cancel call's effects (request counters, cancellations) in one statement. */
  applyCancels(changes: ShareCounters[], at: number): void {
    if (changes.length === 0) return;
    this.sql.exec(
      `UPDATE shares SET
         cancel_requests = cancel_requests + c.requests,
         cancel_after_cancelled = cancel_after_cancelled + c.afterCancelled,
         cancel_successes = cancel_successes + c.cancelled,
         cancelled_at = CASE WHEN c.cancelled > 0 THEN ? ELSE cancelled_at END
       FROM (SELECT value ->> '$.id' AS id, value ->> '$.requests' AS requests,
                    value ->> '$.afterCancelled' AS afterCancelled, value ->> '$.cancelled' AS cancelled
             FROM json_each(?)) AS c
       WHERE shares.share_id = c.id`,
      at,
      JSON.stringify(changes),
    );
  }

  share(shareId: string): ShareRow | undefined {
    return this.sql.exec<ShareRow>("SELECT * FROM shares WHERE share_id = ?", shareId).toArray()[0];
  }

  insertUsers(users: UserRow[]): void {
    for (const u of users) {
      this.sql.exec(
        `INSERT INTO users (user_id, id, name, dept_id, dept_name, mobile, role, status)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        u.user_id,
        u.id,
        u.name,
        u.dept_id,
        u.dept_name,
        u.mobile,
        u.role,
        u.status,
      );
    }
  }

  /**
   * Inserts shares in chunks, each chunk one statement fed by a JSON array (`json_each`): one bound
   * parameter per chunk instead of 19 per row, which is what lets 100,000 shares load in a few seconds.
   */
  insertShares(shares: NewShare[]): void {
    const CHUNK = 1000;
    const cols = [
      "share_id",
      "owner_id",
      "scope",
      "short_url",
      "link_url",
      "share_time",
      "display_name",
      "expire_time",
      "status",
      "comment",
      "view_cnt",
      "container_id",
      "container_name",
      "files",
      "recipients",
      "cancelled_at",
    ];
    const select = cols.map((c) => `value ->> '$.${c}'`).join(", ");
    const statement = `INSERT INTO shares (${cols.join(", ")}) SELECT ${select} FROM json_each(?)`;
    // Stored in listing order (newest first), so one listed page's rows sit together on disk and
    // cancelling them rewrites a few pages, not a hundred scattered ones.
    const ordered = [...shares].sort(
      (a, b) =>
        b.share_time - a.share_time || (a.share_id < b.share_id ? 1 : a.share_id > b.share_id ? -1 : 0),
    );
    for (let i = 0; i < ordered.length; i += CHUNK) {
      this.sql.exec(statement, JSON.stringify(ordered.slice(i, i + CHUNK)));
    }
  }
}
