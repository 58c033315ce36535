/**
 * Policy values the config parses (a leaf: src/env.ts and src/offboarding/actions.ts both use it, so the
 * config does not import the offboarding layer).
 */

/**
 * The actions of a run (issue 10): what an offboarding does to the leaver's KooDrive account, in this order.
 * - `revoke_shares`: cancel every share they created, verify (the run of 0.1-0.3);
 * - `handover`: hand their files to a recipient (a KooDrive "transfer and delete" task);
 * - `block_login`: disable the user so they cannot sign in (`PUT /users/{id} {"status": 1}`);
 * - `watch`: list their shares again later (`WATCH_AFTER`) and cancel whatever appeared (late shares).
 *
 * Which ones run is policy (`OFFBOARDING_ACTIONS`, default `revoke_shares` alone); a request may ask for
 * fewer, never more.
 */
export const ACTIONS = ["revoke_shares", "handover", "block_login", "watch"] as const;
export type ActionName = (typeof ACTIONS)[number];

/** What a run accepted before issue 10 does: revoke its shares, nothing else. */
export const DEFAULT_ACTIONS: readonly ActionName[] = ["revoke_shares"];

/**
 * Parses a list of action names (policy or request): lower-cased, trimmed, deduplicated and put in the
 * order they run. Unknown names are reported, never dropped silently.
 */
export function parseActions(
  value: string | readonly string[],
): { ok: true; actions: ActionName[] } | { ok: false; unknown: string[] } {
  const items = (typeof value === "string" ? value.split(",") : [...value])
    .map((a) => a.trim().toLowerCase())
    .filter((a) => a !== "");
  const unknown = items.filter((a) => !(ACTIONS as readonly string[]).includes(a));
  if (unknown.length > 0) return { ok: false, unknown };
  return { ok: true, actions: ACTIONS.filter((a) => items.includes(a)) };
}

/**
 * `WATCH_AFTER`: when the watch lists the leaver's shares again, as delays after the run's main actions
 * (`30m`, `1h`, `24h`, `7d`); ascending, at most 10, each at most 30 days.
 */
export function parseWatchAfter(value: string): { ok: true; delaysMs: number[] } | { ok: false } {
  const unit: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const delays: number[] = [];
  for (const part of value.split(",").map((p) => p.trim())) {
    const m = /^(\d{1,4})([smhd])$/.exec(part);
    if (!m) return { ok: false };
    const ms = Number(m[1]) * (unit[m[2] as string] as number);
    if (ms <= 0 || ms > 30 * 86_400_000) return { ok: false };
    if (delays.length > 0 && ms <= (delays[delays.length - 1] as number)) return { ok: false };
    delays.push(ms);
  }
  return delays.length > 0 && delays.length <= 10 ? { ok: true, delaysMs: delays } : { ok: false };
}

/**
 * Where a request to offboard comes from: the five signed sources, and the admin side (issue 9): `console`
 * (the web console) and `api` (`POST /offboardings` with a token or the admin token).
 */
export const SOURCE_NAMES = ["hr", "okta", "scim", "slack", "teams", "console", "api"] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

/** The sources that run unattended (the layoff guard counts their runs, issue 11). */
export const AUTOMATED_SOURCES: readonly SourceName[] = ["hr", "okta", "scim"];

/** Where a run stands (RUN_STATUS_ENDS_RUN says which end it; docs/operations.md "Run statuses"). */
export const RUN_STATUSES = [
  "accepted",
  "running",
  "needs_confirmation",
  "awaiting_approval",
  "watching",
  "completed",
  "partial",
  "failed",
  "unresolved",
  "dry_run",
  "rejected",
  "expired",
  "withdrawn",
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * Whether each status ends the run (terminal: the Workflow is done with it; a retry starts a new attempt).
 * Every status must be named here: a new one without an answer is a type error, not a silent "not terminal".
 */
export const RUN_STATUS_ENDS_RUN = {
  accepted: false,
  running: false,
  needs_confirmation: false,
  awaiting_approval: false,
  watching: false,
  completed: true,
  partial: true,
  failed: true,
  unresolved: true,
  dry_run: true,
  rejected: true,
  expired: true,
  withdrawn: true,
} as const satisfies Record<RunStatus, boolean>;
