/**
 * Runs as version 0.1 recorded them, written straight into a ledger: 0.1 stored no name-match policy on the
 * request, and acted on name matches. Used to check what this version does with runs in flight at the
 * upgrade.
 */
import { env } from "cloudflare:workers";
import type { RunRequest } from "../../src/offboarding/types";

export async function acceptLegacyRun(eventId: string, subject: RunRequest["subject"]) {
  const runId = `hr-${crypto.randomUUID().replaceAll("-", "")}`;
  const ledger = env.RUNS.getByName(runId);
  await ledger.accept({
    runId,
    source: "hr",
    eventId,
    subject,
    dryRun: false,
    scopes: [1, 2, 3],
    requestId: `req-${eventId}`,
    receivedAt: new Date().toISOString(),
    actor: "source:hr",
  });
  return { runId, ledger };
}
