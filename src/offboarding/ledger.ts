import { DurableObject } from "cloudflare:workers";
import { sha256Hex } from "../bytes";
import {
  type ActionName,
  type ActionOutcome,
  actionsOf,
  type Evidence,
  type HandoverRequest,
  TASK_STATUS,
} from "./actions";
import type { ApprovalDecision, ApprovalGate, IdentifiedDecider, Verdict } from "./approval";
import { cancel, decide, legacyGate, type Refusal, reschedule } from "./gate";
import { jsonBatches } from "./json-batches";
import { type IndexRow, indexRowOf, RUN_INDEX_NAME } from "./run-index";
import {
  type Counts,
  type PlannedShare,
  type RunMeta,
  type RunRequest,
  type RunStatus,
  SHARE_STATES,
  type ShareRow,
  type ShareState,
  TERMINAL,
} from "./types";

/** First retry of a failed runs-index write (the ledger's alarm), and the longest wait between retries. */
export const INDEX_RETRY_MS = 30_000;
const INDEX_RETRY_MAX_MS = 30 * 60_000;

/**
 * How often a run in flight sends its counts to the runs index at most (status changes are sent at once):
 * a live progress bar needs seconds, not every batch of 100 (our choice; one small write per push).
 */
export const PROGRESS_PUSH_MS = 5_000;

/** What a run's plan holds, by KooDrive scope (`GET /runs/:id` `plan`). */
export interface PlanSummary {
  /** Shares the run cancels (or a dry run would): every state but skipped_hold and skipped_scope. */
  shares: number;
  byScope: Record<string, number>;
  /** Shares a hold kept (skipped_hold). */
  held: number;
  heldByScope: Record<string, number>;
  /** Shares outside the run's scopes (skipped_scope). */
  outOfScope: number;
}

/** Whether a handover's latest task may still be running in KooDrive (neither SUCCESS nor FAILED). */
function taskInProgress(h: ActionOutcome): boolean {
  const last = h.tasks?.[h.tasks.length - 1];
  return !!last && last.status !== TASK_STATUS.SUCCESS && last.status !== TASK_STATUS.FAILED;
}

/** One outcome to record for a share. */
export interface Outcome {
  shareId: string;
  state: ShareState;
  code?: string;
  msg?: string;
}

/**
 * The ledger of one run: a Durable Object (SQLite) holding the request, the status and every planned share
 * with its outcome. It is the strongly consistent record the Workflow steps read and write, so a replayed
 * step sees what an earlier attempt did and never cancels a share twice. Plans of 100,000 shares live here,
 * not in step results (limited to 1 MiB).
 */
export class RunLedger extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS shares (
        share_id TEXT PRIMARY KEY,
        scope INTEGER NOT NULL,
        display_name TEXT NOT NULL,
        link_url TEXT NOT NULL,
        short_url TEXT NOT NULL,
        expire_time TEXT NOT NULL,
        share_status INTEGER NOT NULL,
        state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        code TEXT NOT NULL DEFAULT '',
        msg TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        seen_in_verify INTEGER NOT NULL DEFAULT 0,
        audit_pending INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS shares_by_state ON shares (state, share_id);
      CREATE INDEX IF NOT EXISTS shares_audit_pending ON shares (share_id) WHERE audit_pending = 1;
    `);
    // 0.4 (issue 10): shares a watch check found after the run's main pass. A ledger made by 0.3 gets the
    // column on first use (SQLite has no ADD COLUMN IF NOT EXISTS).
    const columns = this.sql.exec<{ name: string }>("PRAGMA table_info(shares)").toArray();
    if (!columns.some((c) => c.name === "late"))
      this.sql.exec("ALTER TABLE shares ADD COLUMN late INTEGER NOT NULL DEFAULT 0");
  }

  /** Runs `write` once per JSON batch of `items`, all in one transaction (all or nothing). */
  private eachBatch(items: readonly unknown[], write: (batch: string) => void): void {
    if (items.length === 0) return;
    this.ctx.storage.transactionSync(() => {
      for (const batch of jsonBatches(items)) write(batch);
    });
  }

  private readMeta(): RunMeta | undefined {
    const row = this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'run'").toArray()[0];
    return row ? (JSON.parse(row.v) as RunMeta) : undefined;
  }

  private writeMeta(meta: RunMeta): void {
    this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('run', ?)", JSON.stringify(meta));
    this.sql.exec("INSERT INTO meta (k, v) VALUES ('rev', '1') ON CONFLICT (k) DO UPDATE SET v = v + 1");
    this.touch();
    this.pushToIndex(meta);
  }

  /** The revision of the meta: bumped by every write, so the runs index keeps only the newest copy. */
  private rev(): number {
    const row = this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'rev'").toArray()[0];
    return row ? Number(row.v) : 0;
  }

  /** This run's row in the runs index, as the ledger knows it now (null before the run is accepted). */
  indexRow(): IndexRow | null {
    const meta = this.readMeta();
    return meta ? indexRowOf(meta, this.counts(), this.rev()) : null;
  }

  /** When this ledger last sent its counts to the runs index (in memory: a lost value costs one push). */
  private lastPush = 0;

  /**
   * Sends the run's current row to the runs index, without waiting: the index is a copy for listing, and a
   * run never fails or waits because of it. A lost update is repaired by the sweeper (sweep.ts
   * `repairIndex`), which compares open rows with their ledgers.
   */
  private pushToIndex(meta: RunMeta): void {
    this.lastPush = Date.now();
    const row = indexRowOf(meta, this.counts(), this.rev());
    const sent = this.env.RUN_INDEX.getByName(RUN_INDEX_NAME)
      .upsert([row])
      .then(
        () => undefined,
        async (err: unknown) => {
          console.warn(
            JSON.stringify({
              level: "warn",
              msg: "runs index not updated; retried by the ledger's alarm",
              runId: row.runId,
              error: String(err),
            }),
          );
          // The ledger owns its row's convergence: a Durable Object alarm sends it again until it lands,
          // finished runs included (the sweeper only sees runs still watched).
          if ((await this.ctx.storage.getAlarm()) === null)
            await this.ctx.storage.setAlarm(Date.now() + INDEX_RETRY_MS);
        },
      );
    this.ctx.waitUntil(sent);
  }

  /**
   * Sends the current row to the runs index after a failed push; on failure again, tries later, backing off
   * to at most INDEX_RETRY_MAX_MS (alarms are at-least-once, and the index keeps the newest revision).
   */
  override async alarm(): Promise<void> {
    const row = this.indexRow();
    if (!row) return;
    try {
      await this.env.RUN_INDEX.getByName(RUN_INDEX_NAME).upsert([row]);
      this.sql.exec("DELETE FROM meta WHERE k = 'index_retries'");
    } catch (err) {
      this.sql.exec(
        "INSERT INTO meta (k, v) VALUES ('index_retries', '1') ON CONFLICT (k) DO UPDATE SET v = v + 1",
      );
      const tries = Number(
        this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'index_retries'").one().v,
      );
      const delay = Math.min(INDEX_RETRY_MS * 2 ** Math.min(tries, 10), INDEX_RETRY_MAX_MS);
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "runs index retry failed",
          runId: row.runId,
          error: String(err),
        }),
      );
      await this.ctx.storage.setAlarm(Date.now() + delay);
    }
  }

  /** Records that the run made progress now (the sweeper restarts runs that stop making any). */
  private touch(): void {
    this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('progress', ?)", String(Date.now()));
  }

  /** When the run last made progress (epoch ms), for the sweeper. */
  lastProgress(): number {
    const row = this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'progress'").toArray()[0];
    return row ? Number(row.v) : 0;
  }

  /**
   * Records the request once. Returns whether this call created it, and the stored meta. A later delivery
   * of the same event is counted (`duplicates`), so the audit trail records the first one only.
   */
  accept(request: RunRequest): { created: boolean; meta: RunMeta; row: IndexRow } {
    const existing = this.readMeta();
    if (existing) {
      const meta = { ...existing, duplicates: (existing.duplicates ?? 0) + 1 };
      // Not progress: a flood of redeliveries must not keep a stuck run looking alive to the sweeper.
      this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('run', ?)", JSON.stringify(meta));
      return { created: false, meta, row: indexRowOf(meta, this.counts(), this.rev()) };
    }
    const now = new Date().toISOString();
    const meta: RunMeta = { request, status: "accepted", attempt: 1, createdAt: now, updatedAt: now };
    this.writeMeta(meta);
    return { created: true, meta, row: indexRowOf(meta, undefined, this.rev()) };
  }

  getMeta(): RunMeta | null {
    return this.readMeta() ?? null;
  }

  /** Updates status and resolution fields; returns the new meta. */
  update(
    patch: Partial<
      Pick<
        RunMeta,
        | "status"
        | "koodriveUserId"
        | "koodriveName"
        | "resolvedBy"
        | "detail"
        | "waitUntil"
        | "candidate"
        | "confirmDeadline"
      >
    >,
  ): RunMeta {
    const meta = this.readMeta();
    if (!meta) throw new Error("run not found");
    // A withdrawn run never reopens (issue 11): a step racing the withdrawal cannot set it running again.
    if (meta.status === "withdrawn" && patch.status && patch.status !== "withdrawn") return meta;
    const now = new Date().toISOString();
    const next: RunMeta = { ...meta, ...patch, updatedAt: now };
    if (patch.status && TERMINAL.has(patch.status)) next.finishedAt = now;
    this.writeMeta(next);
    return next;
  }

  /**
   * Records one action's outcome (merged into what is there: a handover's tasks survive a state change).
   * With `status`, the run's status changes in the same write.
   */
  setAction(
    action: ActionName,
    patch: Partial<ActionOutcome>,
    run: Partial<Pick<RunMeta, "status" | "detail" | "waitUntil">> = {},
  ): RunMeta {
    const meta = this.readMeta();
    if (!meta) throw new Error("run not found");
    const now = new Date().toISOString();
    const before = meta.actions?.[action] ?? { state: "pending" as const, detail: "", updatedAt: now };
    const next: RunMeta = {
      ...meta,
      ...run,
      actions: { ...meta.actions, [action]: { ...before, ...patch, updatedAt: now } },
      updatedAt: now,
    };
    if (run.status && TERMINAL.has(run.status)) next.finishedAt = now;
    this.writeMeta(next);
    return next;
  }

  /** Records KooDrive's audit log's view of the run's cancels. */
  setEvidence(evidence: Evidence): RunMeta {
    const meta = this.readMeta();
    if (!meta) throw new Error("run not found");
    const next: RunMeta = { ...meta, evidence, updatedAt: new Date().toISOString() };
    this.writeMeta(next);
    return next;
  }

  /** When this run's cancels were recorded: the first and the last (evidence: the audit log's window). */
  cancelSpan(): { first: string; last: string } | null {
    const r = this.sql
      .exec<{ first: string | null; last: string | null }>(
        "SELECT MIN(updated_at) AS first, MAX(updated_at) AS last FROM shares WHERE state = 'cancelled'",
      )
      .one();
    return r.first && r.last ? { first: r.first, last: r.last } : null;
  }

  /** How many of `shareIds` this run cancelled (evidence: matching KooDrive's audit log entries). */
  cancelledAmong(shareIds: readonly string[]): string[] {
    const found: string[] = [];
    for (const batch of jsonBatches(shareIds))
      for (const r of this.sql.exec<{ share_id: string }>(
        "SELECT share_id FROM shares WHERE state = 'cancelled' AND share_id IN (SELECT value FROM json_each(?))",
        batch,
      ))
        found.push(r.share_id);
    return found;
  }

  /**
   * A newer run for the same person ends this run's watch (issue 10): the watch stops before its next
   * check. True when the watch was still on (idempotent: a second call changes nothing).
   */
  endWatch(byRunId: string): boolean {
    const meta = this.readMeta();
    const watch = meta?.actions?.watch;
    if (!meta || !watch || watch.endedBy || TERMINAL.has(meta.status)) return false;
    if (watch.state !== "watching" && watch.state !== "pending" && watch.state !== "running") return false;
    this.setAction("watch", { endedBy: byRunId });
    return true;
  }

  /** The run is no longer waiting (its claim on the leaver was granted): the sweeper watches it again. */
  clearWait(): void {
    const meta = this.readMeta();
    if (!meta?.waitUntil || Date.parse(meta.waitUntil) <= Date.now()) return;
    const { waitUntil: _w, ...rest } = meta;
    this.writeMeta({ ...rest, updatedAt: new Date().toISOString() });
  }

  // --- Approvals and scheduled runs (issue 11): the rules are gate.ts's; applied here, one call each. ---

  /**
   * Opens the approval gate: `awaiting_approval` until the gate's deadline (the sweeper leaves the run alone
   * until then). A resumed attempt finds the gate open, or decided, or the run cancelled, and keeps it as it is.
   */
  openApproval(gate: ApprovalGate): { meta: RunMeta; opened: boolean } {
    const meta = this.readMeta();
    if (!meta) throw new Error("run not found");
    if (meta.decision || meta.status === "withdrawn") return { meta, opened: false };
    const now = new Date().toISOString();
    const open = meta.approval ?? gate;
    const next: RunMeta = {
      ...meta,
      approval: open,
      status: "awaiting_approval",
      waitUntil: open.deadline,
      detail: open.detail,
      ...(open.candidate ? { candidate: open.candidate, confirmDeadline: open.deadline } : {}),
      updatedAt: now,
    };
    this.writeMeta(next);
    return { meta: next, opened: !meta.approval };
  }

  /**
   * What an approver approves: the shares the plan would cancel and a digest of their ids (sorted, joined by
   * newlines, SHA-256, hex), recorded with the gate and with the decision.
   */
  async planDigest(): Promise<{ shares: number; digest: string }> {
    const ids = this.sql
      .exec<{ share_id: string }>("SELECT share_id FROM shares WHERE state = 'planned' ORDER BY share_id")
      .toArray()
      .map((r) => r.share_id);
    return { shares: ids.length, digest: await sha256Hex(ids.join("\n")) };
  }

  /** A decision on the gate (gate.ts `decide`); a 0.4 run waiting for a name match is decided the same way. */
  decide(
    verdict: Verdict,
    decider: IdentifiedDecider,
    opts: { reason?: string; koodriveUserId?: string } = {},
  ): { meta: RunMeta; decision: ApprovalDecision; before: RunStatus } | Refusal {
    const meta = this.readMeta();
    if (!meta) return { code: "not_found", refused: "run not found" };
    const gated = meta.approval ? meta : legacyGate(meta);
    const gate = gated.approval;
    const result = decide(
      gated,
      verdict,
      decider,
      { ...opts, planShares: gate?.planShares ?? 0, planDigest: gate?.planDigest ?? "" },
      Date.now(),
    );
    if ("refused" in result) return result;
    this.writeMeta(result.next);
    return { meta: result.next, decision: result.decision, before: meta.status };
  }

  /**
   * Ends the wait for a decision, atomically with `decide` and `cancel`: the decision, the cancel, or the
   * deadline passed. On expiry the never-sent plan is dropped (nothing may act on it) and a name match is
   * no resolution at all (a retry resolves afresh); shares already sent stay, and whose they are.
   */
  closeApproval():
    | { decision: ApprovalDecision }
    | { cancelled: true }
    | { expired: true; dropped: number; sent: number } {
    const meta = this.readMeta();
    if (!meta) throw new Error("run not found");
    if (meta.status === "withdrawn") return { cancelled: true };
    if (meta.decision) return { decision: meta.decision };
    const sent = this.sentCount();
    return this.ctx.storage.transactionSync(() => {
      const dropped = this.sql.exec(`DELETE FROM shares WHERE state IN ${RunLedger.UNSENT}`).rowsWritten;
      const owner = meta.plannedFor ?? meta.koodriveUserId ?? meta.candidate?.koodriveUserId;
      // The gate goes too: a retry of the expired run plans again and opens a new one, with a new window.
      const { plannedFor: _p, waitUntil: _w, confirmDeadline: _d, approval: _a, ...rest } = meta;
      if (rest.resolvedBy === "name_match") {
        delete rest.koodriveUserId;
        delete rest.resolvedBy;
      }
      const next: RunMeta = { ...rest, status: "running", updatedAt: new Date().toISOString() };
      if (sent > 0 && owner) next.plannedFor = owner;
      this.writeMeta(next);
      return { expired: true as const, dropped, sent };
    });
  }

  /** Cancels a run that has not acted (gate.ts `cancel`): it ends `cancelled` at once. */
  cancel(reason: string, actor: string): { meta: RunMeta } | Refusal {
    const meta = this.readMeta();
    if (!meta) return { code: "not_found", refused: "run not found" };
    const result = cancel(meta, reason, actor, Date.now());
    if ("refused" in result) return result;
    this.writeMeta(result.next);
    return { meta: result.next };
  }

  /** Moves a run waiting for its `effectiveAt` (gate.ts `reschedule`). */
  reschedule(effectiveAt: string, actor: string): { meta: RunMeta } | Refusal {
    const meta = this.readMeta();
    if (!meta) return { code: "not_found", refused: "run not found" };
    const result = reschedule(meta, effectiveAt, actor, Date.now());
    if ("refused" in result) return result;
    this.writeMeta(result.next);
    return { meta: result.next };
  }

  /**
   * The run waits for its `effectiveAt`: until `until` (which MAX_WAIT_MS may cut short). Returns what the
   * run does next, atomically with `cancel` and `reschedule`: stop (cancelled), wait until a moment, or go
   * (the moment has come: the run may act from now on, so it can no longer be cancelled or moved).
   */
  scheduleStep(
    maxWaitMs: number,
  ): { cancelled: true } | { waitUntil: string; remainingMs: number } | { go: true } {
    const meta = this.readMeta();
    if (!meta) throw new Error("run not found");
    if (meta.status === "withdrawn") return { cancelled: true };
    const now = Date.now();
    const at = meta.request.effectiveAt ? Date.parse(meta.request.effectiveAt) : 0;
    if (at > now) {
      const until = new Date(Math.min(at, now + maxWaitMs)).toISOString();
      if (!meta.scheduled || meta.waitUntil !== until)
        this.writeMeta({
          ...meta,
          scheduled: true,
          waitUntil: until,
          detail: `waiting until ${new Date(at).toISOString()}`,
          updatedAt: new Date(now).toISOString(),
        });
      return { waitUntil: until, remainingMs: Date.parse(until) - now };
    }
    if (meta.scheduled) {
      const { waitUntil: _w, ...rest } = meta;
      this.writeMeta({ ...rest, scheduled: false, updatedAt: new Date(now).toISOString() });
    }
    return { go: true };
  }

  /**
   * Starts a new attempt of a run whose Workflow stopped without finishing it (the sweeper's way back).
   * Pending and in-flight shares stay as they are; the new attempt picks them up.
   */
  beginResume(): { attempt: number } | { refused: string } {
    const meta = this.readMeta();
    if (!meta) return { refused: "run not found" };
    // A run waiting for confirmation whose Workflow is gone is resumed too: the new attempt keeps the
    // deadline already given (and ends the run if it has passed).
    const resumable: RunStatus[] = [
      "running",
      "accepted",
      "needs_confirmation",
      "awaiting_approval",
      "watching",
    ];
    if (!resumable.includes(meta.status)) return { refused: `run is ${meta.status}` };
    const attempt = meta.attempt + 1;
    const keeps: RunStatus[] = ["needs_confirmation", "awaiting_approval", "watching"];
    const status = keeps.includes(meta.status) ? meta.status : "accepted";
    this.writeMeta({ ...meta, attempt, status, updatedAt: new Date().toISOString() });
    return { attempt };
  }

  /** Never-sent share states: rows a plan holds that no cancel has touched. */
  private static readonly UNSENT = "('planned', 'skipped_hold', 'skipped_scope')";

  /**
   * Records that the plan is for `userId`. A plan made for someone else (an unconfirmed name match that a
   * retry resolved to another person) loses its never-sent rows first; rows already sent to KooDrive for
   * another user mean the ledger cannot be trusted for this one, and the call throws.
   */
  planFor(userId: string): { dropped: number } | { refused: string } {
    const meta = this.readMeta();
    if (!meta) throw new Error("run not found");
    const sent = this.sentCount();
    // Whose shares the ledger holds: recorded since 0.2; a 0.1 ledger with sent rows is its resolved user's.
    const owner = meta.plannedFor ?? (sent > 0 ? meta.koodriveUserId : undefined);
    let dropped = 0;
    if (owner && owner !== userId) {
      if (sent > 0)
        return {
          refused: `this run already sent cancels for KooDrive user ${owner}; it cannot act for ${userId} (send a new event for the right person)`,
        };
      dropped = this.sql.exec(`DELETE FROM shares WHERE state IN ${RunLedger.UNSENT}`).rowsWritten;
    }
    if (meta.plannedFor !== userId)
      this.writeMeta({ ...meta, plannedFor: userId, updatedAt: new Date().toISOString() });
    return { dropped };
  }

  /** Shares of this run that a cancel has touched (sent, answered, or verified). */
  private sentCount(): number {
    return this.sql
      .exec<{ n: number }>(`SELECT COUNT(*) AS n FROM shares WHERE state NOT IN ${RunLedger.UNSENT}`)
      .one().n;
  }

  /**
   * Starts a retry: only from a terminal state with something left to do. Puts failed and still-active
   * shares back to planned and bumps the attempt.
   */
  beginRetry(handoverTo?: HandoverRequest): { attempt: number; requeued: number } | { refused: string } {
    const meta = this.readMeta();
    if (!meta) return { refused: "run not found" };
    const retryable: RunStatus[] = ["partial", "failed", "unresolved", "expired"];
    if (!retryable.includes(meta.status))
      return { refused: `run is ${meta.status}; only partial, failed or unresolved runs can be retried` };
    if (handoverTo) {
      const h = meta.actions?.handover;
      if (!actionsOf(meta.request).includes("handover"))
        return { refused: "this run does not hand over files (handover is not one of its actions)" };
      if (h?.state === "completed")
        return {
          refused: `the handover already completed (${h.detail}); a retry cannot hand the files over again`,
        };
      const last = h?.tasks?.[h.tasks.length - 1];
      if (last && taskInProgress(h))
        return {
          refused: `handover task ${last.taskId} to KooDrive user ${last.recipient} is still in progress in KooDrive; a retry polls it again and cannot change its recipient (retry without handoverTo)`,
        };
    }
    const requeued = this.sql
      .exec<{ n: number }>("SELECT COUNT(*) AS n FROM shares WHERE state IN ('failed', 'still_active')")
      .one().n;
    this.sql.exec(
      "UPDATE shares SET state = 'planned', reason = 'retry', updated_at = ? WHERE state IN ('failed', 'still_active')",
      new Date().toISOString(),
    );
    const attempt = meta.attempt + 1;
    const next: RunMeta = { ...meta, attempt, status: "accepted", updatedAt: new Date().toISOString() };
    const handover = meta.actions?.handover;
    if (handoverTo) next.handoverOverride = handoverTo;
    // A handover that did not complete is looked at again: its tasks stay on record (a failed one is never
    // polled again; a new one is created). Its recipient is found afresh (a retry may name one), unless a
    // task is still in progress in KooDrive: that one is polled again, and it is for whom it was made.
    if (handover && handover.state !== "completed") {
      const { recipient, ...rest } = handover;
      const inProgress = taskInProgress(handover);
      next.actions = {
        ...meta.actions,
        handover: {
          ...rest,
          ...(inProgress && recipient ? { recipient } : {}),
          state: "pending",
          detail: "retry",
        },
      };
    }
    this.writeMeta(next);
    return { attempt, requeued };
  }

  /**
   * Adds planned shares; a share already in the ledger keeps its state (a replayed plan step is a no-op).
   * Returns the ids that were new.
   */
  addPlanned(shares: PlannedShare[], late = false): string[] {
    if (shares.length === 0) return [];
    // One statement per page (a statement per share made the ledger most of a run's CPU).
    const now = new Date().toISOString();
    const added: string[] = [];
    this.eachBatch(shares, (batch) => {
      for (const r of this.sql.exec<{ share_id: string }>(
        `INSERT OR IGNORE INTO shares (share_id, scope, display_name, link_url, short_url, expire_time, share_status, state, reason, audit_pending, late, updated_at)
         SELECT value ->> '$.shareId', value ->> '$.scope', value ->> '$.displayName', value ->> '$.linkUrl',
                value ->> '$.shortUrl', value ->> '$.expireTime', value ->> '$.shareStatus', value ->> '$.state',
                value ->> '$.reason', CASE value ->> '$.state' WHEN 'planned' THEN 0 ELSE 1 END, ?, ?
         FROM json_each(?) ORDER BY key
         RETURNING share_id`,
        late ? 1 : 0,
        now,
        batch,
      ))
        added.push(r.share_id);
    });
    this.touch();
    return added;
  }

  /**
   * Shares still to cancel: first any left in flight by an interrupted attempt, then planned ones, each in
   * id order. One indexed range query per state: `state IN (...) ORDER BY share_id` would sort every
   * pending row on each call, which for 100,000 shares is most of a run's CPU.
   */
  pending(limit: number): Array<Pick<ShareRow, "shareId" | "state" | "attempts" | "scope" | "displayName">> {
    const rows: Array<Pick<ShareRow, "shareId" | "state" | "attempts" | "scope" | "displayName">> = [];
    for (const state of ["in_flight", "planned"] as const) {
      if (rows.length >= limit) break;
      for (const r of this.sql.exec<{
        share_id: string;
        attempts: number;
        scope: number;
        display_name: string;
      }>(
        "SELECT share_id, attempts, scope, display_name FROM shares WHERE state = ? ORDER BY share_id LIMIT ?",
        state,
        limit - rows.length,
      )) {
        rows.push({
          shareId: r.share_id,
          state,
          attempts: r.attempts,
          scope: r.scope,
          displayName: r.display_name,
        });
      }
    }
    return rows;
  }

  /** Marks shares as sent, before the call, so a crash leaves a trace that the cancel may have happened. */
  markInFlight(shareIds: string[]): void {
    this.touch();
    const now = new Date().toISOString();
    this.eachBatch(shareIds, (batch) =>
      this.sql.exec(
        `UPDATE shares SET state = 'in_flight', attempts = attempts + 1, updated_at = ?
         WHERE share_id IN (SELECT value FROM json_each(?))`,
        now,
        batch,
      ),
    );
  }

  record(outcomes: Outcome[]): void {
    this.touch();
    this.setOutcomes(outcomes.map((o) => ({ ...o, code: o.code ?? "", msg: o.msg ?? "" })));
    // The list's progress (cancelled / planned) of a run in flight, at most every PROGRESS_PUSH_MS.
    if (Date.now() - this.lastPush >= PROGRESS_PUSH_MS) {
      const meta = this.readMeta();
      if (meta) this.pushToIndex(meta);
    }
  }

  /**
   * Sets each share's state and message (and code, where the outcome has one; otherwise the share keeps
   * its code) and queues it for the audit trail, in one statement.
   */
  private setOutcomes(outcomes: Outcome[]): void {
    if (outcomes.length === 0) return;
    // The last outcome given for a share wins (an UPDATE ... FROM with duplicates would pick any of them).
    const latest = new Map(outcomes.map((o) => [o.shareId, o]));
    const now = new Date().toISOString();
    this.eachBatch([...latest.values()], (batch) =>
      this.sql.exec(
        `UPDATE shares SET state = o.state, code = coalesce(o.code, shares.code), msg = coalesce(o.msg, ''),
           audit_pending = 1, updated_at = ?
         FROM (SELECT value ->> '$.shareId' AS id, value ->> '$.state' AS state, value ->> '$.code' AS code,
                      value ->> '$.msg' AS msg
               FROM json_each(?)) AS o
         WHERE shares.share_id = o.id`,
        now,
        batch,
      ),
    );
  }

  /** Verify: marks which ledger shares KooDrive still lists. Returns how many of the ids are ours. */
  markSeen(shareIds: string[]): number {
    this.touch();
    let seen = 0;
    this.eachBatch(shareIds, (batch) => {
      seen += this.sql.exec(
        "UPDATE shares SET seen_in_verify = 1 WHERE share_id IN (SELECT value FROM json_each(?))",
        batch,
      ).rowsWritten;
    });
    return seen;
  }

  /** Starts a verify listing from a clean slate (flags from an interrupted or earlier pass are dropped). */
  resetSeen(): void {
    this.sql.exec("UPDATE shares SET seen_in_verify = 0 WHERE seen_in_verify = 1");
  }

  /**
   * Ends verification. A share recorded as cancelled (or gone) but still listed is `still_active`; a share
   * that failed, or was still active at an earlier verify, and is no longer listed is gone after all
   * (`already_gone` / `cancelled`); a failed share still listed stays `failed` with KooDrive's reason.
   * Every change is queued for the audit trail. Returns the changes.
   */
  finishVerify(): Outcome[] {
    const changes: Outcome[] = [];
    const rows = this.sql
      .exec<{ share_id: string; state: ShareState; seen_in_verify: number }>(
        `SELECT share_id, state, seen_in_verify FROM shares
         WHERE (seen_in_verify = 1 AND state IN ('cancelled', 'already_gone'))
            OR (seen_in_verify = 0 AND state IN ('failed', 'still_active'))`,
      )
      .toArray();
    for (const r of rows) {
      if (r.seen_in_verify === 1) {
        changes.push({
          shareId: r.share_id,
          state: "still_active",
          msg: "still listed by KooDrive after cancel",
        });
      } else if (r.state === "failed") {
        changes.push({
          shareId: r.share_id,
          state: "already_gone",
          msg: "failed, but no longer listed at verify",
        });
      } else {
        changes.push({ shareId: r.share_id, state: "cancelled", msg: "no longer listed at a later verify" });
      }
    }
    this.ctx.storage.transactionSync(() => {
      this.setOutcomes(changes);
      this.sql.exec("UPDATE shares SET seen_in_verify = 0 WHERE seen_in_verify = 1");
    });
    this.touch();
    return changes;
  }

  /**
   * The audit outbox: shares whose latest outcome is not yet in the audit trail. The ledger commits an
   * outcome first; the step then writes the audit records and marks them done. A failure in between leaves
   * them here for the next flush, so no outcome goes unaudited.
   */
  unaudited(
    limit: number,
  ): Array<
    Pick<ShareRow, "shareId" | "state" | "scope" | "displayName" | "code" | "msg" | "reason" | "late">
  > {
    return this.sql
      .exec<Record<string, string | number>>(
        "SELECT share_id, state, scope, display_name, code, msg, reason, late FROM shares WHERE audit_pending = 1 ORDER BY share_id LIMIT ?",
        limit,
      )
      .toArray()
      .map((r) => ({
        shareId: String(r.share_id),
        state: r.state as ShareState,
        scope: Number(r.scope),
        displayName: String(r.display_name),
        code: String(r.code),
        msg: String(r.msg),
        reason: String(r.reason),
        ...(Number(r.late) === 1 ? { late: true } : {}),
      }));
  }

  markAudited(shareIds: string[]): void {
    this.eachBatch(shareIds, (batch) =>
      this.sql.exec(
        "UPDATE shares SET audit_pending = 0 WHERE share_id IN (SELECT value FROM json_each(?))",
        batch,
      ),
    );
  }

  /** Shares a watch check found (late shares) and how many of them are still not cancelled. */
  lateCounts(): { late: number; open: number } {
    return this.sql
      .exec<{ late: number; open: number }>(
        `SELECT COUNT(*) AS late,
                COALESCE(SUM(CASE WHEN state IN ('planned', 'in_flight', 'failed', 'still_active') THEN 1 ELSE 0 END), 0) AS open
         FROM shares WHERE late = 1`,
      )
      .one();
  }

  counts(): Counts {
    const counts = Object.fromEntries(SHARE_STATES.map((s) => [s, 0])) as Counts;
    counts.total = 0;
    for (const row of this.sql.exec<{ state: ShareState; n: number }>(
      "SELECT state, COUNT(*) AS n FROM shares GROUP BY state",
    )) {
      counts[row.state] = row.n;
      counts.total += row.n;
    }
    return counts;
  }

  /**
   * The plan by scope (the console's dry-run summary): shares the run cancels (a dry run: would cancel),
   * shares a hold kept, and shares out of the run's scopes, each per KooDrive scope (1, 2, 3).
   */
  planSummary(): PlanSummary {
    const plan: PlanSummary = { shares: 0, byScope: {}, held: 0, heldByScope: {}, outOfScope: 0 };
    for (const r of this.sql.exec<{ scope: number; state: ShareState; n: number }>(
      "SELECT scope, state, COUNT(*) AS n FROM shares GROUP BY scope, state",
    )) {
      const scope = String(r.scope);
      if (r.state === "skipped_hold") {
        plan.held += r.n;
        plan.heldByScope[scope] = (plan.heldByScope[scope] ?? 0) + r.n;
      } else if (r.state === "skipped_scope") {
        plan.outOfScope += r.n;
      } else {
        plan.shares += r.n;
        plan.byScope[scope] = (plan.byScope[scope] ?? 0) + r.n;
      }
    }
    return plan;
  }

  /** Shares in id order after `afterId`, optionally only some states. */
  shares(afterId: string, limit: number, states?: ShareState[]): ShareRow[] {
    const filter = states?.length ? `AND state IN (${states.map(() => "?").join(",")})` : "";
    return this.sql
      .exec<Record<string, string | number>>(
        `SELECT * FROM shares WHERE share_id > ? ${filter} ORDER BY share_id LIMIT ?`,
        afterId,
        ...(states ?? []),
        limit,
      )
      .toArray()
      .map((r) => ({
        shareId: String(r.share_id),
        scope: Number(r.scope),
        displayName: String(r.display_name),
        linkUrl: String(r.link_url),
        shortUrl: String(r.short_url),
        expireTime: String(r.expire_time),
        shareStatus: Number(r.share_status),
        state: r.state as ShareState,
        reason: String(r.reason),
        code: String(r.code),
        msg: String(r.msg),
        attempts: Number(r.attempts),
        updatedAt: String(r.updated_at),
        ...(Number(r.late) === 1 ? { late: true } : {}),
      }));
  }
}
