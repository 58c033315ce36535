import type { AuditStore } from "../audit/store";
import type { Counts, RunMeta } from "./types";

/** What every step of a run shares: its retry policy, how the engine's own stops look, its audit record. */

/**
 * Every step: retried 8 times, exponentially from 3 s (about 13 minutes in all), so a KooDrive outage or a
 * long Retry-After (the client gives up inline on anything over 30 s) fails the run only after that.
 */
export const STEP = {
  retries: { limit: 8, delay: "3 seconds", backoff: "exponential" },
  timeout: "10 minutes",
} as const;

/**
 * The engine stopping an instance (pause, terminate) surfaces in the run's code as an error thrown from a
 * step call; it must pass through, never be taken for the run failing or for a timed-out wait.
 */
export function isEngineAbort(err: unknown): boolean {
  return err instanceof Error && /^Aborting engine:/.test(err.message);
}

export async function auditState(
  audit: AuditStore,
  meta: RunMeta,
  detail: string,
  counts?: Counts,
  extra: Record<string, string | number> = {},
): Promise<void> {
  await audit.write({
    type: "run.state",
    actor: "workflow",
    source: meta.request.source,
    eventId: meta.request.eventId,
    runId: meta.request.runId,
    requestId: meta.request.requestId,
    subject: {
      ...meta.request.subject,
      // A name match nobody confirmed (version 0.1 stored it as the leaver) is not filed under that person.
      ...(meta.koodriveUserId && !(meta.status === "needs_confirmation" && !meta.confirmedBy)
        ? { koodriveUserId: meta.koodriveUserId }
        : {}),
    },
    status: meta.status,
    reason: detail,
    ...(counts || meta.duplicates || meta.candidate || Object.keys(extra).length
      ? {
          details: {
            ...(counts ?? {}),
            ...(meta.duplicates ? { duplicates: meta.duplicates } : {}),
            ...(meta.candidate ? { candidate: meta.candidate.koodriveUserId } : {}),
            ...(meta.confirmedBy ? { confirmedBy: meta.confirmedBy } : {}),
            ...extra,
          },
        }
      : {}),
  });
}
