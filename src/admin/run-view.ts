/**
 * One run as `GET /runs/:id` shows it (README "Admin API"), for the route and the console alike: the
 * request, status, resolution, counts, each requested action's outcome and KooDrive's audit-log evidence
 * (issue 10), the plan by scope, and a page of shares.
 */
import * as z from "zod";
import type { Bindings } from "../env";
import { ApiError } from "../errors";
import { actionViews, evidenceView } from "../offboarding/action-view";
import { isRunId } from "../offboarding/start";
import { SHARE_STATES, type ShareState } from "../offboarding/types";

export const RunQuery = z.object({
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
  cursor: z
    .string()
    .regex(/^\d{1,30}$/)
    .optional(),
  state: z.enum(SHARE_STATES).optional(),
});
export type RunQuery = z.infer<typeof RunQuery>;

/** What the console passes (the API passes a validated RunQuery). */
export interface RunViewQuery {
  /** Shares on this page (the API allows 1 to 5,000). */
  limit: number;
  /** The last share id of the previous page. */
  cursor?: string | undefined;
  state?: ShareState | undefined;
}

/** The ledger and meta of a run, or a 404 for an unknown or malformed run id. */
export async function loadRun(env: Bindings, runId: string) {
  if (!isRunId(runId)) throw new ApiError("not_found", `no run ${runId.slice(0, 80)}`);
  const ledger = env.RUNS.getByName(runId);
  const meta = await ledger.getMeta();
  if (!meta) throw new ApiError("not_found", `no run ${runId}`);
  return { ledger, meta };
}

/** The run's view (throws ApiError not_found). `q` is a validated RunQuery. */
export async function runView(env: Bindings, runId: string, q: RunViewQuery) {
  const { ledger, meta } = await loadRun(env, runId);
  const [counts, plan, shares] = await Promise.all([
    ledger.counts(),
    ledger.planSummary(),
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
    // Issue 11: the gate the run waits (or waited) at, the decision, a withdrawal, its effectiveAt.
    ...(meta.approval ? { approval: meta.approval } : {}),
    ...(meta.decision ? { decision: meta.decision } : {}),
    ...(meta.withdrawnBy ? { withdrawnBy: meta.withdrawnBy } : {}),
    effectiveAt: request.effectiveAt ?? null,
    scheduled: meta.scheduled === true,
    duplicates: meta.duplicates ?? 0,
    detail: meta.detail ?? null,
    reason: request.reason ?? null,
    dryRun: request.dryRun,
    scopes: request.scopes,
    createdAt: meta.createdAt,
    updatedAt: meta.updatedAt,
    finishedAt: meta.finishedAt ?? null,
    counts,
    actions: actionViews(meta, counts),
    evidence: evidenceView(meta.evidence),
    plan,
    shares: page,
    ...(shares.length > q.limit ? { nextCursor: page[page.length - 1]?.shareId } : {}),
  };
}

export type RunView = Awaited<ReturnType<typeof runView>>;
