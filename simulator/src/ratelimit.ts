/**
 * A tenant-wide rate limit: one token bucket across every KooDrive API call of the tenant, so the service
 * can be run against a limit it is not told. KooDrive publishes no limit [api.md "Endpoints and
 * transport": "No rate limit is documented"; "a Huawei API gateway throttles with HTTP 429 (and may send
 * `Retry-After`)"], so the rate is whatever the control plane sets (`PUT /__sim/limit`); off by default.
 *
 * The config lives in `meta` (survives eviction, cleared by `/__sim/reset`); the bucket's level lives in
 * memory: this Durable Object is the only caller, and a bucket that refills to full after an eviction is
 * what a gateway's would do after an idle spell.
 */
import type { Store } from "./store";

export interface LimitConfig {
  /** Sustained requests per second. */
  rps: number;
  /** Bucket size: calls that may go at once after an idle spell. */
  burst: number;
}

/** Upper bounds on the control plane's input (a limit higher than this is no limit for a simulator). */
const MAX_RPS = 10_000;
const MAX_BURST = 100_000;
/**
 * Retry-After is sent in whole seconds (HTTP delta-seconds, RFC 9110 §10.2.3), at least 1: a gateway does
 * not send fractions, so a caller told "1" after a 50 ms wait learns the limit only roughly, as it would.
 */
const MIN_RETRY_AFTER_S = 1;

/** Validates a `PUT /__sim/limit` body: `{rps, burst?}` turns the limit on, `{rps: null}` off. */
export function parseLimit(body: unknown): LimitConfig | null | string {
  if (typeof body !== "object" || body === null) return "body must be a JSON object";
  const { rps, burst } = body as Record<string, unknown>;
  if (rps === null) return null;
  if (typeof rps !== "number" || !Number.isFinite(rps) || rps <= 0 || rps > MAX_RPS)
    return `rps must be a number > 0 and <= ${MAX_RPS}, or null to turn the limit off`;
  // Default burst: one second's worth, the usual shape of a gateway's per-second quota.
  const size = burst ?? Math.max(1, Math.ceil(rps));
  if (typeof size !== "number" || !Number.isInteger(size) || size < 1 || size > MAX_BURST)
    return `burst must be an integer within 1..${MAX_BURST}`;
  return { rps, burst: size };
}

/** The answer to one call: pass, or throttle with the whole seconds until a token is there. */
export type LimitDecision = { ok: true } | { ok: false; retryAfter: number };

export class TenantLimit {
  private tokens = 0;
  private refilledAt = 0;
  private cached: LimitConfig | null | undefined;
  private cachedAtWipe = -1;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  config(): LimitConfig | null {
    if (this.cached === undefined || this.cachedAtWipe !== this.store.wipes) {
      this.cached = this.store.getMeta<LimitConfig>("limit") ?? null;
      this.cachedAtWipe = this.store.wipes;
      this.fill();
    }
    return this.cached;
  }

  /** Sets (or, with null, removes) the limit; the bucket starts full. */
  replace(config: LimitConfig | null): void {
    if (config) this.store.setMeta("limit", config);
    else this.store.deleteMeta("limit");
    this.cached = config;
    this.cachedAtWipe = this.store.wipes;
    this.fill();
  }

  private fill(): void {
    this.tokens = this.cached?.burst ?? 0;
    this.refilledAt = this.now();
  }

  /**
   * Takes one token for a call, or says how long to wait. A refused call takes no token (a gateway counts
   * what it lets through), so a client that retries too early is refused again, not punished further.
   * Synchronous: the Durable Object runs it without interleaving, so concurrent calls never over-draw.
   */
  take(): LimitDecision {
    const config = this.config();
    if (!config) return { ok: true };
    const now = this.now();
    this.tokens = Math.min(config.burst, this.tokens + ((now - this.refilledAt) / 1000) * config.rps);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    const waitS = (1 - this.tokens) / config.rps;
    return { ok: false, retryAfter: Math.max(MIN_RETRY_AFTER_S, Math.ceil(waitS)) };
  }
}
