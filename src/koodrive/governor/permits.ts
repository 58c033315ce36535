import { within } from "../../timeout";
import type { CallName, PermitHook, PermitOutcome } from "../client";
import { LEASE_MAX } from "./bucket";
import { type Lease, type LeaseRequest, MAX_HOLD_MS, type Report429 } from "./durable";

/**
 * The run's side of the rate governor: a KooDrive client's permit hook (client.ts `PermitHook`). Permits are
 * leased in small batches (one governor round trip per up to LEASE_MAX calls), successes are reported in
 * aggregate with the next lease, 429s at once. A governor that errors or cannot be reached never stops the
 * run: the client goes on with its own backoff for FALLBACK_MS, then asks the governor again; the first such
 * failure of a run is reported once through `onFallback` (logged and audited by the caller). A governor that
 * does not answer in time (LEASE_TIMEOUT_MS, REPORT_TIMEOUT_MS) has failed.
 */

/** How long a run goes without the governor after it failed, before asking it again. */
export const FALLBACK_MS = 30_000;
/**
 * How long a lease may take before the governor counts as unreachable: three times the longest it holds one
 * (MAX_HOLD_MS, then it answers 0). A call that hangs (an overloaded or unreachable Durable Object) would
 * otherwise hold the run's call until the step's 10-minute timeout. Not closer to the hold: under load the
 * answer comes seconds after it, and failing over then unpaces every run at the worst moment (the bench's
 * burst of 1,000 runs on one machine: 916 runs fell back with MAX_HOLD_MS + 5 s, and 285 cancels were sent
 * twice after client timeouts; none with this).
 */
export const LEASE_TIMEOUT_MS = 3 * MAX_HOLD_MS;
/** How long reporting a 429 may take (the governor answers it at once). */
export const REPORT_TIMEOUT_MS = 5_000;

/** What the hook needs of the governor (its Durable Object stub). */
export interface GovernorLike {
  lease(req: LeaseRequest): Promise<Lease>;
  report429(req: Report429): Promise<void> | void;
}

export class GovernedPermits implements PermitHook {
  /**
   * Permits the next lease asks for: starts at 1, doubles while leases are used up before they expire, and
   * falls to what was used when some expire unused. Tokens leased and not used are lost to every run, so a
   * small leaver (a call every few hundred ms) must not take LEASE_MAX at a time.
   */
  private want = 1;
  private leased = 0;
  /** Callers inside `acquire` now: a lease asks for at least this many. */
  private waiting = 0;
  /** Permits in hand, oldest lease first, each with the governor generation it was granted in. */
  private batches: Array<{ generation: number; left: number }> = [];
  private expiresAt = 0;
  private leasing: Promise<void> | undefined;
  private successes = 0;
  /** 429s reported so far, and the newest generation one of them was granted in (Infinity: not known). */
  private refusals = 0;
  private refusedGeneration = Number.NEGATIVE_INFINITY;
  private downUntil = 0;
  private reported = false;

  constructor(
    private readonly governor: () => GovernorLike,
    private readonly runId: string,
    private readonly ceiling: number,
    private readonly onFallback: (err: unknown) => void,
    private readonly timeouts = { leaseMs: LEASE_TIMEOUT_MS, reportMs: REPORT_TIMEOUT_MS },
    /** Work that can wait (a run's evidence read): the governor serves it only when no run waits. */
    private readonly background = false,
  ) {}

  /** Permits in hand (and not expired). */
  private get left(): number {
    return this.batches.reduce((n, b) => n + b.left, 0);
  }

  /** Resolves when the call may be sent, with the generation of its permit (undefined: no governor). */
  async acquire(_call: CallName): Promise<number | undefined> {
    this.waiting++;
    try {
      for (;;) {
        if (Date.now() < this.downUntil) return undefined; // the governor failed: the client's own backoff
        const batch = Date.now() < this.expiresAt ? this.batches[0] : undefined;
        if (batch) {
          if (--batch.left === 0) this.batches.shift();
          // Half the lease used: the next one is asked for now, so the run's calls do not wait for it.
          if (this.left <= this.leased / 2 && this.leased > 1) this.startLease();
          return batch.generation;
        }
        await this.startLease();
      }
    } finally {
      this.waiting--;
    }
  }

  /** One lease in flight per run: the run's concurrent calls share it. */
  private startLease(): Promise<void> {
    this.leasing ??= this.lease().finally(() => {
      this.leasing = undefined;
    });
    return this.leasing;
  }

  private async lease(): Promise<void> {
    const refusals = this.refusals;
    const successes = this.successes;
    this.successes = 0;
    if (this.leased > 0) {
      // Asked for before the last lease expired: it was being used up (or dropped on a 429), so ask for more.
      const unused = Date.now() < this.expiresAt ? 0 : this.left;
      this.want = unused === 0 ? Math.min(LEASE_MAX, this.want * 2) : Math.max(1, this.leased - unused);
    }
    try {
      const lease = await within(
        this.governor().lease({
          runId: this.runId,
          want: Math.min(LEASE_MAX, Math.max(this.want, this.waiting)),
          ceiling: this.ceiling,
          successes,
          ...(this.background ? { background: true } : {}),
        }),
        this.timeouts.leaseMs,
        `rate governor: no answer to a lease within ${this.timeouts.leaseMs} ms`,
      );
      // Permits still good from the last lease stay usable (first) alongside the new ones.
      if (Date.now() >= this.expiresAt) this.batches = [];
      // A lease granted before a 429 this run reported while it was on its way is dropped like the permits in
      // hand were; one granted after the governor's cut (a newer generation) is good.
      const stale = this.refusals !== refusals && lease.generation <= this.refusedGeneration;
      if (lease.granted > 0 && !stale)
        this.batches.push({ generation: lease.generation, left: lease.granted });
      this.leased = lease.granted;
      this.expiresAt = Date.now() + lease.ttlMs;
    } catch (err) {
      this.fallBack(err);
    }
  }

  async report(outcome: PermitOutcome): Promise<void> {
    if (outcome.status === "ok") {
      this.successes++;
      return;
    }
    if (outcome.status !== "rate_limited" || Date.now() < this.downUntil) return;
    // Permits leased before the 429 are not used: the governor pauses everyone now.
    this.batches = [];
    this.refusals++;
    this.refusedGeneration = Math.max(this.refusedGeneration, outcome.permit ?? Number.POSITIVE_INFINITY);
    try {
      await within(
        this.governor().report429({
          runId: this.runId,
          ceiling: this.ceiling,
          retryAfterMs: outcome.retryAfterMs,
          generation: outcome.permit,
        }),
        this.timeouts.reportMs,
        `rate governor: no answer to a 429 report within ${this.timeouts.reportMs} ms`,
      );
    } catch (err) {
      this.fallBack(err);
    }
  }

  private fallBack(err: unknown): void {
    this.downUntil = Date.now() + FALLBACK_MS;
    this.batches = [];
    if (this.reported) return;
    this.reported = true;
    try {
      this.onFallback(err);
    } catch {
      // Reporting is best effort: it never stops the call.
    }
  }
}
