/**
 * The runs list (`GET /runs`, issue 9): newest first, filtered by status, source, person and creation
 * time, paged with an opaque keyset cursor, with the counts per status. The console calls `listRuns` too.
 * The rows come from the runs index (src/offboarding/run-index.ts; docs/storage-schema.md "Runs index").
 */
import * as z from "zod";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import {
  type IndexRow,
  type ListFilter,
  type ListPosition,
  personQueryKeys,
  RUN_INDEX_NAME,
} from "../offboarding/run-index";
import { isRunId } from "../offboarding/start";
import { RUN_STATUSES, type RunStatus, SOURCES, type SourceName } from "../offboarding/types";

/** Page size: 50 unless asked, at most 200 (a page is one Durable Object call; the console shows 50). */
export const DEFAULT_RUNS_PAGE = 50;
export const MAX_RUNS_PAGE = 200;

/** A comma list of known values (`status=failed,partial`): unknown values are a 400 naming the known ones. */
const commaList = <T extends string>(known: readonly T[], name: string) =>
  z
    .string()
    .max(500)
    .transform((v, ctx) => {
      const values = [...new Set(v.split(",").map((s) => s.trim()))];
      const unknown = values.filter((s) => !(known as readonly string[]).includes(s));
      if (unknown.length) {
        ctx.addIssue({
          code: "custom",
          message: `unknown ${name} ${unknown.map((u) => JSON.stringify(u.slice(0, 40))).join(", ")}; known: ${known.join(", ")}`,
        });
        return z.NEVER;
      }
      return values as T[];
    });

export const RunsQuery = z
  .object({
    status: commaList(RUN_STATUSES, "status").optional(),
    source: commaList(SOURCES, "source").optional(),
    /** An e-mail (case ignored), an HR id, a 19-digit KooDrive id or a name (exact; case ignored). */
    person: z.string().trim().min(1).max(320).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_RUNS_PAGE).default(DEFAULT_RUNS_PAGE),
    cursor: z.string().max(200).optional(),
  })
  .refine((q) => !q.since || !q.until || Date.parse(q.since) <= Date.parse(q.until), {
    path: ["since"],
    message: "since is after until",
  });
export type RunsQuery = z.infer<typeof RunsQuery>;

/** A run as the list shows it. */
export type RunsListItem = Omit<IndexRow, "rev">;

export interface RunsPage {
  runs: RunsListItem[];
  /** Runs per status for the same filters without the status filter. */
  counts: Record<RunStatus, number>;
  nextCursor?: string;
}

const b64url = (s: string) => btoa(s).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");

/** The cursor: the last row's position, `<createdAt ms>.<runId>` in base64url. Opaque to callers. */
export function encodeRunsCursor(p: ListPosition): string {
  return b64url(`${p.createdAt}.${p.runId}`);
}

/** The position in a cursor, or a 400 in our envelope for anything we did not hand out. */
export function decodeRunsCursor(cursor: string): ListPosition {
  let text: string;
  try {
    text = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    throw new ApiError("bad_request", "invalid cursor");
  }
  const m = /^(\d{1,15})\.(.+)$/.exec(text);
  if (!m?.[1] || !m[2] || !isRunId(m[2])) throw new ApiError("bad_request", "invalid cursor");
  return { createdAt: Number(m[1]), runId: m[2] };
}

/** The runs for a query (already validated by RunsQuery), newest first. */
export async function listRuns(env: Bindings, q: RunsQuery): Promise<RunsPage> {
  const filter: ListFilter = { limit: q.limit };
  if (q.status) filter.statuses = q.status;
  if (q.source) filter.sources = q.source as SourceName[];
  if (q.person) filter.personKeys = personQueryKeys(q.person);
  if (q.since) filter.since = Date.parse(q.since);
  if (q.until) filter.until = Date.parse(q.until);
  if (q.cursor) filter.after = decodeRunsCursor(q.cursor);
  const page = await env.RUN_INDEX.getByName(RUN_INDEX_NAME).list(filter);
  const runs = page.runs.map(({ rev: _rev, ...run }) => run);
  const last = runs.at(-1);
  return {
    runs,
    counts: page.counts,
    ...(page.more && last
      ? { nextCursor: encodeRunsCursor({ createdAt: Date.parse(last.createdAt), runId: last.runId }) }
      : {}),
  };
}
