import { sha256Hex } from "../bytes";

/**
 * Every KV key prefix this Worker writes, in one place. Documented in docs/storage-schema.md.
 * KV lists keys in ascending byte order, so "newest first" listings use an inverted timestamp.
 */

/** Inverted-time width: 13 digits covers epoch milliseconds until the year 2286. */
const TS_WIDTH = 13;
const MAX_TS = 10 ** TS_WIDTH - 1;

export const PREFIX = {
  /** `audit:<invTs>:<id>`: every audit record, newest first. */
  audit: "audit:",
  /** `audit-subject:<subjectKey>:<invTs>:<id>`: records about one person (KooDrive id, HR id, e-mail), newest first. */
  auditSubject: "audit-subject:",
  /** `audit-run:<runId>:<ts>:<id>`: records of one run, oldest first. */
  auditRun: "audit-run:",
  /** `identity:email:<lower-case e-mail>` / `identity:hr:<HR id>`: HR identity -> KooDrive user id. */
  identity: "identity:",
  /** `active-run:<runId>`: runs not yet terminal, for the sweeper (Cron Trigger) to check on. */
  activeRun: "active-run:",
} as const;

export const invertedTs = (ms: number) => String(MAX_TS - ms).padStart(TS_WIDTH, "0");
export const forwardTs = (ms: number) => String(ms).padStart(TS_WIDTH, "0");
/** Parses the time back out of an inverted timestamp segment. */
export const fromInvertedTs = (segment: string) => MAX_TS - Number(segment);

/** How a person is keyed in the subject index: `kd:<19 digits>`, `hr:<id>` or `email:<lower-case>`. */
export type SubjectKey = `kd:${string}` | `hr:${string}` | `email:${string}`;

/** Interprets an admin's `user=` query: 19 digits is a KooDrive id, an `@` an e-mail, else an HR id. */
export function subjectKeyFor(value: string): SubjectKey {
  const v = value.trim();
  if (/^(kd|hr|email):/.test(v)) return v as SubjectKey;
  if (/^\d{19}$/.test(v)) return `kd:${v}`;
  if (v.includes("@")) return `email:${v.toLowerCase()}`;
  return `hr:${v}`;
}

/**
 * Longest value segment kept readable. KV keys are at most 512 bytes; an HR id or e-mail can be long and
 * grows up to 9x when percent-encoded, so a longer segment is replaced by a hash of it.
 */
const MAX_SEGMENT = 128;

/** A value as one key segment: percent-encoded (no `:` inside), or `%00h<sha-256 hex>` when long. */
export async function keySegment(value: string): Promise<string> {
  const encoded = encodeURIComponent(value);
  if (encoded.length <= MAX_SEGMENT) return encoded;
  // A literal NUL never occurs in a real id, so this cannot collide with an encoded value.
  return `%00h${(await sha256Hex(value)).slice(0, 40)}`;
}

export const auditKey = (ms: number, id: string) => `${PREFIX.audit}${invertedTs(ms)}:${id}`;
export const auditSubjectKey = async (subject: SubjectKey, ms: number, id: string) =>
  `${PREFIX.auditSubject}${await keySegment(subject)}:${invertedTs(ms)}:${id}`;
export const auditSubjectPrefix = async (subject: SubjectKey) =>
  `${PREFIX.auditSubject}${await keySegment(subject)}:`;
export const auditRunKey = (runId: string, ms: number, id: string) =>
  `${PREFIX.auditRun}${runId}:${forwardTs(ms)}:${id}`;
export const auditRunPrefix = (runId: string) => `${PREFIX.auditRun}${runId}:`;

export const identityEmailKey = async (email: string) =>
  `${PREFIX.identity}email:${await keySegment(email.trim().toLowerCase())}`;
export const identityHrKey = async (hrId: string) => `${PREFIX.identity}hr:${await keySegment(hrId.trim())}`;

export const activeRunKey = (runId: string) => `${PREFIX.activeRun}${runId}`;
