import { foldUserName, withoutPasswords } from "./schema";

/**
 * The SCIM directory's tables (docs/storage-schema.md, "Durable Objects") and their migrations, run by the
 * Durable Object's constructor before any request reaches it. Every step is idempotent and the whole runs in
 * one transaction, so a directory of any age (or one whose migration was cut short) ends on the same schema.
 */

/** The first schema. Kept as it was so that a new directory and a migrated one are the same. */
const USERS_V1 = `
  CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    external_id TEXT,
    attributes TEXT NOT NULL,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version INTEGER NOT NULL,
    deactivations INTEGER NOT NULL DEFAULT 0,
    runs_started INTEGER NOT NULL DEFAULT 0,
    deleting INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX IF NOT EXISTS users_by_external_id ON users (external_id);
`;

/** What the recovery alarm has to do: the rows it looks for, as the partial index below names them. */
export const PENDING_WORK = "deactivations > runs_started OR deleting = 1";

export interface UserRow {
  id: string;
  user_name: string;
  /** `foldUserName(user_name)`: what uniqueness and `userName eq` compare. */
  user_name_key: string;
  /** 0, except for a second user whose name folded onto an older one's before folding was Unicode-aware. */
  user_name_dup: number;
  attributes: string;
  created: string;
  last_modified: string;
  version: number;
  deactivations: number;
  runs_started: number;
  deleting: number;
  [key: string]: SqlStorageValue;
}

/** Creates or migrates the directory's tables. */
export function migrate(storage: DurableObjectStorage): void {
  const sql = storage.sql;
  storage.transactionSync(() => {
    sql.exec(USERS_V1);
    addRecoveryColumns(sql);
    addFoldedUserName(sql);
    // The audit outbox (issue 8 finding 9): a write's record is committed with the write, deleted once
    // it is in KV; the recovery alarm writes what a request did not.
    sql.exec(`
      CREATE TABLE IF NOT EXISTS audit_outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        record TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS users_pending ON users (id) WHERE ${PENDING_WORK};
    `);
    addOutboxKinds(sql);
  });
}

/**
 * What the outbox holds: an audit record to write to KV (`audit`), or a reactivation whose waiting runs are
 * to be withdrawn (`reactivation`, the record is the `Reactivation`).
 */
export type OutboxKind = "audit" | "reactivation";

export interface OutboxRow {
  seq: number;
  kind: OutboxKind;
  /** JSON: the `AuditInput` or the `Reactivation`. */
  record: string;
  /** Failed tries so far (the alarm tries the least-tried first, so one that keeps failing blocks none). */
  attempts: number;
  [key: string]: SqlStorageValue;
}

const columnsOf = (sql: SqlStorage, table = "users") =>
  new Set(
    sql
      .exec<{ name: string }>(`PRAGMA table_info(${table})`)
      .toArray()
      .map((c) => c.name),
  );

/**
 * v3: the outbox holds a second kind of entry, a SCIM reactivation (withdraw the person's waiting runs),
 * committed with the user's change like its audit record. Rows written before are audit records.
 */
function addOutboxKinds(sql: SqlStorage): void {
  const columns = columnsOf(sql, "audit_outbox");
  if (!columns.has("kind"))
    sql.exec("ALTER TABLE audit_outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'audit'");
  if (!columns.has("attempts"))
    sql.exec("ALTER TABLE audit_outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0");
  sql.exec("CREATE INDEX IF NOT EXISTS outbox_by_kind ON audit_outbox (kind, attempts, seq)");
}

/**
 * The very first directories (before the recovery alarm) have no `runs_started` / `deleting`: added here.
 * Every deactivation such a directory recorded already had its run started by the request that caused it,
 * so `runs_started` starts equal to `deactivations` (the alarm must not start them again).
 */
function addRecoveryColumns(sql: SqlStorage): void {
  const columns = columnsOf(sql);
  if (!columns.has("runs_started")) {
    sql.exec("ALTER TABLE users ADD COLUMN runs_started INTEGER NOT NULL DEFAULT 0");
    sql.exec("UPDATE users SET runs_started = deactivations");
  }
  if (!columns.has("deleting")) sql.exec("ALTER TABLE users ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0");
}

/**
 * v2: `userName` uniqueness and lookups fold Unicode case (issue 8 finding 12); v1 compared with SQLite's
 * NOCASE, which folds ASCII only. Adds `user_name_key` and backfills it. A v1 directory may hold two users
 * whose names now fold to one key (`ÄNNE@x` and `änne@x`): the older keeps `user_name_dup = 0`, the others
 * count up, so the unique index holds and none of them becomes unusable. The backfill also drops any
 * password v1 stored (finding 6).
 */
function addFoldedUserName(sql: SqlStorage): void {
  const columns = columnsOf(sql);
  if (!columns.has("user_name_key")) {
    sql.exec("ALTER TABLE users ADD COLUMN user_name_key TEXT");
    sql.exec("ALTER TABLE users ADD COLUMN user_name_dup INTEGER NOT NULL DEFAULT 0");
  }
  // Created before the backfill (rows without a key are NULL, which a unique index allows any number of),
  // so the backfill's own look-ups use it.
  sql.exec("CREATE UNIQUE INDEX IF NOT EXISTS users_by_name_key ON users (user_name_key, user_name_dup)");
  // Ids and names first (one sort, small), then each row's attributes: a large directory's attributes need
  // not fit in memory at once.
  const rows = sql
    .exec<{ id: string; user_name: string }>(
      "SELECT id, user_name FROM users WHERE user_name_key IS NULL ORDER BY created, id",
    )
    .toArray();
  for (const row of rows) {
    const key = foldUserName(row.user_name);
    const dup = sql
      .exec<{ n: number }>(
        "SELECT COALESCE(MAX(user_name_dup) + 1, 0) AS n FROM users WHERE user_name_key = ?",
        key,
      )
      .one().n;
    const stored = sql
      .exec<{ attributes: string }>("SELECT attributes FROM users WHERE id = ?", row.id)
      .one();
    const attributes = JSON.stringify(withoutPasswords(JSON.parse(stored.attributes) as unknown));
    sql.exec(
      "UPDATE users SET user_name_key = ?, user_name_dup = ?, attributes = ? WHERE id = ?",
      key,
      dup,
      attributes,
      row.id,
    );
  }
}
