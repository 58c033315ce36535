import {
  auditKey,
  auditRunKey,
  auditRunPrefix,
  auditSubjectKey,
  auditSubjectPrefix,
  fromInvertedTs,
  PREFIX,
  type SubjectKey,
} from "./keys";
import { type AuditInput, AuditRecord, type AuditSubject } from "./schema";

/** Default retention of audit records, in days. */
export const DEFAULT_RETENTION_DAYS = 400;
/** Largest page an admin can ask for. */
export const MAX_AUDIT_PAGE = 100;
/** KV list pages (of 1,000 keys) one audit query may scan before handing back a cursor. */
const MAX_PAGES_PER_QUERY = 20;

export interface AuditQuery {
  subject?: SubjectKey;
  /** ISO bounds, inclusive. */
  since?: string;
  until?: string;
  limit: number;
  cursor?: string;
}

export interface AuditPage {
  records: AuditRecord[];
  cursor?: string;
}

/** The subject index keys a record is filed under. */
export function subjectKeys(subject: AuditSubject | undefined): SubjectKey[] {
  if (!subject) return [];
  const keys: SubjectKey[] = [];
  if (subject.koodriveUserId) keys.push(`kd:${subject.koodriveUserId}`);
  if (subject.hrId) keys.push(`hr:${subject.hrId}`);
  if (subject.email) keys.push(`email:${subject.email.toLowerCase()}`);
  return keys;
}

const newId = () => crypto.randomUUID().replaceAll("-", "").slice(0, 16);

/**
 * Audit trail in Workers KV. Each record is written under the global newest-first index, the subject
 * index (per person) and the run index (per run), all with the retention TTL.
 */
export class AuditStore {
  constructor(
    private readonly kv: KVNamespace,
    private readonly retentionDays = DEFAULT_RETENTION_DAYS,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Writes one record; returns it. Validates the shape so nothing but the schema's fields lands. */
  async write(input: AuditInput): Promise<AuditRecord> {
    const date = input.at ? new Date(input.at) : this.now();
    const record = AuditRecord.parse({ ...input, id: newId(), at: date.toISOString() });
    const ms = date.getTime();
    const value = JSON.stringify(record);
    const options = { expirationTtl: this.retentionDays * 86_400 };
    const keys = [
      auditKey(ms, record.id),
      ...(await Promise.all(subjectKeys(record.subject).map((s) => auditSubjectKey(s, ms, record.id)))),
      ...(record.runId ? [auditRunKey(record.runId, ms, record.id)] : []),
    ];
    await Promise.all(keys.map((key) => this.kv.put(key, value, options)));
    return record;
  }

  /**
   * Newest first, optionally for one person and a time window. KV lists have no range start, so this
   * walks newest-first pages, skips records after `until` and stops at the first one before `since`.
   */
  async list(query: AuditQuery): Promise<AuditPage> {
    const prefix = query.subject ? await auditSubjectPrefix(query.subject) : PREFIX.audit;
    const since = query.since ? Date.parse(query.since) : Number.NEGATIVE_INFINITY;
    const until = query.until ? Date.parse(query.until) : Number.POSITIVE_INFINITY;
    const resume = decodeCursor(query.cursor);
    let pageCursor = resume?.c;
    const wanted: string[] = [];
    for (let pages = 0; pages < MAX_PAGES_PER_QUERY; pages++) {
      let listed: KVNamespaceListResult<unknown>;
      try {
        listed = await this.kv.list({ prefix, limit: 1000, ...(pageCursor ? { cursor: pageCursor } : {}) });
      } catch (err) {
        if (resume) throw new RangeError("invalid cursor");
        throw err;
      }
      for (const [i, k] of listed.keys.entries()) {
        // Keys sort ascending: skip what an earlier page already returned (robust to new records).
        if (resume && k.name <= resume.k) continue;
        const at = fromInvertedTs(k.name.slice(prefix.length).split(":")[0] ?? "");
        if (at < since) return { records: await this.getMany(wanted) };
        if (at <= until) wanted.push(k.name);
        if (wanted.length >= query.limit) {
          const more = i + 1 < listed.keys.length || !listed.list_complete;
          const records = await this.getMany(wanted);
          return more ? { records, cursor: encodeCursor({ c: pageCursor, k: k.name }) } : { records };
        }
      }
      if (listed.list_complete) return { records: await this.getMany(wanted) };
      pageCursor = listed.cursor;
    }
    // Scanned enough for one request: hand back a cursor so the caller can go on.
    const last = wanted.at(-1) ?? resume?.k ?? "";
    return { records: await this.getMany(wanted), cursor: encodeCursor({ c: pageCursor, k: last }) };
  }

  /** Every record of a run, oldest first. */
  async forRun(runId: string, limit = 1000): Promise<AuditRecord[]> {
    return this.getMany((await this.runKeyNames(runId, limit)).slice(0, limit));
  }

  /** The key names of a run's records, oldest first: listed until `atLeast` are known or there are no more. */
  private async runKeyNames(runId: string, atLeast = Number.POSITIVE_INFINITY): Promise<string[]> {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const listed = await this.kv.list({ prefix: auditRunPrefix(runId), ...(cursor ? { cursor } : {}) });
      names.push(...listed.keys.map((k) => k.name));
      cursor = listed.list_complete ? undefined : listed.cursor;
    } while (cursor && names.length < atLeast);
    return names;
  }

  /**
   * The first `head` and last `tail` records of a run, oldest first, and how many lie between (not read).
   * A page shows a run's story without reading every record of a 100,000-share run (about 1,000 records of
   * 100 shares): key names are listed (1,000 per call), only the two ends are fetched.
   */
  async forRunEnds(
    runId: string,
    head: number,
    tail: number,
  ): Promise<{ records: AuditRecord[]; omitted: number }> {
    const names = await this.runKeyNames(runId);
    if (names.length <= head + tail) return { records: await this.getMany(names), omitted: 0 };
    const ends = [...names.slice(0, head), ...names.slice(names.length - tail)];
    return { records: await this.getMany(ends), omitted: names.length - ends.length };
  }

  private async getMany(keys: string[]): Promise<AuditRecord[]> {
    const values = await Promise.all(keys.map((k) => this.kv.get(k, "json")));
    return values.flatMap((v) => {
      const parsed = AuditRecord.safeParse(v);
      return parsed.success ? [parsed.data] : [];
    });
  }
}

interface ResumePoint {
  /** The KV cursor of the page to resume in (undefined = first page). */
  c: string | undefined;
  /** The last key already returned; resuming skips every key up to it. */
  k: string;
}

/** KV cursors point at page boundaries; ours adds the last key returned. Opaque to callers. */
function encodeCursor(point: ResumePoint): string {
  return btoa(JSON.stringify(point)).replaceAll("=", "");
}

export function decodeCursor(cursor: string | undefined): ResumePoint | undefined {
  if (!cursor) return undefined;
  try {
    const raw = JSON.parse(atob(cursor)) as ResumePoint;
    if ((raw.c === undefined || typeof raw.c === "string") && typeof raw.k === "string") return raw;
  } catch {
    // fall through
  }
  throw new RangeError("invalid cursor");
}
