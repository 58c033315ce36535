import type { CallName, PermitHook, PermitOutcome } from "../client";
import { LEASE_MAX } from "./bucket";
import type { Lease, LeaseRequest } from "./durable";

/**
 * The run's side of the rate governor: a KooDrive client's permit hook (client.ts `PermitHook`). Permits are
 * leased in small batches (one governor round trip per up to LEASE_MAX calls), successes are reported in
 * aggregate with the next lease, 429s at once. A governor that errors or cannot be reached never stops the
 * run: the client goes on with its own backoff for FALLBACK_MS, then asks the governor again; the first such
 * failure of a run is reported once through `onFallback` (logged and audited by the caller).
 */

/** How long a run goes without the governor after it failed, before asking it again. */
export const FALLBACK_MS = 30_000;

/** What the hook needs of the governor (its Durable Object stub). */
export interface GovernorLike {
  lease(req: LeaseRequest): Promise<Lease>;
  report429(req: { runId: string; ceiling: number; retryAfterMs?: number | undefined }): Promise<void> | void;
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
  private left = 0;
  private expiresAt = 0;
  private leasing: Promise<void> | undefined;
  private successes = 0;
  private downUntil = 0;
  private reported = false;

  constructor(
    private readonly governor: () => GovernorLike,
    private readonly runId: string,
    private readonly ceiling: number,
    private readonly onFallback: (err: unknown) => void,
  ) {}

  async acquire(_call: CallName): Promise<void> {
    this.waiting++;
    try {
      for (;;) {
        if (Date.now() < this.downUntil) return; // the governor failed: the client's own backoff only
        if (this.left > 0 && Date.now() < this.expiresAt) {
          this.left--;
          // Half the lease used: the next one is asked for now, so the run's calls do not wait for it.
          if (this.left <= this.leased / 2 && this.leased > 1) this.startLease();
          return;
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
    const successes = this.successes;
    this.successes = 0;
    if (this.leased > 0) {
      // Asked for before the last lease expired: it was being used up (or dropped on a 429), so ask for more.
      const unused = Date.now() < this.expiresAt ? 0 : this.left;
      this.want = unused === 0 ? Math.min(LEASE_MAX, this.want * 2) : Math.max(1, this.leased - unused);
    }
    try {
      const lease = await this.governor().lease({
        runId: this.runId,
        want: Math.min(LEASE_MAX, Math.max(this.want, this.waiting)),
        ceiling: this.ceiling,
        successes,
      });
      // Permits still good from the last lease stay usable alongside the new ones.
      this.left = (Date.now() < this.expiresAt ? this.left : 0) + lease.granted;
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
    this.left = 0;
    try {
      await this.governor().report429({
        runId: this.runId,
        ceiling: this.ceiling,
        retryAfterMs: outcome.retryAfterMs,
      });
    } catch (err) {
      this.fallBack(err);
    }
  }

  private fallBack(err: unknown): void {
    this.downUntil = Date.now() + FALLBACK_MS;
    this.left = 0;
    if (this.reported) return;
    this.reported = true;
    try {
      this.onFallback(err);
    } catch {
      // Reporting is best effort: it never stops the call.
    }
  }
}
