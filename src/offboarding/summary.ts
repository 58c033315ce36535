import type { AuditSubject } from "../audit/schema";
import { actionLine, actionViews, countsText, evidenceText } from "./action-view";
import type { Counts, RunMeta } from "./types";

/**
 * A run as text a person can read (chat replies, the result posted back to chat, notifications).
 * Core, not a source: the run itself posts its result, and every chat source shows the same text.
 */

/** How a run names its person. */
export function personOf(subject: AuditSubject): string {
  return subject.name ?? subject.email ?? subject.koodriveUserId ?? subject.hrId ?? "unknown";
}

/**
 * The run in a line: status, the counts that matter, and why. With the run's `meta`, a run of 0.4 or later
 * (its request or its meta names actions) gets one line per action (issue 10) and, once KooDrive's audit
 * log was read, the evidence line. A run before 0.4 reads exactly as it always did: one line.
 */
export function describeRun(
  runId: string,
  state: string,
  counts: Counts,
  detail: string | undefined,
  person: string,
  meta?: RunMeta,
): string {
  const head = `Run \`${runId}\` (${person}): *${state}*, ${countsText(counts)}.${detail ? ` ${detail.slice(0, 300)}` : ""}`;
  if (!meta) return head;
  const lines = [head];
  if (meta.request.actions || meta.actions)
    for (const view of actionViews(meta, counts)) lines.push(`• ${actionLine(view).slice(0, 300)}`);
  if (meta.evidence) lines.push(`${evidenceText(meta.evidence)}.`);
  return lines.join("\n");
}
