/**
 * Filling the runs index for runs accepted before it existed (docs/operations.md "Runs list: filling the
 * index"): `POST /runs/reindex` (admin) walks the audit trail's per-run keys (`audit-run:<runId>:...`,
 * docs/storage-schema.md), reads each run's ledger (the truth) and writes its row. One call handles one KV
 * list page; the answer's `nextCursor` goes into the next call until there is none. Safe to repeat: a row
 * is never replaced by an older copy (the ledger's revision).
 */
import * as z from "zod";
import { PREFIX } from "../audit/keys";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import type { IndexRow } from "../offboarding/run-index";
import { RUN_INDEX_NAME } from "../offboarding/run-index";
import { isRunId } from "../offboarding/start";

/**
 * Audit keys listed per call: at most this many runs' ledgers are read in one request, well inside the
 * Workers subrequest limit (1,000 on the Free plan [Workers limits]; each ledger read is one).
 */
export const REINDEX_KEYS_PER_CALL = 500;
/** Ledgers read at once. */
const PARALLEL_READS = 10;

export const ReindexQuery = z.object({ cursor: z.string().max(4000).optional() });

export interface ReindexReport {
  /** Runs found in this page of the audit trail. */
  runs: number;
  /** Rows written (new, or newer than the index had). */
  indexed: number;
  /** Run ids in the audit trail whose ledger has no run (nothing to index). */
  missing: number;
  nextCursor?: string;
}

interface Resume {
  /** KV list cursor of the page to read. */
  c?: string;
  /** The last run id already indexed: its remaining audit keys on the next page are skipped. */
  r?: string;
}

function decode(cursor: string | undefined): Resume {
  if (!cursor) return {};
  try {
    const raw = JSON.parse(atob(cursor)) as Resume;
    if ((raw.c === undefined || typeof raw.c === "string") && (raw.r === undefined || isRunId(raw.r)))
      return raw;
  } catch {
    // fall through
  }
  throw new ApiError("bad_request", "invalid cursor");
}

const encode = (r: Resume) => btoa(JSON.stringify(r)).replaceAll("=", "");

/** Indexes the runs named by one page of `audit-run:` keys. */
export async function reindexPage(env: Bindings, cursor: string | undefined): Promise<ReindexReport> {
  const resume = decode(cursor);
  let listed: KVNamespaceListResult<unknown>;
  try {
    listed = await env.AUDIT.list({
      prefix: PREFIX.auditRun,
      limit: REINDEX_KEYS_PER_CALL,
      ...(resume.c ? { cursor: resume.c } : {}),
    });
  } catch (err) {
    if (resume.c) throw new ApiError("bad_request", "invalid cursor");
    throw err;
  }
  const runIds: string[] = [];
  for (const k of listed.keys) {
    const runId = k.name.slice(PREFIX.auditRun.length).split(":")[0] ?? "";
    if (isRunId(runId) && runId !== resume.r && runIds.at(-1) !== runId) runIds.push(runId);
  }
  const rows: IndexRow[] = [];
  let missing = 0;
  for (let i = 0; i < runIds.length; i += PARALLEL_READS) {
    const batch = runIds.slice(i, i + PARALLEL_READS);
    for (const row of await Promise.all(batch.map((id) => env.RUNS.getByName(id).indexRow()))) {
      if (row) rows.push(row);
      else missing++;
    }
  }
  const indexed = rows.length ? await env.RUN_INDEX.getByName(RUN_INDEX_NAME).upsert(rows) : 0;
  const last = runIds.at(-1) ?? resume.r;
  return {
    runs: runIds.length,
    indexed,
    missing,
    ...(listed.list_complete
      ? {}
      : { nextCursor: encode({ c: listed.cursor, ...(last ? { r: last } : {}) }) }),
  };
}
