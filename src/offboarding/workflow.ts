import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";
import type { AuditShare } from "../audit/schema";
import { AuditStore } from "../audit/store";
import { type Bindings, loadConfig } from "../env";
import {
  CODE_INNER_FAILURE,
  CODE_NOT_FOUND,
  chunk,
  KooDriveError,
  MAX_IDS_PER_CANCEL,
} from "../koodrive/client";
import { koodriveClient } from "../services";
import { currentHolds } from "./holds";
import type { Outcome } from "./ledger";
import { holdReason, planShares } from "./plan";
import { resolveLeaver } from "./resolve";
import type { Counts, RunMeta, RunParams, RunStatus, ShareRow } from "./types";

/** KooDrive list pages handled per step: bounds each step's subrequests and its result size. */
export const PAGES_PER_STEP = 10;
/** Shares cancelled per step (10 calls of 100 ids). */
export const CANCEL_IDS_PER_STEP = 1000;
/** Rounds of re-sending shares that failed transiently within one cancel step. */
export const TRANSIENT_ROUNDS = 3;
/** Audit records hold at most this many shares each, so a record stays small. */
const AUDIT_SHARES_PER_RECORD = 100;

const STEP = {
  retries: { limit: 5, delay: "2 seconds", backoff: "exponential" },
  timeout: "10 minutes",
} as const;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Share id -> what the ledger knows of it, for audit snapshots. */
type Snapshot = Pick<ShareRow, "shareId" | "scope" | "displayName">;

/**
 * The durable revocation run: resolve the leaver, plan (list every share they created), execute (cancel
 * in batches), verify (list again), report. Each stage is a sequence of retried steps; all state lives in
 * the run's ledger (a Durable Object), so a replayed or retried step never redoes finished work.
 */
export class OffboardingWorkflow extends WorkflowEntrypoint<Bindings, RunParams> {
  override async run(
    event: WorkflowEvent<RunParams>,
    step: WorkflowStep,
  ): Promise<{ status: RunStatus; counts: Counts }> {
    const { runId, attempt } = event.payload;
    const ledger = this.env.RUNS.getByName(runId);
    const config = loadConfig(this.env);
    const audit = new AuditStore(this.env.AUDIT, config.AUDIT_RETENTION_DAYS);
    const client = koodriveClient(config, runId);

    const meta = await step.do(`start (attempt ${attempt})`, STEP, async () => {
      const m = await ledger.update({ status: "running" });
      await this.auditState(audit, m, `attempt ${attempt} started`);
      return m;
    });
    const request = meta.request;

    const finish = (status: RunStatus, detail: string) =>
      step.do(`finish ${status}`, STEP, async () => {
        const m = await ledger.update({ status, detail });
        const counts = await ledger.counts();
        await this.auditState(audit, m, detail, counts);
        return { status, counts };
      });

    try {
      const resolved = await step.do("resolve", STEP, async () => {
        if (meta.koodriveUserId) return { ok: true as const, userId: meta.koodriveUserId };
        const r = await resolveLeaver(request.subject, {
          kv: this.env.AUDIT,
          client,
          directoryUserId: config.KOODRIVE_DIRECTORY_USER_ID || undefined,
        });
        if (!r.ok) return { ok: false as const, detail: r.detail };
        await ledger.update({ koodriveUserId: r.userId, resolvedBy: r.by, detail: r.detail });
        return { ok: true as const, userId: r.userId };
      });
      if (!resolved.ok) return await finish("unresolved", resolved.detail);
      const userId = resolved.userId;
      const subject = { ...request.subject, koodriveUserId: userId };

      // Plan: page through every share the leaver created, PAGES_PER_STEP pages a step.
      let cursor: string | undefined = "0";
      for (let i = 0; cursor !== undefined; i++) {
        const from: string = cursor;
        const r: { next: string | undefined; listed: number } = await step.do(`plan ${i}`, STEP, async () => {
          const holds = await currentHolds(this.env.HOLDS);
          let next: string | undefined = from;
          let listed = 0;
          for (let p = 0; p < PAGES_PER_STEP && next !== undefined; p++) {
            const page = await client.listSharePage(userId, next);
            const planned = planShares(page.shareLinks, userId, request.scopes, holds);
            const added = new Set(await ledger.addPlanned(planned));
            const skipped = planned.filter((s) => added.has(s.shareId) && s.state !== "planned");
            await this.auditShares(
              audit,
              meta,
              subject,
              "shares.skipped",
              skipped.map((s) => ({
                shareId: s.shareId,
                outcome: s.state,
                scope: s.scope,
                displayName: s.displayName,
                msg: s.reason,
              })),
            );
            listed += page.shareLinks.length;
            next = page.nextCursor;
          }
          return { next, listed };
        });
        cursor = r.next;
      }

      if (request.dryRun) {
        const counts = await step.do("dry run report", STEP, () => ledger.counts());
        return await finish("dry_run", `dry run: ${counts.planned} share(s) would be cancelled`);
      }

      // Execute: cancel what is pending, CANCEL_IDS_PER_STEP a step, until nothing is pending.
      for (let k = 0; ; k++) {
        const r = await step.do(`cancel ${k}`, STEP, () =>
          this.cancelChunk(ledger, client, audit, meta, subject, userId, config.CANCEL_PARALLELISM),
        );
        if (r.done) break;
      }

      // Verify: list again; anything we cancelled that is still listed is reported.
      cursor = "0";
      for (let i = 0; cursor !== undefined; i++) {
        const from: string = cursor;
        cursor = await step.do(`verify ${i}`, STEP, async () => {
          let next: string | undefined = from;
          for (let p = 0; p < PAGES_PER_STEP && next !== undefined; p++) {
            const page = await client.listSharePage(userId, next);
            await ledger.markSeen(page.shareLinks.map((s) => s.shareId));
            next = page.nextCursor;
          }
          return next;
        });
      }
      await step.do("verify done", STEP, async () => {
        const changed = await ledger.finishVerify();
        const still = changed.filter((c) => c.state === "still_active");
        await this.auditShares(
          audit,
          meta,
          subject,
          "shares.failed",
          still.map((c) => ({
            shareId: c.shareId,
            outcome: c.state,
            msg: "still listed by KooDrive after cancel",
          })),
        );
        return changed.length;
      });

      const counts = await step.do("tally", STEP, () => ledger.counts());
      const open = counts.failed + counts.still_active + counts.planned + counts.in_flight;
      return await finish(
        open === 0 ? "completed" : "partial",
        open === 0
          ? `${counts.cancelled} cancelled, ${counts.already_gone} already gone, ${counts.skipped_hold + counts.skipped_scope} skipped`
          : `${open} share(s) still active or failed`,
      );
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      return await finish("failed", detail.slice(0, 500));
    }
  }

  /** One cancel step: re-check holds, send batches, record every outcome, retry transient failures. */
  private async cancelChunk(
    ledger: DurableObjectStub<import("./ledger").RunLedger>,
    client: ReturnType<typeof koodriveClient>,
    audit: AuditStore,
    meta: RunMeta,
    subject: RunMeta["request"]["subject"],
    userId: string,
    parallelism: number,
  ): Promise<{ done: boolean; cancelled: number; failed: number }> {
    const pending = await ledger.pending(CANCEL_IDS_PER_STEP);
    if (pending.length === 0) return { done: true, cancelled: 0, failed: 0 };
    const byId = new Map<string, Snapshot>(pending.map((p) => [p.shareId, p]));
    const snap = (o: Outcome): AuditShare => ({
      shareId: o.shareId,
      outcome: o.state,
      ...(byId.get(o.shareId)
        ? { scope: byId.get(o.shareId)?.scope, displayName: byId.get(o.shareId)?.displayName }
        : {}),
      ...(o.code ? { code: o.code } : {}),
      ...(o.msg ? { msg: o.msg } : {}),
    });

    // Holds are checked again just before the cancel: one placed since planning still wins.
    const holds = await currentHolds(this.env.HOLDS);
    const held: Outcome[] = [];
    const toSend: string[] = [];
    for (const p of pending) {
      const reason = holdReason(holds, userId, p.shareId);
      if (reason) held.push({ shareId: p.shareId, state: "skipped_hold", msg: reason });
      else toSend.push(p.shareId);
    }
    if (held.length) {
      await ledger.record(held);
      await this.auditShares(audit, meta, subject, "shares.skipped", held.map(snap));
    }

    const wasInFlight = new Set(pending.filter((p) => p.state === "in_flight").map((p) => p.shareId));
    const final: Outcome[] = [];
    // Record, then audit, each batch as soon as it is answered: if the step dies later, the replay no
    // longer sees these shares as pending, so this is the only chance to write their audit records.
    const settle = async (outcomes: Outcome[]) => {
      if (outcomes.length === 0) return;
      await ledger.record(outcomes);
      final.push(...outcomes);
      const done = outcomes.filter((o) => o.state === "cancelled" || o.state === "already_gone");
      const failed = outcomes.filter((o) => o.state === "failed");
      await this.auditShares(audit, meta, subject, "shares.cancelled", done.map(snap));
      await this.auditShares(audit, meta, subject, "shares.failed", failed.map(snap));
    };
    let retry = toSend;
    for (let round = 0; round <= TRANSIENT_ROUNDS && retry.length > 0; round++) {
      if (round > 0) await sleep(Math.min(5_000, 250 * 2 ** round));
      const transient: Outcome[] = [];
      const batches = chunk(retry, MAX_IDS_PER_CANCEL);
      let next = 0;
      let aborted = false;
      const worker = async () => {
        while (!aborted && next < batches.length) {
          const ids = batches[next++] ?? [];
          await ledger.markInFlight(ids);
          const outcomes = await client.cancelBatch(userId, ids).catch((err: unknown) => {
            aborted = true; // no new batches; the ones in flight finish and are recorded
            // A refusal that retrying cannot fix (bad credentials, parameter error) fails the run now.
            throw err instanceof KooDriveError && !err.retryable ? new NonRetryableError(err.message) : err;
          });
          const settled: Outcome[] = [];
          for (const o of outcomes) {
            if (o.ok) settled.push({ shareId: o.shareId, state: "cancelled", code: o.code, msg: o.msg });
            else if (o.code === CODE_NOT_FOUND) {
              // Not found after our own earlier attempt means that attempt worked [koodrive-api.md: Cancel].
              const ours = wasInFlight.has(o.shareId) || o.afterUncertainAttempt;
              settled.push({
                shareId: o.shareId,
                state: ours ? "cancelled" : "already_gone",
                code: o.code,
                msg: ours ? "confirmed: not found after our earlier attempt" : o.msg,
              });
            } else if (o.code === CODE_INNER_FAILURE || o.code === "missing") {
              transient.push({ shareId: o.shareId, state: "failed", code: o.code, msg: o.msg });
              wasInFlight.add(o.shareId);
            } else settled.push({ shareId: o.shareId, state: "failed", code: o.code, msg: o.msg });
          }
          await settle(settled);
        }
      };
      // allSettled: every batch in flight is recorded before the step fails and is retried.
      const settledWorkers = await Promise.allSettled(
        Array.from({ length: Math.min(parallelism, batches.length) }, worker),
      );
      const failure = settledWorkers.find((r) => r.status === "rejected");
      if (failure) throw failure.reason;
      retry = transient.map((t) => t.shareId);
      if (round === TRANSIENT_ROUNDS) await settle(transient);
    }

    const failed = final.filter((o) => o.state === "failed").length;
    return { done: false, cancelled: final.length - failed, failed };
  }

  private async auditShares(
    audit: AuditStore,
    meta: RunMeta,
    subject: RunMeta["request"]["subject"],
    type: "shares.skipped" | "shares.cancelled" | "shares.failed",
    shares: AuditShare[],
  ): Promise<void> {
    for (const part of chunk(shares, AUDIT_SHARES_PER_RECORD)) {
      await audit.write({
        type,
        actor: "workflow",
        source: meta.request.source,
        eventId: meta.request.eventId,
        runId: meta.request.runId,
        requestId: meta.request.requestId,
        subject,
        ...(meta.request.reason ? { reason: meta.request.reason } : {}),
        shares: part,
        details: { count: part.length },
      });
    }
  }

  private async auditState(audit: AuditStore, meta: RunMeta, detail: string, counts?: Counts): Promise<void> {
    await audit.write({
      type: "run.state",
      actor: "workflow",
      source: meta.request.source,
      eventId: meta.request.eventId,
      runId: meta.request.runId,
      requestId: meta.request.requestId,
      subject: {
        ...meta.request.subject,
        ...(meta.koodriveUserId ? { koodriveUserId: meta.koodriveUserId } : {}),
      },
      status: meta.status,
      reason: detail,
      ...(counts ? { details: { ...counts } } : {}),
    });
  }
}
