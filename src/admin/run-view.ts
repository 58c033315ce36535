import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { isRunId } from "../offboarding/start";
import type { ShareState } from "../offboarding/types";

/** The ledger and meta of a run, or a 404 for an unknown or malformed run id. */
export async function loadRun(env: AppEnv["Bindings"], runId: string) {
  if (!isRunId(runId)) throw new ApiError("not_found", `no run ${runId.slice(0, 80)}`);
  const ledger = env.RUNS.getByName(runId);
  const meta = await ledger.getMeta();
  if (!meta) throw new ApiError("not_found", `no run ${runId}`);
  return { ledger, meta };
}

export interface RunViewQuery {
  /** Shares on this page (the API allows 1 to 5,000). */
  limit: number;
  /** The last share id of the previous page. */
  cursor?: string | undefined;
  state?: ShareState | undefined;
}

/**
 * What `GET /runs/:runId` answers and the console's run page shows: the run's meta, its counts per share
 * state and one page of shares (`nextCursor` when there are more). 404 (ApiError) for an unknown run.
 */
export async function runView(env: AppEnv["Bindings"], runId: string, q: RunViewQuery) {
  const { ledger, meta } = await loadRun(env, runId);
  const [counts, shares] = await Promise.all([
    ledger.counts(),
    ledger.shares(q.cursor ?? "", q.limit + 1, q.state ? [q.state] : undefined),
  ]);
  const page = shares.slice(0, q.limit);
  const { request } = meta;
  return {
    runId,
    status: meta.status,
    attempt: meta.attempt,
    source: request.source,
    eventId: request.eventId,
    subject: request.subject,
    koodriveUserId: meta.koodriveUserId ?? null,
    resolvedBy: meta.resolvedBy ?? null,
    ...(meta.candidate ? { candidate: meta.candidate } : {}),
    ...(meta.confirmedBy ? { confirmedBy: meta.confirmedBy, confirmedAt: meta.confirmedAt } : {}),
    duplicates: meta.duplicates ?? 0,
    detail: meta.detail ?? null,
    reason: request.reason ?? null,
    dryRun: request.dryRun,
    scopes: request.scopes,
    createdAt: meta.createdAt,
    updatedAt: meta.updatedAt,
    finishedAt: meta.finishedAt ?? null,
    counts,
    shares: page,
    ...(shares.length > q.limit ? { nextCursor: page[page.length - 1]?.shareId } : {}),
  };
}

export type RunView = Awaited<ReturnType<typeof runView>>;
