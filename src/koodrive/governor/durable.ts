import { DurableObject } from "cloudflare:workers";
import { GovernorCore, type GovernorSnapshot } from "./bucket";

/**
 * The rate governor: one Durable Object per KooDrive app id (`GOVERNOR.getByName(appId)`), through which
 * every KooDrive call of every run takes a permit (issue 12). The logic is bucket.ts; this object holds it
 * in memory and answers leases.
 *
 * A lease that cannot be granted now is held here until its permits are due (up to MAX_HOLD_MS), rather than
 * answered with a wait time: the queue must live in one place for the order between runs to hold, and a
 * held request costs the caller nothing while a "come back in x ms" answer would cost it another round
 * trip per wait (and lose its place).
 *
 * The queue and the current rate are soft, in memory. The learned limit (the rate at the latest 429 that cut
 * the rate) is kept in storage (LEARNED_KEY) for LEARNED_TTL_MS: a governor that restarts, or the next
 * layoff, starts just under it instead of rediscovering it with 429s. `reset()` forgets it
 * (`POST /governor/reset`).
 */

/** The longest a lease is held; then it is answered with 0 permits and the caller asks again. */
export const MAX_HOLD_MS = 20_000;
/** How long leased permits are good for: unused ones expire so no run hoards a burst for later. */
export const LEASE_TTL_MS = 1_000;
/**
 * How long a learned limit is trusted after the 429 that taught it. A week: layoffs are rare, and a limit
 * that was raised meanwhile is found anyway (the rate passes it without a 429 and it is forgotten).
 */
export const LEARNED_TTL_MS = 7 * 24 * 3600_000;
/** The storage key of the learned limit. */
export const LEARNED_KEY = "learned";

export interface LearnedLimit {
  /** Requests per second at the 429. */
  limit: number;
  /** Epoch ms of the 429. */
  at: number;
}

export interface LeaseRequest {
  runId: string;
  want: number;
  /** KOODRIVE_MAX_RPS as the caller's deployment has it. */
  ceiling: number;
  /** Calls that succeeded since this caller's previous lease (reported in aggregate). */
  successes: number;
  /** Work that can wait (a run's evidence read): served only when no run waits (bucket.ts). */
  background?: boolean | undefined;
}

export interface Lease {
  granted: number;
  ttlMs: number;
  /** The governor's generation (cuts so far) when granted: a 429 of one of these permits reports it. */
  generation: number;
}

export interface Report429 {
  runId: string;
  ceiling: number;
  retryAfterMs?: number | undefined;
  /** The generation of the refused call's permit (undefined: not known, e.g. a fallback call). */
  generation?: number | undefined;
}

export class RateGovernor extends DurableObject<Env> {
  /** Made on the first call, under the ceiling that call names (a learned limit starts it under that). */
  private made: GovernorCore | undefined;
  private stored: number | undefined;
  private readonly waiting = new Map<number, (grant: { granted: number; generation: number }) => void>();
  private nextId = 1;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get<LearnedLimit>(LEARNED_KEY);
      if (saved && Date.now() - saved.at < LEARNED_TTL_MS) this.stored = saved.limit;
    });
  }

  /** The governor's logic under the caller's ceiling (KOODRIVE_MAX_RPS as its deployment has it). */
  private core(ceiling: number): GovernorCore {
    if (!this.made) this.made = new GovernorCore(ceiling, Date.now(), this.stored);
    else this.made.setCeiling(ceiling);
    return this.made;
  }

  /** Permits for one run: resolves when granted (possibly fewer than asked) or after MAX_HOLD_MS with 0. */
  async lease(req: LeaseRequest): Promise<Lease> {
    const core = this.core(req.ceiling);
    if (req.successes > 0) this.onLimitChange(core, () => core.onSuccess(req.successes));
    const id = this.nextId++;
    const granted = new Promise<{ granted: number; generation: number }>((resolve) =>
      this.waiting.set(id, resolve),
    );
    core.enqueue({ id, runId: req.runId, want: req.want, background: req.background }, Date.now());
    this.pump(core);
    const held = setTimeout(() => {
      if (core.cancel(id)) this.answer(id, 0, core.generation);
    }, MAX_HOLD_MS);
    const g = await granted;
    clearTimeout(held);
    return { granted: g.granted, ttlMs: LEASE_TTL_MS, generation: g.generation };
  }

  /** A call of some run got 429: everyone pauses until the Retry-After moment; the rate may be cut. */
  report429(req: Report429): void {
    const core = this.core(req.ceiling);
    this.onLimitChange(core, () => core.on429(Date.now(), req.retryAfterMs, req.generation));
    this.pump(core);
  }

  /** What the governor knows now (GET /governor), under the ceiling the asking deployment has. */
  state(ceiling: number): GovernorSnapshot {
    return this.core(ceiling).snapshot(Date.now());
  }

  /** Forgets the learned limit, in storage too: the governor slow-starts again (POST /governor/reset). */
  async reset(ceiling: number): Promise<GovernorSnapshot> {
    await this.ctx.storage.delete(LEARNED_KEY);
    this.stored = undefined;
    const core = this.core(ceiling);
    core.forget();
    return core.snapshot(Date.now());
  }

  /** Runs a change and stores the learned limit when it changed (a cut, or a stale limit forgotten). */
  private onLimitChange(core: GovernorCore, change: () => unknown): void {
    const before = core.learnedLimit;
    change();
    const limit = core.learnedLimit;
    if (limit === before) return;
    // Not awaited: the output gate holds this object's answers until the write is durable.
    if (limit === undefined) void this.ctx.storage.delete(LEARNED_KEY);
    else void this.ctx.storage.put(LEARNED_KEY, { limit, at: Date.now() } satisfies LearnedLimit);
  }

  private answer(id: number, granted: number, generation: number): void {
    this.waiting.get(id)?.({ granted, generation });
    this.waiting.delete(id);
  }

  /** Grants what is due now and sets one timer for the next moment a permit is due. */
  private pump(core: GovernorCore): void {
    const now = Date.now();
    const { grants, wakeAt } = core.dispatch(now);
    for (const g of grants) this.answer(g.id, g.granted, g.generation);
    if (wakeAt === undefined) return;
    // One timer, for the earliest moment (a 429's pause may move it later; the timer then finds nothing due).
    if (this.timer !== undefined && this.timerAt <= wakeAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = wakeAt;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.pump(core);
      },
      Math.max(0, wakeAt - now),
    );
  }
}
