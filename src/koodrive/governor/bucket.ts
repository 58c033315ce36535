/**
 * The rate governor's logic, without I/O (the Durable Object in durable.ts holds one and drives it with the
 * clock): a token bucket whose rate adapts to KooDrive's 429s under a ceiling, and a queue that decides
 * which waiting run gets the next permit. KooDrive publishes no rate limits [koodrive-api.md], so the
 * governor learns the tenant's limit from its 429s and Retry-After, and remembers it (durable.ts keeps it).
 *
 * How the rate moves (issue 12; each rule has a known-sequence test in test/unit/governor.test.ts):
 * - **Slow start.** A governor that knows no limit starts at min(ceiling, START_RPS) and climbs by
 *   SLOW_START_STEP per success toward the ceiling, rather than starting at a higher ceiling and paying for
 *   the discovery with a storm of 429s.
 * - **Cuts.** A 429 of a call permitted at the current rate pauses everyone until Retry-After, records that
 *   rate as the learned limit and cuts the rate by DECREASE_FACTOR. A 429 of a call permitted before the
 *   last cut (its `generation` is older) pauses but does not cut again: it says nothing about the rate in
 *   force since, and cutting for it too would learn a limit far below the real one.
 * - **Probing.** Successes raise the rate additively; within PROBE_BAND of the learned limit 10 times more
 *   slowly, so the rate sits just under the limit instead of crossing it every few seconds. A rate that
 *   gets PROBE_BAND above the learned limit without a 429 shows the limit was stale: it is forgotten.
 *
 * Which waiting run gets the next permit: a short run (fewer than SHORT_RUN_PERMITS so far) before a long
 * one, short runs first come first served (so small leavers finish one after another, not all together
 * at the end as under an even split), long runs the one served least. Background callers (a run's
 * evidence read of KooDrive's audit log, after its result) only when no run waits. The bounds: a caller
 * that has waited LONG_RUN_MAX_WAIT_MS (long), SHORT_RUN_MAX_WAIT_MS (short) or BACKGROUND_MAX_WAIT_MS
 * (background) for a permit goes before any that has waited less.
 */

/** The default ceiling, requests per second per KooDrive app (`KOODRIVE_MAX_RPS`; issue 12). */
export const DEFAULT_MAX_RPS = 20;
/**
 * Where a governor that knows no limit starts: the default ceiling, the rate this project assumes KooDrive
 * takes when nobody has said otherwise. A higher KOODRIVE_MAX_RPS is climbed to (slow start), not assumed.
 */
export const START_RPS = DEFAULT_MAX_RPS;
/**
 * Requests/s added per success during slow start (before any 429): a single run making ~26 calls/s reaches
 * its own pace from 20/s within about 12 calls (the bench's scale phase), while a layoff's first 429 comes
 * near the limit rather than at a ceiling 2.5x above it.
 */
export const SLOW_START_STEP = 0.2;
/**
 * A 429 multiplies the rate by this. 0.75 rather than TCP's 0.5: the rate climbs back additively, and a deep
 * cut against a limit we sit just under would waste quota for as long as the climb takes (the layoff
 * bench's target is wall time <= 1.15x the quota bound). Slow start begins at the default and climbs
 * gently, so the first 429 comes near the limit too (the layoff bench: at about 22/s against 20); a limit
 * far lower costs a few more cuts, each on fresh evidence (generations).
 */
export const DECREASE_FACTOR = 0.75;
/** The rate never falls below this (requests per second): a run always makes some progress. */
export const MIN_RATE = 0.5;
/**
 * Each success adds ADDITIVE_STEP / rate requests/s: about +0.5 request/s per second at full use (TCP's
 * congestion avoidance, at half its step).
 */
export const ADDITIVE_STEP = 0.5;
/** The band around the learned limit (a fraction of it, each side) in which the rate probes slowly. */
export const PROBE_BAND = 0.1;
/**
 * The additive step is multiplied by this within PROBE_BAND of the learned limit: +0.05 request/s per
 * second at full use, so from 90% of the limit a crossing takes tens of seconds, not two (each crossing
 * costs a 429 and a Retry-After pause for everyone; the layoff bench's target is 429s <= 2% of calls).
 */
export const PROBE_SLOWDOWN = 0.1;
/**
 * 429s within this long of a cut do not cut again, whatever their generation (a caller that does not say
 * which rate its permit was granted at).
 */
export const CUT_COOLDOWN_MS = 1_000;
/** How long a 429 without a usable Retry-After pauses everyone. */
export const DEFAULT_PAUSE_MS = 1_000;
/** The bucket holds at most this many seconds of the current rate (the largest burst after idle). */
export const BURST_SECONDS = 0.5;
/** Permits one lease carries at most: a run pays one governor round trip per this many calls at most. */
export const LEASE_MAX = 10;
/**
 * A run that has had fewer permits than this is a short run: short runs go before the others, first come
 * first served. 10 covers a leaver with up to ~400 shares (the user check, 4 list pages, 4 cancel batches,
 * a verify page) and a few 429 retries, so the layoff's 10-50-share leavers finish one after another instead
 * of all together at the end; a large run gets at most this many permits ahead of runs that came after it.
 */
export const SHORT_RUN_PERMITS = 10;
/**
 * The starvation bound: a run past SHORT_RUN_PERMITS that has waited this long for its next permit goes
 * first. Short runs then take at most the rest of the rate: a large leaver always gets a permit at least
 * this often, however many small ones arrive (a step times out after 10 minutes, workflow.ts).
 */
export const LONG_RUN_MAX_WAIT_MS = 10_000;
/**
 * The same bound for short runs, which otherwise wait first come first served behind the short runs that
 * came before them: a layoff of thousands started at once (the local Workflows engine ignores
 * `concurrency.limit`) must not keep a run's call waiting near a step's 10-minute timeout (workflow.ts).
 */
export const SHORT_RUN_MAX_WAIT_MS = 120_000;
/**
 * The same bound for background callers: a run's evidence read waits while runs revoke, but not past its
 * step's 5-minute timeout (account-steps.ts EVIDENCE_STEP), even in a layoff that keeps the tenant busy.
 */
export const BACKGROUND_MAX_WAIT_MS = 60_000;
/** Records of runs not waiting are pruned once there are more than this many. */
const RUNS_KEPT = 1_000;
/** How many 429 moments the state keeps for display. */
export const RECENT_429_KEPT = 20;

export interface Ticket {
  id: number;
  runId: string;
  /** Permits asked for (1 to LEASE_MAX). */
  want: number;
  got: number;
  /** Served only when no run waits (within BACKGROUND_MAX_WAIT_MS): work that can wait, like evidence. */
  background?: boolean | undefined;
}

export interface Grant {
  id: number;
  runId: string;
  granted: number;
  /** Cuts so far when granted: a 429 of one of these permits reports it (`on429`). */
  generation: number;
}

export interface GovernorSnapshot {
  /** Requests per second the governor allows now. */
  rate: number;
  ceiling: number;
  /** The rate at the latest 429 that cut the rate (the tenant's limit as learned), or null. */
  learnedLimit: number | null;
  /** Epoch ms until which every caller waits (a Retry-After); 0 when not paused. */
  pausedUntil: number;
  /** Runs with a request waiting for permits, how many permits each waits for, and whether in background. */
  waiting: Array<{ runId: string; permits: number; background: boolean }>;
  /** Epoch ms of the latest 429s reported (newest last), at most RECENT_429_KEPT. */
  recent429s: number[];
  /** 429s reported since the governor (this Durable Object instance) started. */
  total429s: number;
  /** Permits granted and successes reported since it started. */
  granted: number;
  successes: number;
}

interface RunRecord {
  /** Order of first appearance: short runs are served first come first served. */
  arrival: number;
  /** Permits the run has had. */
  served: number;
  /** Since when the run has waited without a permit (while it has tickets queued). */
  waitingSince: number;
  /** A background caller (its first ticket said so). */
  background: boolean;
  /**
   * Its only ticket was dropped without a permit (durable.ts answers 0 after MAX_HOLD_MS): the caller asks
   * again at once (permits.ts `acquire`) and has been waiting all along, so its wait keeps counting toward its
   * bound (BACKGROUND_MAX_WAIT_MS and SHORT_RUN_MAX_WAIT_MS are longer than the hold).
   */
  heldOut?: boolean;
}

export class GovernorCore {
  private rateNow: number;
  private ceilingNow: number;
  private tokens: number;
  private refilledAt: number;
  private pausedUntil = 0;
  private lastCutAt = Number.NEGATIVE_INFINITY;
  private limit: number | undefined;
  /** Before the first cut of a governor that knew no limit. */
  private slowStart: boolean;
  private gen = 0;
  private readonly recent: number[] = [];
  private total429 = 0;
  private grantedTotal = 0;
  private successTotal = 0;
  /** Waiting tickets per run. */
  private readonly queues = new Map<string, Ticket[]>();
  private readonly runs = new Map<string, RunRecord>();
  private arrivals = 0;

  /** `learnedLimit`: a limit learned earlier (durable.ts keeps it): start just under it, probing slowly. */
  constructor(ceiling: number, now: number, learnedLimit?: number) {
    this.ceilingNow = Math.max(MIN_RATE, ceiling);
    this.limit = learnedLimit !== undefined && learnedLimit >= MIN_RATE ? learnedLimit : undefined;
    this.slowStart = this.limit === undefined;
    this.rateNow = this.startRate();
    this.tokens = this.capacity();
    this.refilledAt = now;
  }

  private startRate(): number {
    const start = this.limit === undefined ? START_RPS : this.limit * (1 - PROBE_BAND);
    return Math.max(MIN_RATE, Math.min(this.ceilingNow, start));
  }

  get rate(): number {
    return this.rateNow;
  }

  /** The tenant's limit as learned from the latest cut (undefined: none, or forgotten). */
  get learnedLimit(): number | undefined {
    return this.limit;
  }

  /** Cuts so far: permits granted now carry it. */
  get generation(): number {
    return this.gen;
  }

  /** The ceiling as configured now; a lower one caps the rate at once, a higher one is climbed to. */
  setCeiling(ceiling: number): void {
    this.ceilingNow = Math.max(MIN_RATE, ceiling);
    this.rateNow = Math.min(this.rateNow, this.ceilingNow);
  }

  /** Forgets the learned limit (an operator's reset): slow start again from START_RPS. */
  forget(): void {
    this.limit = undefined;
    this.slowStart = true;
    this.gen++; // 429s of permits granted before the reset do not cut the fresh start
    this.rateNow = this.startRate();
    this.tokens = Math.min(this.tokens, this.capacity());
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

  /** `n` calls succeeded: the rate climbs toward the ceiling (see the rules at the top). */
  onSuccess(n: number): void {
    this.successTotal += n;
    for (let i = 0; i < n && this.rateNow < this.ceilingNow; i++) {
      if (this.slowStart) {
        this.rateNow = Math.min(this.ceilingNow, this.rateNow + SLOW_START_STEP);
        continue;
      }
      const probing = this.limit !== undefined && this.rateNow >= this.limit * (1 - PROBE_BAND);
      const step = (ADDITIVE_STEP * (probing ? PROBE_SLOWDOWN : 1)) / this.rateNow;
      this.rateNow = Math.min(this.ceilingNow, this.rateNow + step);
      // KooDrive took a rate well past the learned limit: the limit was stale (it was raised).
      if (this.limit !== undefined && this.rateNow > this.limit * (1 + PROBE_BAND)) this.limit = undefined;
    }
  }

  /**
   * KooDrive answered 429 to a call whose permit was granted in `generation` (undefined: not known): the
   * bucket is emptied and everyone pauses until the Retry-After moment (DEFAULT_PAUSE_MS without one); if
   * the permit was granted at the current rate, the rate is learned as the limit and cut. Returns whether
   * it cut (the learned limit changed).
   */
  on429(now: number, retryAfterMs?: number, generation?: number): boolean {
    this.refill(now);
    this.total429++;
    this.recent.push(now);
    if (this.recent.length > RECENT_429_KEPT) this.recent.shift();
    this.tokens = 0;
    this.pausedUntil = Math.max(this.pausedUntil, now + (retryAfterMs ?? DEFAULT_PAUSE_MS));
    const current = generation === undefined || generation >= this.gen;
    if (!current || now - this.lastCutAt < CUT_COOLDOWN_MS) return false;
    this.limit = this.rateNow;
    this.rateNow = Math.max(MIN_RATE, this.rateNow * DECREASE_FACTOR);
    this.slowStart = false;
    this.lastCutAt = now;
    this.gen++;
    return true;
  }

  /** Queues a request for permits; `dispatch` grants it. */
  enqueue(ticket: Omit<Ticket, "got">, now: number): void {
    const t: Ticket = { ...ticket, want: Math.max(1, Math.min(LEASE_MAX, ticket.want)), got: 0 };
    const queue = this.queues.get(t.runId);
    if (queue) {
      queue.push(t);
      return;
    }
    this.queues.set(t.runId, [t]);
    const run = this.runs.get(t.runId);
    if (run) {
      if (!run.heldOut) run.waitingSince = now;
      run.heldOut = false;
    } else
      this.runs.set(t.runId, {
        arrival: this.arrivals++,
        served: 0,
        waitingSince: now,
        background: t.background === true,
      });
  }

  /** Drops a waiting ticket (its caller gave up); returns whether it was waiting. */
  cancel(id: number): boolean {
    for (const [runId, queue] of this.queues) {
      const i = queue.findIndex((t) => t.id === id);
      if (i < 0) continue;
      const [dropped] = queue.splice(i, 1);
      if (queue.length === 0) {
        this.queues.delete(runId);
        const run = this.runs.get(runId);
        if (run && dropped?.got === 0) run.heldOut = true;
      }
      return true;
    }
    return false;
  }

  /**
   * The waiting run that gets the next permit: a run that has waited its bound (LONG_RUN_MAX_WAIT_MS,
   * SHORT_RUN_MAX_WAIT_MS for a short run, BACKGROUND_MAX_WAIT_MS for a background caller; the longest
   * waiting first), else the short run that came first, else the long run served least (then the earliest),
   * else the background caller that came first.
   */
  private nextRun(now: number): string {
    let aged: string | undefined;
    let agedSince = Number.POSITIVE_INFINITY;
    let short: string | undefined;
    let shortArrival = Number.POSITIVE_INFINITY;
    let long: string | undefined;
    let longKey: [number, number] = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
    let background: string | undefined;
    let backgroundArrival = Number.POSITIVE_INFINITY;
    for (const runId of this.queues.keys()) {
      const r = this.runs.get(runId) as RunRecord;
      const isShort = r.served < SHORT_RUN_PERMITS;
      const bound = r.background
        ? BACKGROUND_MAX_WAIT_MS
        : isShort
          ? SHORT_RUN_MAX_WAIT_MS
          : LONG_RUN_MAX_WAIT_MS;
      if (now - r.waitingSince >= bound && r.waitingSince < agedSince)
        [aged, agedSince] = [runId, r.waitingSince];
      if (r.background) {
        if (r.arrival < backgroundArrival) [background, backgroundArrival] = [runId, r.arrival];
        continue;
      }
      if (isShort) {
        if (r.arrival < shortArrival) [short, shortArrival] = [runId, r.arrival];
        continue;
      }
      if (r.served < longKey[0] || (r.served === longKey[0] && r.arrival < longKey[1]))
        [long, longKey] = [runId, [r.served, r.arrival]];
    }
    return (aged ?? short ?? long ?? background) as string;
  }

  /** Forgets the oldest records of runs not waiting once there are too many (a returning run is new). */
  private pruneRuns(): void {
    if (this.runs.size <= RUNS_KEPT) return;
    for (const runId of this.runs.keys()) {
      if (this.runs.size <= RUNS_KEPT / 2) break;
      if (!this.queues.has(runId)) this.runs.delete(runId);
    }
  }

  /**
   * Hands out the tokens there are, one at a time, to the run `nextRun` picks (the head ticket of each). A
   * ticket is answered when it has what it asked for, the lease cap, or when tokens run out with some for
   * it (a partial lease). Returns the grants and when to call again (undefined when nobody waits).
   */
  dispatch(now: number): { grants: Grant[]; wakeAt: number | undefined } {
    this.refill(now);
    const grants: Grant[] = [];
    if (now < this.pausedUntil) return { grants, wakeAt: this.queues.size ? this.pausedUntil : undefined };
    const cap = Math.max(1, Math.min(LEASE_MAX, Math.floor(this.rateNow * BURST_SECONDS)));
    const started: Ticket[] = [];
    const answer = (t: Ticket) => {
      grants.push({ id: t.id, runId: t.runId, granted: t.got, generation: this.gen });
      this.grantedTotal += t.got;
    };
    while (this.tokens >= 1 && this.queues.size > 0) {
      const runId = this.nextRun(now);
      const queue = this.queues.get(runId) as Ticket[];
      const run = this.runs.get(runId) as RunRecord;
      run.served++;
      run.waitingSince = now;
      const head = queue[0] as Ticket;
      head.got++;
      this.tokens--;
      if (head.got === 1) started.push(head);
      if (head.got >= Math.min(head.want, cap)) {
        queue.shift();
        answer(head);
      }
      if (queue.length === 0) this.queues.delete(runId);
    }
    // Tokens ran out: tickets that got some leave with what they got.
    for (const t of started) {
      if (t.got >= Math.min(t.want, cap)) continue;
      this.cancel(t.id);
      answer(t);
    }
    this.pruneRuns();
    const wakeAt = this.queues.size ? now + Math.ceil(((1 - this.tokens) / this.rateNow) * 1000) : undefined;
    return { grants, wakeAt };
  }

  snapshot(now: number): GovernorSnapshot {
    return {
      rate: Math.round(this.rateNow * 100) / 100,
      ceiling: this.ceilingNow,
      learnedLimit: this.limit === undefined ? null : Math.round(this.limit * 100) / 100,
      pausedUntil: this.pausedUntil > now ? this.pausedUntil : 0,
      waiting: [...this.queues].map(([runId, queue]) => ({
        runId,
        permits: queue.reduce((n, t) => n + t.want - t.got, 0),
        background: this.runs.get(runId)?.background === true,
      })),
      recent429s: [...this.recent],
      total429s: this.total429,
      granted: this.grantedTotal,
      successes: this.successTotal,
    };
  }
}
