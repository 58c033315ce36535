import { DurableObject } from "cloudflare:workers";
import { DEFAULT_MAX_RPS, GovernorCore, type GovernorSnapshot } from "./bucket";

/**
 * The rate governor: one Durable Object per KooDrive app id (`GOVERNOR.getByName(appId)`), through which
 * every KooDrive call of every run takes a permit (issue 12). The logic is bucket.ts; this object holds it
 * in memory and answers leases.
 *
 * A lease that cannot be granted now is held here until its permits are due (up to MAX_HOLD_MS), rather than
 * answered with a wait time: the queue must live in one place for permits to go round-robin between runs,
 * and a held request costs the caller nothing while a "come back in x ms" answer would cost it another round
 * trip per wait (and lose its place). The state is soft, in memory only: an evicted governor starts again
 * at the ceiling and learns the limit from the next 429.
 */

/** The longest a lease is held; then it is answered with 0 permits and the caller asks again. */
export const MAX_HOLD_MS = 20_000;
/** How long leased permits are good for: unused ones expire so no run hoards a burst for later. */
export const LEASE_TTL_MS = 1_000;

export interface LeaseRequest {
  runId: string;
  want: number;
  /** KOODRIVE_MAX_RPS as the caller's deployment has it. */
  ceiling: number;
  /** Calls that succeeded since this caller's previous lease (reported in aggregate). */
  successes: number;
}

export interface Lease {
  granted: number;
  ttlMs: number;
}

export class RateGovernor extends DurableObject<Env> {
  private readonly core = new GovernorCore(DEFAULT_MAX_RPS, Date.now());
  private readonly waiting = new Map<number, (granted: number) => void>();
  private nextId = 1;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  /** Permits for one run: resolves when granted (possibly fewer than asked) or after MAX_HOLD_MS with 0. */
  async lease(req: LeaseRequest): Promise<Lease> {
    this.core.setCeiling(req.ceiling);
    if (req.successes > 0) this.core.onSuccess(req.successes);
    const id = this.nextId++;
    const granted = new Promise<number>((resolve) => this.waiting.set(id, resolve));
    this.core.enqueue({ id, runId: req.runId, want: req.want });
    this.pump();
    const held = setTimeout(() => {
      if (this.core.cancel(id)) this.answer(id, 0);
    }, MAX_HOLD_MS);
    const n = await granted;
    clearTimeout(held);
    return { granted: n, ttlMs: LEASE_TTL_MS };
  }

  /** A call of some run got 429: the rate is cut and every caller pauses until the Retry-After moment. */
  report429(req: { runId: string; ceiling: number; retryAfterMs?: number | undefined }): void {
    this.core.setCeiling(req.ceiling);
    this.core.on429(Date.now(), req.retryAfterMs);
    this.pump();
  }

  /** What the governor knows now (GET /governor), under the ceiling the asking deployment has. */
  state(ceiling: number): GovernorSnapshot {
    this.core.setCeiling(ceiling);
    return this.core.snapshot(Date.now());
  }

  private answer(id: number, granted: number): void {
    this.waiting.get(id)?.(granted);
    this.waiting.delete(id);
  }

  /** Grants what is due now and sets one timer for the next moment a permit is due. */
  private pump(): void {
    const now = Date.now();
    const { grants, wakeAt } = this.core.dispatch(now);
    for (const g of grants) this.answer(g.id, g.granted);
    if (wakeAt === undefined) return;
    // One timer, for the earliest moment (a 429's pause may move it later; the timer then finds nothing due).
    if (this.timer !== undefined && this.timerAt <= wakeAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = wakeAt;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, wakeAt - now),
    );
  }
}
