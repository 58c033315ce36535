import { NonRetryableError } from "cloudflare:workflows";
import {
  CODE_INNER_FAILURE,
  CODE_NOT_FOUND,
  chunk,
  KooDriveError,
  MAX_IDS_PER_CANCEL,
} from "../koodrive/client";
import { settleAll, sleep } from "./concurrency";
import type { PendingShare, RunContext } from "./context";
import { currentHolds } from "./holds";
import type { Outcome } from "./ledger";
import { AuditFlusher, flushAudit } from "./outbox";
import { holdReason } from "./plan";

/** Cancelling planned shares: batches of at most 100 ids, per-share outcomes, transient failures re-sent. */

/** Cancel batches per step, per unit of parallelism: keeps every slot busy until the step's last round. */
export const BATCH_ROUNDS_PER_STEP = 3;
/** Rounds of re-sending shares that failed transiently within one cancel step. */
export const TRANSIENT_ROUNDS = 3;

/** One cancel step: takes up to `parallelism x BATCH_ROUNDS_PER_STEP` batches of pending shares. */
export async function cancelPending(
  ctx: RunContext,
): Promise<{ done: boolean; cancelled: number; failed: number }> {
  const pending = await ctx.ledger.pending(ctx.parallelism * BATCH_ROUNDS_PER_STEP * MAX_IDS_PER_CANCEL);
  if (pending.length === 0) {
    await flushAudit(ctx);
    return { done: true, cancelled: 0, failed: 0 };
  }
  const flusher = new AuditFlusher(ctx);
  let result: { cancelled: number; failed: number };
  try {
    result = await cancelShares(ctx, pending, flusher);
  } catch (err) {
    await flusher.drain().catch(() => {}); // best effort; the outbox keeps the rest; the first error wins
    throw err;
  }
  await flusher.drain();
  return { done: false, ...result };
}

/**
 * Cancels the given pending shares: re-checks holds, sends batches of at most 100 ids `parallelism` at a
 * time, records every share's outcome from `subResponseList`, and re-sends only transient failures.
 */
export async function cancelShares(
  ctx: RunContext,
  pending: PendingShare[],
  flusher?: AuditFlusher,
): Promise<{ cancelled: number; failed: number }> {
  const { ledger, client, userId } = ctx;
  // Holds are checked again just before the cancel: one placed since planning still wins.
  const holds = await currentHolds(ctx.holds);
  const held: Outcome[] = [];
  const toSend: string[] = [];
  for (const p of pending) {
    const reason = holdReason(holds, userId, p.shareId);
    if (reason) held.push({ shareId: p.shareId, state: "skipped_hold", msg: reason });
    else toSend.push(p.shareId);
  }
  if (held.length) {
    await ledger.record(held);
    flusher?.kick();
  }

  const wasInFlight = new Set(pending.filter((p) => p.state === "in_flight").map((p) => p.shareId));
  let cancelled = 0;
  let failed = 0;
  // Each answered batch is recorded at once (and so queued in the ledger's audit outbox).
  const settle = async (outcomes: Outcome[]) => {
    if (outcomes.length === 0) return;
    await ledger.record(outcomes);
    flusher?.kick();
    for (const o of outcomes) {
      if (o.state === "failed") failed++;
      else cancelled++;
    }
  };

  {
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
            aborted = true; // no new batches; those in flight finish and are recorded
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
      // Every batch in flight is recorded before the step fails and is retried.
      await settleAll(Array.from({ length: Math.min(ctx.parallelism, batches.length) }, worker));
      retry = transient.map((t) => t.shareId);
      if (round === TRANSIENT_ROUNDS) await settle(transient);
    }
  }
  return { cancelled, failed };
}
