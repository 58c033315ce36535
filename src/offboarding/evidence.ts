import type { Evidence } from "./actions";
import type { AccountDeps } from "./handover";

/**
 * Evidence from KooDrive's own audit log (issue 10): the entries in the run's time window whose `resource`
 * is one of the shares this run cancelled. The log's operation names are undocumented, so entries are
 * matched by resource only [koodrive-api.md: audit log]; 0 found is reported as it is, never as an error.
 * The read is first narrowed to the leaver as operator (`operatorName`, the log's documented filter); only
 * when that does not find every cancel is the whole window read. The narrowing never decides a match: an
 * entry counts only by its resource.
 */

/** Entries per page of `POST /auditlog` (pageSize 1-100 [doc]). */
export const AUDIT_LOG_PAGE_SIZE = 100;
/** The window is widened by this much on each side: KooDrive's clock is not ours (our choice). */
const WINDOW_SLACK_MS = 2 * 60_000;

export async function readEvidence(
  deps: Pick<AccountDeps, "ledger" | "client" | "acting">,
  window: { first: string; last: string; cancelled: number },
  maxPages: number,
  operatorName?: string,
  /** No page is asked for after this moment (epoch ms): the read ends incomplete instead of timing out. */
  deadline = Number.POSITIVE_INFINITY,
): Promise<Evidence> {
  // The run's own cancels, widened for clock skew: in a layoff, other runs' entries share the window.
  const from = new Date(Date.parse(window.first) - WINDOW_SLACK_MS).toISOString();
  const to = new Date(Date.parse(window.last) + WINDOW_SLACK_MS).toISOString();
  const matched = new Set<string>();
  let entriesRead = 0;
  // One budget for both reads: EVIDENCE_MAX_PAGES is the most calls a read makes (README "Evidence").
  let pagesLeft = maxPages;
  const base = { found: 0, of: window.cancelled, from, to, checkedAt: "" };
  // First the entries whose operator is the leaver (the cancels were made acting as them [inferred]): in a
  // layoff every run's window holds every other run's cancels, and this reads only the run's own.
  if (operatorName) {
    const narrow = await readPages(deps, { from, to, operatorName }, maxPages, matched, deadline);
    entriesRead += narrow.entriesRead;
    pagesLeft -= narrow.pages;
    if (matched.size >= window.cancelled)
      return {
        ...base,
        found: matched.size,
        entriesRead,
        complete: narrow.complete,
        operatorName,
        checkedAt: new Date().toISOString(),
      };
  }
  // Not all found that way (KooDrive may name another operator): the whole window, as before.
  const wide = await readPages(deps, { from, to }, pagesLeft, matched, deadline);
  entriesRead += wide.entriesRead;
  return {
    ...base,
    found: matched.size,
    entriesRead,
    complete: wide.complete,
    checkedAt: new Date().toISOString(),
  };
}

/**
 * Reads up to `maxPages` pages of the log for `q`, adding this run's cancelled shares found to `matched`;
 * returns the pages read too (they count against the read's budget).
 */
async function readPages(
  deps: Pick<AccountDeps, "ledger" | "client" | "acting">,
  q: { from: string; to: string; operatorName?: string },
  maxPages: number,
  matched: Set<string>,
  deadline: number,
): Promise<{ entriesRead: number; complete: boolean; pages: number }> {
  let entriesRead = 0;
  for (let pageNum = 1; pageNum <= maxPages; pageNum++) {
    if (Date.now() >= deadline) return { entriesRead, complete: false, pages: pageNum - 1 };
    const page = await deps.client.auditLogPage(deps.acting, {
      ...q,
      pageNum,
      pageSize: AUDIT_LOG_PAGE_SIZE,
    });
    entriesRead += page.entries.length;
    const resources = [...new Set(page.entries.map((e) => e.resource).filter((r) => r && !matched.has(r)))];
    if (resources.length > 0) for (const id of await deps.ledger.cancelledAmong(resources)) matched.add(id);
    if (page.entries.length < AUDIT_LOG_PAGE_SIZE || entriesRead >= page.total)
      return { entriesRead, complete: true, pages: pageNum };
  }
  return { entriesRead, complete: false, pages: Math.max(0, maxPages) };
}
