import type { ShareLink } from "../koodrive/schema";
import type { PendingShare, RunContext } from "./context";
import type { currentHolds } from "./holds";
import { planShares } from "./plan";

/**
 * Listing a leaver's shares across steps, and planning each listed page into the ledger. KooDrive pages may
 * be short or empty before the end: only an absent `nextCursor` ends a listing [koodrive-api.md: List].
 */

/** KooDrive list pages handled per step: bounds each step's subrequests (and its result stays tiny). */
export const PAGES_PER_STEP = 10;
/** A page fetched ahead is used only this soon after (a step retried after a failure fetches afresh). */
const LOOKAHEAD_MAX_AGE_MS = 10_000;

/**
 * Lists up to PAGES_PER_STEP pages from `from`, handing each page to `handle` while the next one is already
 * being fetched (paging itself is sequential: each cursor comes from the previous page). Returns the cursor
 * to continue from, or undefined at the end.
 */
export async function listPages(
  ctx: Pick<RunContext, "client" | "userId" | "lookahead">,
  from: string,
  handle: (links: ShareLink[]) => Promise<void>,
): Promise<string | undefined> {
  const fetch = (cursor: string) => {
    const page = ctx.client.listSharePage(ctx.userId, cursor);
    page.catch(() => {}); // awaited later; this only keeps a failure from going unobserved meanwhile
    return page;
  };
  const ahead = ctx.lookahead?.next;
  if (ctx.lookahead) ctx.lookahead.next = undefined;
  let fetching =
    ahead && ahead.cursor === from && Date.now() - ahead.at < LOOKAHEAD_MAX_AGE_MS ? ahead.page : fetch(from);
  for (let p = 0; ; p++) {
    const page = await fetching;
    const next = page.nextCursor;
    const last = next === undefined || p + 1 === PAGES_PER_STEP;
    if (!last) fetching = fetch(next);
    await handle(page.shareLinks);
    if (last) {
      // The next step's first page is fetched while this step finishes.
      if (next !== undefined && ctx.lookahead)
        ctx.lookahead.next = { cursor: next, page: fetch(next), at: Date.now() };
      return next;
    }
  }
}

/**
 * Plans one listed page: snapshots each share, applies scopes and holds, and stores it in the ledger.
 * Shares already in the ledger keep their state. Returns the new shares that are to be cancelled.
 */
export async function planPage(
  ctx: RunContext,
  links: ShareLink[],
  holds: Awaited<ReturnType<typeof currentHolds>>,
): Promise<PendingShare[]> {
  const planned = planShares(links, ctx.userId, ctx.meta.request.scopes, holds);
  const added = new Set(await ctx.ledger.addPlanned(planned, ctx.late === true));
  const fresh = planned.filter((s) => added.has(s.shareId));
  // Skipped shares (hold, scope) are queued in the ledger's audit outbox; flushAudit writes them.
  return fresh.filter((s) => s.state === "planned");
}
