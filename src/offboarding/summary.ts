import type { AuditSubject } from "../audit/schema";
import type { Counts } from "./types";

/**
 * A run as one line a person can read (chat replies, the result posted back to chat, notifications).
 * Core, not a source: the run itself posts its result, and every chat source shows the same text.
 */

/** How a run names its person. */
export function personOf(subject: AuditSubject): string {
  return subject.name ?? subject.email ?? subject.koodriveUserId ?? subject.hrId ?? "unknown";
}

/** One line a person can read: status, the counts that matter, and why. */
export function describeRun(
  runId: string,
  state: string,
  counts: Counts,
  detail: string | undefined,
  person: string,
): string {
  const n = (k: keyof Counts) => counts[k] ?? 0;
  const parts = [
    `${n("cancelled")} cancelled`,
    n("already_gone") ? `${n("already_gone")} already gone` : "",
    n("skipped_hold") + n("skipped_scope") ? `${n("skipped_hold") + n("skipped_scope")} skipped` : "",
    n("failed") + n("still_active") ? `${n("failed") + n("still_active")} still active or failed` : "",
    n("planned") ? `${n("planned")} planned` : "",
  ].filter(Boolean);
  return `Run \`${runId}\` (${person}): *${state}*, ${parts.join(", ")}.${detail ? ` ${detail.slice(0, 300)}` : ""}`;
}
