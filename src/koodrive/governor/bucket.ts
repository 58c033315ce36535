/**
 * The rate governor's logic, without I/O (the Durable Object in durable.ts holds one and drives it with the
 * clock): a token bucket whose rate adapts to KooDrive's 429s (AIMD) under a ceiling, and a fair queue that
 * hands permits round-robin to the runs that are waiting. KooDrive publishes no rate limits
 * [koodrive-api.md], so the governor learns the tenant's limit from its 429s and Retry-After.
 */

/** The default ceiling, requests per second per KooDrive app (`KOODRIVE_MAX_RPS`; issue 12). */
export const DEFAULT_MAX_RPS = 20;
/**
 * A 429 multiplies the rate by this. 0.75 rather than TCP's 0.5: the rate climbs back additively, and a deep
 * cut against a limit we sit just under would waste a quarter of the quota each cycle (the layoff bench's
 * target is wall time <= 1.15x the quota bound).
 */
export const DECREASE_FACTOR = 0.75;
/** The rate never falls below this (requests per second): a run always makes some progress. */
export const MIN_RATE = 0.5;
/**
 * Each success adds ADDITIVE_STEP / rate requests/s: about +0.5 request/s per second at full use (TCP's
 * congestion avoidance, at half its step). Each climb past the tenant's limit costs a 429; half of TCP's step
 * halves how often that happens (the layoff bench's target is 429s <= 2% of calls).
 */
export const ADDITIVE_STEP = 0.5;
/**
 * 429s within this long of a cut are the same burst (calls already sent when the first one came back): one
 * burst cuts the rate once, not once per call in flight.
 */
export const CUT_COOLDOWN_MS = 1_000;
/** How long a 429 without a usable Retry-After pauses everyone. */
export const DEFAULT_PAUSE_MS = 1_000;
/** The bucket holds at most this many seconds of the current rate (the largest burst after idle). */
export const BURST_SECONDS = 0.5;
/** Permits one lease carries at most: a run pays one governor round trip per this many calls at most. */
export const LEASE_MAX = 10;
/**
 * Permits of head start a run gets when it starts waiting, over the runs served least so far: enough for a
 * small leaver's whole run (list, cancel, verify, a few pages), so 10-share leavers are not paced at 1/N of
 * the rate behind N large ones; a large run loses at most this many permits to each newcomer.
 */
export const NEWCOMER_CREDIT = 20;
/** Service records of runs not waiting are pruned once there are more than this many. */
const SERVED_KEPT = 1_000;
/** How many 429 moments the state keeps for display. */
export const RECENT_429_KEPT = 20;

export interface Ticket {
  id: number;
  runId: string;
  /** Permits asked for (1 to LEASE_MAX). */
  want: number;
  got: number;
}

export interface Grant {
  id: number;
  runId: string;
  granted: number;
}

export interface GovernorSnapshot {
  /** Requests per second the governor allows now. */
  rate: number;
  ceiling: number;
  /** Epoch ms until which every caller waits (a Retry-After); 0 when not paused. */
  pausedUntil: number;
  /** Runs with a request waiting for permits, and how many permits each waits for. */
  waiting: Array<{ runId: string; permits: number }>;
  /** Epoch ms of the latest 429s reported (newest last), at most RECENT_429_KEPT. */
  recent429s: number[];
  /** 429s reported since the governor (this Durable Object instance) started. */
  total429s: number;
  /** Permits granted and successes reported since it started. */
  granted: number;
  successes: number;
}

export class GovernorCore {
  private rateNow: number;
  private ceilingNow: number;
  private tokens: number;
  private refilledAt: number;
  private pausedUntil = 0;
  private lastCutAt = Number.NEGATIVE_INFINITY;
  private readonly recent: number[] = [];
  private total429 = 0;
  private grantedTotal = 0;
  private successTotal = 0;
  /** Waiting tickets per run, and the runs in round-robin order (the next to serve first). */
  private readonly queues = new Map<string, Ticket[]>();
  private rotation: string[] = [];
  /**
   * Permits each run has had, on a virtual clock (start-time fair queuing): the waiting run with the least
   * goes first, ties round-robin. A run that starts waiting is put at least at `virtualTime -
   * NEWCOMER_CREDIT`, so it cannot claim credit for time it did not wait, beyond the newcomer's head start.
   */
  private readonly served = new Map<string, number>();
  private virtualTime = 0;

  constructor(ceiling: number, now: number) {
    this.ceilingNow = Math.max(MIN_RATE, ceiling);
    this.rateNow = this.ceilingNow;
    this.tokens = this.capacity();
    this.refilledAt = now;
  }

  get rate(): number {
    return this.rateNow;
  }

  /**
   * The ceiling as configured now; a lower one caps the rate at once. A higher one is taken at once while no
   * 429 has taught the governor a lower limit, else climbed to by successes.
   */
  setCeiling(ceiling: number): void {
    this.ceilingNow = Math.max(MIN_RATE, ceiling);
    this.rateNow = this.total429 === 0 ? this.ceilingNow : Math.min(this.rateNow, this.ceilingNow);
  }

  private capacity(): number {
    return Math.max(1, this.rateNow * BURST_SECONDS);
  }

  /** Tokens accrue at the current rate, never during a pause, up to the bucket's capacity. */
  private refill(now: number): void {
    const from = Math.max(this.refilledAt, this.pausedUntil);
    if (now > from)
      this.tokens = Math.min(this.capacity(), this.tokens + ((now - from) / 1000) * this.rateNow);
    this.refilledAt = Math.max(this.refilledAt, now);
  }

  /** `n` calls succeeded: the rate climbs additively toward the ceiling. */
  onSuccess(n: number): void {
    this.successTotal += n;
    for (let i = 0; i < n && this.rateNow < this.ceilingNow; i++)
      this.rateNow = Math.min(this.ceilingNow, this.rateNow + ADDITIVE_STEP / this.rateNow);
  }

  /**
   * KooDrive answered 429: the rate is cut (once per burst), the bucket emptied, and everyone pauses until
   * the Retry-After moment (DEFAULT_PAUSE_MS without one).
   */
  on429(now: number, retryAfterMs?: number): void {
    this.refill(now);
    this.total429++;
    this.recent.push(now);
    if (this.recent.length > RECENT_429_KEPT) this.recent.shift();
    if (now - this.lastCutAt >= CUT_COOLDOWN_MS) {
      this.rateNow = Math.max(MIN_RATE, this.rateNow * DECREASE_FACTOR);
      this.lastCutAt = now;
    }
    this.tokens = 0;
    this.pausedUntil = Math.max(this.pausedUntil, now + (retryAfterMs ?? DEFAULT_PAUSE_MS));
  }

  /** Queues a request for permits; `dispatch` grants it. */
  enqueue(ticket: Omit<Ticket, "got">): void {
    const t: Ticket = { ...ticket, want: Math.max(1, Math.min(LEASE_MAX, ticket.want)), got: 0 };
    const queue = this.queues.get(t.runId);
    if (queue) queue.push(t);
    else {
      this.queues.set(t.runId, [t]);
      this.rotation.push(t.runId);
      const floor = this.virtualTime - NEWCOMER_CREDIT;
      this.served.set(t.runId, Math.max(this.served.get(t.runId) ?? floor, floor));
    }
  }

  /** Drops a waiting ticket (its caller gave up); returns whether it was waiting. */
  cancel(id: number): boolean {
    for (const [runId, queue] of this.queues) {
      const i = queue.findIndex((t) => t.id === id);
      if (i < 0) continue;
      queue.splice(i, 1);
      if (queue.length === 0) this.dropRun(runId);
      return true;
    }
    return false;
  }

  private dropRun(runId: string): void {
    this.queues.delete(runId);
    this.rotation = this.rotation.filter((r) => r !== runId);
  }

  /** The waiting run served least (the first of equals in rotation order), taken out of the rotation. */
  private nextRun(): string {
    let best = 0;
    let least = Number.POSITIVE_INFINITY;
    for (const [i, runId] of this.rotation.entries()) {
      const served = this.served.get(runId) ?? 0;
      if (served < least) {
        least = served;
        best = i;
      }
    }
    return this.rotation.splice(best, 1)[0] as string;
  }

  /** Forgets the service of runs not waiting that a newcomer's floor has passed anyway. */
  private pruneServed(): void {
    if (this.served.size <= SERVED_KEPT) return;
    const floor = this.virtualTime - NEWCOMER_CREDIT;
    for (const [runId, served] of this.served)
      if (!this.queues.has(runId) && served <= floor) this.served.delete(runId);
  }

  /**
   * Hands out the tokens there are, one at a time, to the waiting run served least (round-robin between
   * equals; the head ticket of each): a run with many calls waiting gets no more turns than one with a
   * single call, and a run that just started waiting goes first for NEWCOMER_CREDIT permits. A ticket is
   * answered when it has what it asked for, the lease cap, or when tokens run out with some for it (a
   * partial lease). Returns the grants and when to call again (undefined when nobody waits).
   */
  dispatch(now: number): { grants: Grant[]; wakeAt: number | undefined } {
    this.refill(now);
    const grants: Grant[] = [];
    if (now < this.pausedUntil)
      return { grants, wakeAt: this.rotation.length ? this.pausedUntil : undefined };
    const cap = Math.max(1, Math.min(LEASE_MAX, Math.floor(this.rateNow * BURST_SECONDS)));
    const started: Ticket[] = [];
    const answer = (t: Ticket) => {
      grants.push({ id: t.id, runId: t.runId, granted: t.got });
      this.grantedTotal += t.got;
    };
    while (this.tokens >= 1 && this.rotation.length > 0) {
      const runId = this.nextRun();
      const queue = this.queues.get(runId) as Ticket[];
      const served = this.served.get(runId) ?? 0;
      this.virtualTime = Math.max(this.virtualTime, served);
      this.served.set(runId, served + 1);
      const head = queue[0] as Ticket;
      head.got++;
      this.tokens--;
      if (head.got === 1) started.push(head);
      if (head.got >= Math.min(head.want, cap)) {
        queue.shift();
        answer(head);
      }
      if (queue.length > 0) this.rotation.push(runId);
      else this.queues.delete(runId);
    }
    // Tokens ran out: tickets that got some leave with what they got (their runs go to the back of the line).
    for (const t of started) {
      if (t.got >= Math.min(t.want, cap)) continue;
      this.cancel(t.id);
      answer(t);
    }
    this.pruneServed();
    const wakeAt = this.rotation.length
      ? now + Math.ceil(((1 - this.tokens) / this.rateNow) * 1000)
      : undefined;
    return { grants, wakeAt };
  }

  snapshot(now: number): GovernorSnapshot {
    return {
      rate: Math.round(this.rateNow * 100) / 100,
      ceiling: this.ceilingNow,
      pausedUntil: this.pausedUntil > now ? this.pausedUntil : 0,
      waiting: this.rotation.map((runId) => ({
        runId,
        permits: (this.queues.get(runId) ?? []).reduce((n, t) => n + t.want - t.got, 0),
      })),
      recent429s: [...this.recent],
      total429s: this.total429,
      granted: this.grantedTotal,
      successes: this.successTotal,
    };
  }
}
