import type { Evidence } from "./actions";
import type { AccountDeps } from "./handover";

/**
 * Evidence from KooDrive's own audit log (issue 10): the entries in the run's time window whose `resource`
 * is one of the shares this run cancelled. The log's operation names are undocumented, so entries are
 * matched by resource only [koodrive-api.md: audit log]; 0 found is reported as it is, never as an error.
 */

/** Entries per page of `POST /auditlog` (pageSize 1-100 [doc]). */
export const AUDIT_LOG_PAGE_SIZE = 100;
/** The window is widened by this much on each side: KooDrive's clock is not ours (our choice). */
const WINDOW_SLACK_MS = 2 * 60_000;

export async function readEvidence(
  deps: Pick<AccountDeps, "ledger" | "client" | "acting">,
  window: { first: string; last: string; cancelled: number },
  maxPages: number,
): Promise<Evidence> {
  // The run's own cancels, widened for clock skew: in a layoff, other runs' entries share the window.
  const from = new Date(Date.parse(window.first) - WINDOW_SLACK_MS).toISOString();
  const to = new Date(Date.parse(window.last) + WINDOW_SLACK_MS).toISOString();
  const matched = new Set<string>();
  let entriesRead = 0;
  let complete = false;
  for (let pageNum = 1; pageNum <= maxPages; pageNum++) {
    const page = await deps.client.auditLogPage(deps.acting, {
      from,
      to,
      pageNum,
      pageSize: AUDIT_LOG_PAGE_SIZE,
    });
    entriesRead += page.entries.length;
    const resources = [...new Set(page.entries.map((e) => e.resource).filter((r) => r && !matched.has(r)))];
    if (resources.length > 0) for (const id of await deps.ledger.cancelledAmong(resources)) matched.add(id);
    if (page.entries.length < AUDIT_LOG_PAGE_SIZE || entriesRead >= page.total) {
      complete = true;
      break;
    }
  }
  return {
    found: matched.size,
    of: window.cancelled,
    from,
    to,
    entriesRead,
    complete,
    checkedAt: new Date().toISOString(),
  };
}
