import type { AuditSubject } from "../audit/schema";
import type { NameMatchPolicy } from "../env";
import { SOURCE_NAMES } from "../policy";
import type { VerifiedBy } from "../roles";
import type { ActionName, ActionOutcomes, Evidence, HandoverRequest } from "./actions";
import type { ApprovalDecision, ApprovalGate } from "./approval";

/**
 * How far ahead a leaver's last day may be: a run sleeps until then, and a Workflow sleeps at most 365
 * days [Workflows limits]. Further out is refused (422) rather than fired early.
 */
export const MAX_EFFECTIVE_AHEAD_DAYS = 365;

export type Scope = 1 | 2 | 3;
export const ALL_SCOPES: readonly Scope[] = [1, 2, 3];

export type { NameMatchPolicy } from "../env";

/** The Workflow event an operator's `POST /runs/:id/confirm` sends to a run waiting for a name match. */
export const CONFIRM_EVENT = "confirm-name-match";

/**
 * Where a request to offboard came from: the five signed sources, and the admin side (issue 9):
 * `console` (the web console) and `api` (`POST /offboardings` with a token or the admin token).
 */
export const SOURCES = SOURCE_NAMES;
export type SourceName = (typeof SOURCES)[number];

/** A request to offboard one person: what a source hands to offboarding after verifying it. */
export interface RunRequest {
  runId: string;
  source: SourceName;
  eventId: string;
  subject: AuditSubject & { hrId: string };
  reason?: string;
  effectiveAt?: string;
  dryRun: boolean;
  scopes: Scope[];
  requestId: string;
  receivedAt: string;
  actor: string;
  /** How an admin actor was verified (`POST /offboardings`, the console): recorded with the request. */
  verifiedBy?: VerifiedBy;
  /**
   * Where the run posts its result when it finishes (a chat command's Slack `response_url`, checked to be
   * Slack's). A capability URL: never written to the audit trail or shown by the admin API.
   */
  notifyUrl?: string;
  /**
   * The name-match policy in force when the request was accepted (the run keeps it, so changing the setting
   * never changes what an accepted run may do). Absent on runs accepted before the setting existed: `off`.
   */
  nameMatch?: NameMatchPolicy;
  /**
   * The actions this run takes, in order (issue 10): within OFFBOARDING_ACTIONS when accepted. Absent on
   * runs accepted before 0.4: `revoke_shares` alone.
   */
  actions?: ActionName[];
  /** Who receives the leaver's files, as the request named them (resolved by the handover action). */
  handoverTo?: HandoverRequest;
  /** The watch's delays (WATCH_AFTER) in force when the request was accepted, for a run that watches. */
  watchAfterMs?: number[];
  /**
   * The approval policy in force when the request was accepted (issue 11): whether its source needs
   * approval (APPROVAL_REQUIRED), the share count above which it does (APPROVAL_ABOVE_SHARES, 0 = off),
   * how long a decision may take, and `burst`: the layoff guard held it (BURST_APPROVAL_THRESHOLD, kept as
   * `burstThreshold`), the n-th
   * automated run within 10 minutes. Absent on runs accepted before 0.5: no approval.
   */
  approvalPolicy?: {
    source: boolean;
    aboveShares: number;
    timeoutHours: number;
    burst?: number;
    burstThreshold?: number;
  };
}

/** Parameters of one Workflow instance. A retry is another instance on the same run (same ledger). */
export interface RunParams {
  runId: string;
  attempt: number;
}

export { RUN_STATUSES, type RunStatus } from "../policy";

import { RUN_STATUS_ENDS_RUN, RUN_STATUSES, type RunStatus } from "../policy";
/** The statuses that end a run (policy.ts RUN_STATUS_ENDS_RUN). */
export const TERMINAL: ReadonlySet<RunStatus> = new Set(RUN_STATUSES.filter((s) => RUN_STATUS_ENDS_RUN[s]));

/**
 * Where one share stands in a run.
 * - planned: to cancel; in_flight: a cancel was sent and its answer not yet recorded;
 * - cancelled: KooDrive said so (or said "not found" after our own earlier attempt);
 * - already_gone: not found on the first attempt (cancelled or deleted by someone else);
 * - failed: KooDrive refused or kept failing; still_active: verify found it after a cancel;
 * - skipped_hold / skipped_scope: deliberately left alone; dry_run: would be cancelled.
 */
export const SHARE_STATES = [
  "planned",
  "in_flight",
  "cancelled",
  "already_gone",
  "failed",
  "still_active",
  "skipped_hold",
  "skipped_scope",
] as const;
export type ShareState = (typeof SHARE_STATES)[number];

/** A snapshot of a share as it was when planned. */
export interface PlannedShare {
  shareId: string;
  scope: number;
  displayName: string;
  linkUrl: string;
  shortUrl: string;
  expireTime: string;
  shareStatus: number;
  state: ShareState;
  reason: string;
}

export interface ShareRow extends PlannedShare {
  code: string;
  msg: string;
  attempts: number;
  updatedAt: string;
  /** Found by the watch after the run's main actions (a late share, issue 10); absent before 0.4. */
  late?: boolean;
}

export type ResolvedBy = "event" | "identity_map" | "name_match";

export interface RunMeta {
  request: RunRequest;
  status: RunStatus;
  attempt: number;
  koodriveUserId?: string;
  /** The leaver's name in KooDrive when resolved (narrows the evidence read to them; absent for runs resolved before 0.6.0). */
  koodriveName?: string;
  resolvedBy?: ResolvedBy;
  /** A name match waiting for an operator (`needs_confirmation`): who it would be. */
  candidate?: { koodriveUserId: string; name: string };
  /** Until when the candidate can be confirmed; gone once the wait is closed (confirmed or expired). */
  confirmDeadline?: string;
  /**
   * The KooDrive user whose shares the ledger's plan lists. A plan is never sent as anyone else: planning
   * for another user (a retry resolved to someone else) first drops the rows never sent.
   */
  plannedFor?: string;
  /** Who confirmed a name match, and when. */
  confirmedBy?: string;
  confirmedAt?: string;
  /** Deliveries of the same event after the first (recorded once in the audit trail, counted here). */
  duplicates?: number;
  detail?: string;
  /** The run sleeps until this time (the event's effectiveAt); the sweeper leaves it alone until then. */
  waitUntil?: string;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** Each requested action's outcome (issue 10); absent on runs before 0.4 (revoke_shares: the counts). */
  actions?: ActionOutcomes;
  /** KooDrive's own audit log's view of the run's cancels. */
  evidence?: Evidence;
  /** A retry's `handoverTo` (it replaces the request's for the handover of that attempt and later ones). */
  handoverOverride?: HandoverRequest;
  /** The approval the run waits for or waited for (issue 11); the decision once taken. */
  approval?: ApprovalGate;
  decision?: ApprovalDecision;
  /** While the run waits for its `effectiveAt`: it has not acted, so it can be cancelled or moved. */
  scheduled?: boolean;
  /** Who cancelled a waiting run (`POST /runs/:id/cancel`, a reactivation), when, and why: `withdrawn`. */
  withdrawnBy?: { by: string; at: string; reason: string };
}

export type Counts = Record<ShareState, number> & { total: number };
