import { DurableObject } from "cloudflare:workers";
import { type Counts, RUN_STATUSES, type RunMeta, type RunStatus, type SourceName, TERMINAL } from "./types";

/**
 * The runs index (issue 9, docs/storage-schema.md "Runs index"): one row per run in one SQLite Durable
 * Object, so `GET /runs` lists, filters and counts runs newest first, strongly consistently (a run is
 * listed as soon as its 202 is answered). The run's ledger (RunLedger) stays the truth; a row is a copy of
 * its meta, written by the accept path and by the ledger on every change, and repaired by the sweeper.
 * One instance: a SQLite Durable Object holds up to 10 GB [Durable Objects limits]; a row is ~300 bytes.
 */
export const RUN_INDEX_NAME = "runs";

/**
 * Statuses a run can still leave: rows in them are re-checked against the ledger by the sweeper. `watching`
 * (issue 10) is open: the main actions are done, but the watch's later checks may still change the outcome.
 */
export const OPEN_STATUSES = [
  "accepted",
  "running",
  "needs_confirmation",
  "awaiting_approval",
  "watching",
] as const;
const OPEN_SQL = `(${OPEN_STATUSES.map((s) => `'${s}'`).join(", ")})`;

/** What the list shows of a run's shares (docs/storage-schema.md "Runs index"). */
export interface IndexCounts {
  /** Shares the run cancels (a dry run: would cancel): every share but those skipped by a hold or scope. */
  planned: number;
  /** No longer shared: cancelled by the run, or already gone when it tried. */
  cancelled: number;
  /** Failed, or still listed by KooDrive after a cancel. */
  failed: number;
}

export interface IndexRow {
  runId: string;
  source: SourceName;
  eventId: string;
  status: RunStatus;
  dryRun: boolean;
  subject: { hrId: string; email?: string; name?: string; koodriveUserId?: string };
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  counts: IndexCounts;
  /** The ledger's revision of the meta this row copies: an older copy never overwrites a newer one. */
  rev: number;
}

/** The index row of a run, from its ledger's meta and share counts. */
export function indexRowOf(meta: RunMeta, counts: Counts | undefined, rev: number): IndexRow {
  const { request } = meta;
  const n = (k: keyof Counts) => counts?.[k] ?? 0;
  const subject: IndexRow["subject"] = { hrId: request.subject.hrId };
  if (request.subject.email) subject.email = request.subject.email;
  if (request.subject.name) subject.name = request.subject.name;
  // The leaver as the run resolved them (an unconfirmed name match is nobody's yet), else as the event said.
  const resolved =
    meta.status === "needs_confirmation" && !meta.confirmedBy ? undefined : meta.koodriveUserId;
  const kd = resolved ?? request.subject.koodriveUserId;
  if (kd) subject.koodriveUserId = kd;
  return {
    runId: request.runId,
    source: request.source,
    eventId: request.eventId,
    status: meta.status,
    dryRun: request.dryRun,
    subject,
    createdAt: meta.createdAt,
    updatedAt: meta.updatedAt,
    // An open run is not finished, whatever an earlier attempt recorded (a retried run, a run watching).
    finishedAt: TERMINAL.has(meta.status) ? (meta.finishedAt ?? null) : null,
    counts: {
      planned: n("total") - n("skipped_hold") - n("skipped_scope"),
      cancelled: n("cancelled") + n("already_gone"),
      failed: n("failed") + n("still_active"),
    },
    rev,
  };
}

/** A name as the person filter compares it: trimmed, inner white space collapsed, NFC, case ignored. */
const normName = (name: string) => name.trim().replace(/\s+/g, " ").normalize("NFC").toLowerCase();

/** The person keys a run is found by: e-mail (case ignored), HR id, KooDrive id, name. */
export function personKeysOf(subject: IndexRow["subject"]): string[] {
  const keys = new Set<string>();
  if (subject.hrId.trim()) keys.add(`hr:${subject.hrId.trim()}`);
  if (subject.email) keys.add(`email:${subject.email.trim().toLowerCase()}`);
  if (subject.koodriveUserId) keys.add(`kd:${subject.koodriveUserId}`);
  if (subject.name?.trim()) keys.add(`name:${normName(subject.name)}`);
  return [...keys];
}

/** The keys a `person=` value may match: as an e-mail, a KooDrive id, an HR id or an exact name. */
export function personQueryKeys(value: string): string[] {
  const v = value.trim();
  const keys = new Set<string>([`hr:${v}`, `name:${normName(v)}`]);
  if (v.includes("@")) keys.add(`email:${v.toLowerCase()}`);
  if (/^\d{19}$/.test(v)) keys.add(`kd:${v}`);
  return [...keys];
}

/** A position in the newest-first order: the last row of a page. */
export interface ListPosition {
  createdAt: number;
  runId: string;
}

export interface ListFilter {
  statuses?: RunStatus[];
  sources?: SourceName[];
  /** From personQueryKeys. */
  personKeys?: string[];
  /** createdAt bounds in epoch ms, inclusive. */
  since?: number;
  until?: number;
  /** Rows strictly after this position (newest first). */
  after?: ListPosition;
  limit: number;
}

export interface ListResult {
  runs: IndexRow[];
  /** Whether rows follow the last one returned. */
  more: boolean;
  /** Runs per status for the same filters without the status filter (and without the cursor). */
  counts: Record<RunStatus, number>;
}

type Sql = { sql: string; params: (string | number)[] };

type DbRow = {
  run_id: string;
  source: string;
  event_id: string;
  status: string;
  dry_run: number;
  hr_id: string;
  email: string | null;
  name: string | null;
  koodrive_user_id: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  planned: number;
  cancelled: number;
  failed: number;
  rev: number;
};

const iso = (ms: number) => new Date(ms).toISOString();

function fromDb(r: DbRow): IndexRow {
  const subject: IndexRow["subject"] = { hrId: r.hr_id };
  if (r.email !== null) subject.email = r.email;
  if (r.name !== null) subject.name = r.name;
  if (r.koodrive_user_id !== null) subject.koodriveUserId = r.koodrive_user_id;
  return {
    runId: r.run_id,
    source: r.source as SourceName,
    eventId: r.event_id,
    status: r.status as RunStatus,
    dryRun: r.dry_run === 1,
    subject,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    finishedAt: r.finished_at === null ? null : iso(r.finished_at),
    counts: { planned: r.planned, cancelled: r.cancelled, failed: r.failed },
    rev: r.rev,
  };
}

/** The createdAt window and cursor on `col` (created_at of runs or of run_people): index range terms. */
function rangeTerms(f: ListFilter, prefix: string): Sql {
  const terms: string[] = [];
  const params: (string | number)[] = [];
  if (f.since !== undefined) {
    terms.push(`${prefix}created_at >= ?`);
    params.push(f.since);
  }
  if (f.until !== undefined) {
    terms.push(`${prefix}created_at <= ?`);
    params.push(f.until);
  }
  if (f.after) {
    // A row value: SQLite uses it as the end of the index range (created_at, run_id) [SQLite: Row Values].
    terms.push(`(${prefix}created_at, ${prefix}run_id) < (?, ?)`);
    params.push(f.after.createdAt, f.after.runId);
  }
  return { sql: terms.map((t) => ` AND ${t}`).join(""), params };
}

const inList = (col: string, values: readonly string[]): Sql => ({
  sql: ` AND ${col} IN (${values.map(() => "?").join(", ")})`,
  params: [...values],
});

/**
 * The page queries of a filter, one per "lane" that an index serves in newest-first order: per person
 * key (run_people), else per (status, source) pair, per status, per source, or all runs. Each is a
 * bounded index range read backwards; the lanes are merged. An `IN (...)` over several values would make
 * SQLite sort the union (a temporary B-tree) instead of reading one index in order.
 */
export function pageQueries(f: ListFilter): Sql[] {
  const limit = f.limit + 1;
  if (f.personKeys?.length) {
    const range = rangeTerms(f, "p.");
    const st = f.statuses?.length ? inList("r.status", f.statuses) : { sql: "", params: [] };
    const so = f.sources?.length ? inList("r.source", f.sources) : { sql: "", params: [] };
    return f.personKeys.map((key) => ({
      sql: `SELECT r.* FROM run_people AS p JOIN runs AS r ON r.run_id = p.run_id
            WHERE p.person = ?${range.sql}${st.sql}${so.sql}
            ORDER BY p.created_at DESC, p.run_id DESC LIMIT ?`,
      params: [key, ...range.params, ...st.params, ...so.params, limit],
    }));
  }
  const range = rangeTerms(f, "");
  const statuses: (string | undefined)[] = f.statuses?.length ? f.statuses : [undefined];
  const sources: (string | undefined)[] = f.sources?.length ? f.sources : [undefined];
  const out: Sql[] = [];
  for (const status of statuses)
    for (const source of sources) {
      const eq: string[] = [];
      const params: (string | number)[] = [];
      if (status !== undefined) {
        eq.push("status = ?");
        params.push(status);
      }
      if (source !== undefined) {
        eq.push("source = ?");
        params.push(source);
      }
      out.push({
        sql: `SELECT * FROM runs WHERE ${eq.length ? eq.join(" AND ") : "1"}${range.sql}
              ORDER BY created_at DESC, run_id DESC LIMIT ?`,
        params: [...params, ...range.params, limit],
      });
    }
  return out;
}

/**
 * The count queries: runs per status for the filter without its status (and cursor). Without a person,
 * one COUNT per (status[, source]) over a covering index range; with one, the person's few rows.
 */
export function countQueries(f: ListFilter): Sql[] {
  const { after: _cursor, ...g } = f;
  if (f.personKeys?.length) {
    const range = rangeTerms(g, "p.");
    const so = f.sources?.length ? inList("r.source", f.sources) : { sql: "", params: [] };
    const keys = inList("p.person", f.personKeys);
    return [
      {
        sql: `SELECT r.status AS status, COUNT(DISTINCT r.run_id) AS n FROM run_people AS p
              JOIN runs AS r ON r.run_id = p.run_id
              WHERE 1${keys.sql}${range.sql}${so.sql} GROUP BY r.status`,
        params: [...keys.params, ...range.params, ...so.params],
      },
    ];
  }
  const range = rangeTerms(g, "");
  const out: Sql[] = [];
  for (const status of RUN_STATUSES) {
    for (const source of f.sources?.length ? f.sources : [undefined]) {
      out.push({
        sql: `SELECT ? AS status, COUNT(*) AS n FROM runs WHERE status = ?${source === undefined ? "" : " AND source = ?"}${range.sql}`,
        params: [status, status, ...(source === undefined ? [] : [source]), ...range.params],
      });
    }
  }
  return out;
}

const byNewest = (a: IndexRow, b: IndexRow) =>
  a.createdAt === b.createdAt
    ? a.runId < b.runId
      ? 1
      : a.runId > b.runId
        ? -1
        : 0
    : a.createdAt < b.createdAt
      ? 1
      : -1;

export class RunIndex extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // Times are epoch ms (INTEGER): ranges and the keyset cursor compare numbers. The sweeper's partial
    // index is named after its status list: `watching` joined it in 0.4 and `awaiting_approval` in 0.5, and CREATE INDEX IF NOT EXISTS
    // would keep an older definition, so the old one is dropped and the new one built once.
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        event_id TEXT NOT NULL,
        status TEXT NOT NULL,
        dry_run INTEGER NOT NULL,
        hr_id TEXT NOT NULL,
        email TEXT,
        name TEXT,
        koodrive_user_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        finished_at INTEGER,
        planned INTEGER NOT NULL DEFAULT 0,
        cancelled INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        rev INTEGER NOT NULL DEFAULT 0,
        checked_at INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at, run_id);
      CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, created_at, run_id);
      CREATE INDEX IF NOT EXISTS runs_by_source ON runs (source, created_at, run_id);
      CREATE INDEX IF NOT EXISTS runs_by_status_source ON runs (status, source, created_at, run_id);
      DROP INDEX IF EXISTS runs_open;
      DROP INDEX IF EXISTS runs_open_v2;
      CREATE INDEX IF NOT EXISTS runs_open_v3 ON runs (checked_at) WHERE status IN ${OPEN_SQL};
      CREATE TABLE IF NOT EXISTS run_people (
        person TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        run_id TEXT NOT NULL,
        PRIMARY KEY (person, created_at, run_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS run_people_by_run ON run_people (run_id);
      CREATE TABLE IF NOT EXISTS bursts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL UNIQUE,
        at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS bursts_by_at ON bursts (at);
    `);
  }

  /**
   * The layoff guard (issue 11): where this run stands among the runs accepted from automated sources in
   * the last `windowMs` (1 = the first). A redelivery of the same run keeps its place. Older rows go.
   */
  burstPosition(runId: string, now: number, windowMs: number): number {
    return this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM bursts WHERE at < ?", now - windowMs);
      this.sql.exec("INSERT OR IGNORE INTO bursts (run_id, at) VALUES (?, ?)", runId, now);
      const mine = this.sql.exec<{ seq: number }>("SELECT seq FROM bursts WHERE run_id = ?", runId).one().seq;
      return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM bursts WHERE seq <= ?", mine).one().n;
    });
  }

  /** Writes rows; a row older (lower rev) than the stored one is ignored. Returns how many were written. */
  upsert(rows: IndexRow[]): number {
    let written = 0;
    this.ctx.storage.transactionSync(() => {
      for (const row of rows) {
        const applied = this.sql
          .exec(
            `INSERT INTO runs (run_id, source, event_id, status, dry_run, hr_id, email, name, koodrive_user_id,
               created_at, updated_at, finished_at, planned, cancelled, failed, rev)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, koodrive_user_id = excluded.koodrive_user_id,
               updated_at = excluded.updated_at, finished_at = excluded.finished_at, planned = excluded.planned,
               cancelled = excluded.cancelled, failed = excluded.failed, rev = excluded.rev
             WHERE excluded.rev >= runs.rev
             RETURNING run_id`,
            row.runId,
            row.source,
            row.eventId,
            row.status,
            row.dryRun ? 1 : 0,
            row.subject.hrId,
            row.subject.email ?? null,
            row.subject.name ?? null,
            row.subject.koodriveUserId ?? null,
            Date.parse(row.createdAt),
            Date.parse(row.updatedAt),
            row.finishedAt === null ? null : Date.parse(row.finishedAt),
            row.counts.planned,
            row.counts.cancelled,
            row.counts.failed,
            row.rev,
          )
          .toArray();
        if (applied.length === 0) continue;
        written++;
        this.sql.exec("DELETE FROM run_people WHERE run_id = ?", row.runId);
        for (const key of personKeysOf(row.subject))
          this.sql.exec(
            "INSERT OR IGNORE INTO run_people (person, created_at, run_id) VALUES (?, ?, ?)",
            key,
            Date.parse(row.createdAt),
            row.runId,
          );
      }
    });
    return written;
  }

  /** One page, newest first, and the counts per status (see ListResult). */
  list(filter: ListFilter): ListResult {
    const seen = new Map<string, IndexRow>();
    for (const q of pageQueries(filter))
      for (const r of this.sql.exec<DbRow>(q.sql, ...q.params)) seen.set(r.run_id, fromDb(r));
    const merged = [...seen.values()].sort(byNewest);
    const counts = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>;
    for (const q of countQueries(filter))
      for (const r of this.sql.exec<{ status: RunStatus; n: number }>(q.sql, ...q.params))
        counts[r.status] += r.n;
    return { runs: merged.slice(0, filter.limit), more: merged.length > filter.limit, counts };
  }

  /** `EXPLAIN QUERY PLAN` of every query `list(filter)` runs (tests: each must read an index range). */
  explain(filter: ListFilter): string[][] {
    return [...pageQueries(filter), ...countQueries(filter)].map((q) =>
      this.sql
        .exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${q.sql}`, ...q.params)
        .toArray()
        .map((r) => r.detail),
    );
  }

  get(runId: string): IndexRow | null {
    const r = this.sql.exec<DbRow>("SELECT * FROM runs WHERE run_id = ?", runId).toArray()[0];
    return r ? fromDb(r) : null;
  }

  /** Of these run ids, those with no row (the sweeper fills them in from the ledger). */
  missing(runIds: string[]): string[] {
    return runIds.filter(
      (id) => this.sql.exec("SELECT 1 FROM runs WHERE run_id = ?", id).toArray().length === 0,
    );
  }

  /**
   * Rows still open (accepted, running, needs confirmation, watching) least recently checked, at most `limit`, not
   * checked since `checkedBefore`; marks them checked `now`. The sweeper compares each with its ledger.
   */
  openRuns(
    limit: number,
    checkedBefore: number,
    now: number,
  ): Array<Pick<IndexRow, "runId" | "status" | "rev">> {
    const rows = this.sql
      .exec<{ run_id: string; status: RunStatus; rev: number }>(
        `SELECT run_id, status, rev FROM runs WHERE status IN ${OPEN_SQL} AND checked_at < ?
         ORDER BY checked_at LIMIT ?`,
        checkedBefore,
        limit,
      )
      .toArray();
    for (const r of rows) this.sql.exec("UPDATE runs SET checked_at = ? WHERE run_id = ?", now, r.run_id);
    return rows.map((r) => ({ runId: r.run_id, status: r.status, rev: r.rev }));
  }

  size(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM runs").one().n;
  }
}
