import { NonRetryableError } from "cloudflare:workflows";
import type { AuditShare } from "../audit/schema";
import type { AuditStore } from "../audit/store";
import {
  CODE_INNER_FAILURE,
  CODE_NOT_FOUND,
  chunk,
  type KooDriveClient,
  KooDriveError,
  MAX_IDS_PER_CANCEL,
  type SharePage,
} from "../koodrive/client";
import type { ShareLink } from "../koodrive/schema";
import type { HoldsStore } from "./holds";
import { currentHolds } from "./holds";
import type { Outcome, RunLedger } from "./ledger";
import { holdReason, planShares } from "./plan";
import type { RunMeta, ShareRow } from "./types";

/** KooDrive list pages handled per step: bounds each step's subrequests (and its result stays tiny). */
export const PAGES_PER_STEP = 10;
/** Cancel batches per step, per unit of parallelism: keeps every slot busy until the step's last round. */
export const BATCH_ROUNDS_PER_STEP = 3;
/** Rounds of re-sending shares that failed transiently within one cancel step. */
export const TRANSIENT_ROUNDS = 3;
/** Audit records hold at most this many shares each, so a record stays small. */
const AUDIT_SHARES_PER_RECORD = 100;
/** Outbox rows read per round of a flush. */
const AUDIT_FLUSH_BATCH = 1000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Subject = RunMeta["request"]["subject"];

/** A share waiting to be cancelled, as the ledger or the planner hands it over. */
export type PendingShare = Pick<ShareRow, "shareId" | "state" | "scope" | "displayName">;

/**
 * The page after a step's last one, fetched while that step finishes (its last cancels, its audit writes,
 * the engine saving its result), for the next step to start from. Lives only in memory: a step that runs
 * after a restart simply fetches the page itself.
 */
export interface Lookahead {
  next?: { cursor: string; page: Promise<SharePage>; at: number } | undefined;
}
/** A page fetched ahead is used only this soon after (a step retried after a failure fetches afresh). */
const LOOKAHEAD_MAX_AGE_MS = 10_000;

/** What the steps of one run share: its ledger, clients and the audit context. */
export interface RunContext {
  ledger: DurableObjectStub<RunLedger>;
  holds: DurableObjectNamespace<HoldsStore>;
  client: KooDriveClient;
  audit: AuditStore;
  meta: RunMeta;
  subject: Subject;
  userId: string;
  parallelism: number;
  lookahead?: Lookahead;
}

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
  const added = new Set(await ctx.ledger.addPlanned(planned));
  const fresh = planned.filter((s) => added.has(s.shareId));
  // Skipped shares (hold, scope) are queued in the ledger's audit outbox; flushAudit writes them.
  return fresh.filter((s) => s.state === "planned");
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

/** Runs at most `n` of the functions given to it at once. */
export function limiter(n: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    while (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** Waits for every promise; then throws the first failure, if any (nothing is left running unrecorded). */
export async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((r) => r.status === "rejected");
  if (failure) throw failure.reason;
}

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
