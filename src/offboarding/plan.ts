import type { ShareLink } from "../koodrive/schema";
import type { PlannedShare, Scope } from "./types";

export interface Holds {
  userIds: ReadonlySet<string>;
  shareIds: ReadonlySet<string>;
}

export const NO_HOLDS: Holds = { userIds: new Set(), shareIds: new Set() };

/** Why a share must not be cancelled now, or null. Holds win over everything (e.g. legal hold). */
export function holdReason(holds: Holds, ownerId: string, shareId: string): string | null {
  if (holds.userIds.has(ownerId)) return `user ${ownerId} is on hold`;
  if (holds.shareIds.has(shareId)) return `share ${shareId} is on hold`;
  return null;
}

const text = (v: unknown) => (v === undefined || v === null ? "" : String(v));

/**
 * Pure planner: decides, for each share the leaver created, whether to cancel it or why not,
 * and keeps a snapshot of what it was (for the audit trail and the report).
 */
export function planShares(
  links: readonly ShareLink[],
  ownerId: string,
  scopes: readonly Scope[],
  holds: Holds,
): PlannedShare[] {
  const wanted = new Set<number>(scopes);
  return links.map((link) => {
    const held = holdReason(holds, ownerId, link.shareId);
    const inScope = wanted.has(link.scope);
    return {
      shareId: link.shareId,
      scope: link.scope,
      displayName: text(link.displayName),
      linkUrl: text(link.linkUrl),
      shortUrl: text(link.shortUrl),
      expireTime: text(link.expireTime),
      shareStatus: link.status ?? 0,
      state: held ? "skipped_hold" : inScope ? "planned" : "skipped_scope",
      reason: held ?? (inScope ? "" : `scope ${link.scope} not in [${[...wanted].join(",")}]`),
    };
  });
}
