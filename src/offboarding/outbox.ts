import type { AuditShare } from "../audit/schema";
import { chunk } from "../koodrive/client";
import type { RunContext } from "./context";
import type { ShareRow } from "./types";

/**
 * The audit outbox: the ledger commits each share's outcome first and queues it; these write the queued
 * outcomes to the audit trail (KV) and mark them written, so no outcome goes unaudited even when a step dies.
 */

/** Audit records hold at most this many shares each, so a record stays small. */
const AUDIT_SHARES_PER_RECORD = 100;
/** Outbox rows read per round of a flush. */
const AUDIT_FLUSH_BATCH = 1000;

/** Writes share outcomes as audit records of at most 100 shares each. */
export async function auditShares(
  ctx: Pick<RunContext, "audit" | "meta" | "subject">,
  type: AuditShareType,
  shares: AuditShare[],
): Promise<void> {
  const { request } = ctx.meta;
  for (const part of chunk(shares, AUDIT_SHARES_PER_RECORD)) {
    await ctx.audit.write({
      type,
      actor: "workflow",
      source: request.source,
      eventId: request.eventId,
      runId: request.runId,
      requestId: request.requestId,
      subject: ctx.subject,
      ...(request.reason ? { reason: request.reason } : {}),
      shares: part,
      details: { count: part.length },
    });
  }
}

/** Which audit record type a share state belongs to. */
type AuditShareType = "shares.skipped" | "shares.cancelled" | "shares.failed";
const AUDIT_TYPE: Partial<
  Record<ShareRow["state"], "shares.skipped" | "shares.cancelled" | "shares.failed">
> = {
  cancelled: "shares.cancelled",
  already_gone: "shares.cancelled",
  failed: "shares.failed",
  still_active: "shares.failed",
  skipped_hold: "shares.skipped",
  skipped_scope: "shares.skipped",
};

/**
 * Writes the audit records of every outcome the ledger has queued (its outbox), then marks them written.
 * Called at the end of every step that changes shares; a failure leaves them queued for the next flush.
 */
export async function flushAudit(
  ctx: Pick<RunContext, "ledger" | "audit" | "meta" | "subject">,
): Promise<number> {
  let written = 0;
  for (;;) {
    const rows = await ctx.ledger.unaudited(AUDIT_FLUSH_BATCH);
    if (rows.length === 0) return written;
    const byType = new Map<AuditShareType, AuditShare[]>();
    for (const r of rows) {
      const type = AUDIT_TYPE[r.state];
      if (!type) continue;
      const share: AuditShare = {
        shareId: r.shareId,
        outcome: r.state,
        scope: r.scope,
        displayName: r.displayName,
        ...(r.code ? { code: r.code } : {}),
        ...(r.msg || r.reason ? { msg: r.msg || r.reason } : {}),
        ...(r.late ? { late: true } : {}),
      };
      byType.set(type, [...(byType.get(type) ?? []), share]);
    }
    await Promise.all([...byType].map(([type, shares]) => auditShares(ctx, type, shares)));
    await ctx.ledger.markAudited(rows.map((r) => r.shareId));
    written += rows.length;
  }
}

/**
 * Runs flushAudit in the background, one flush at a time (two at once could write a record twice):
 * `kick()` after recording outcomes, `drain()` before the step ends. Audit writes then overlap the
 * KooDrive calls instead of adding to them; the outbox keeps them safe if the step dies first.
 */
export class AuditFlusher {
  private running: Promise<void> | undefined;
  private again = false;
  private failure: unknown;

  constructor(private readonly ctx: Pick<RunContext, "ledger" | "audit" | "meta" | "subject">) {}

  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await flushAudit(this.ctx);
      } while (this.again);
    })()
      .catch((err: unknown) => {
        this.failure = err;
      })
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Waits for the running flush, flushes whatever is left, and surfaces a background failure. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
    if (this.failure) {
      const err = this.failure;
      this.failure = undefined;
      throw err;
    }
    await flushAudit(this.ctx);
  }
}
