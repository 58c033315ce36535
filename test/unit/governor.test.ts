import { describe, expect, it } from "vitest";
import {
  ADDITIVE_STEP,
  BACKGROUND_MAX_WAIT_MS,
  CUT_COOLDOWN_MS,
  DECREASE_FACTOR,
  DEFAULT_PAUSE_MS,
  GovernorCore,
  LEASE_MAX,
  LONG_RUN_MAX_WAIT_MS,
  MIN_RATE,
  PROBE_BAND,
  PROBE_SLOWDOWN,
  SHORT_RUN_MAX_WAIT_MS,
  SHORT_RUN_PERMITS,
  SLOW_START_STEP,
  START_RPS,
} from "../../src/koodrive/governor/bucket";

/** The governor's bucket, adaptation and order between runs as pure logic, on a clock the test moves. */

const T0 = 1_000_000;

/** Drains whatever is granted at `now`, returning the permits per run. */
function grantsAt(core: GovernorCore, now: number) {
  const { grants, wakeAt } = core.dispatch(now);
  return {
    grants,
    wakeAt,
    byRun: grants.reduce<Record<string, number>>((m, g) => {
      m[g.runId] = (m[g.runId] ?? 0) + g.granted;
      return m;
    }, {}),
  };
}

describe("rate governor: slow start and cuts", () => {
  it("knowing no limit, starts at START_RPS under a higher ceiling, and at a lower ceiling", () => {
    expect(START_RPS).toBe(20);
    expect(new GovernorCore(50, T0).rate).toBe(START_RPS);
    expect(new GovernorCore(5, T0).rate).toBe(5);
    expect(new GovernorCore(50, T0).learnedLimit).toBeUndefined();
  });

  it("slow start: each success adds SLOW_START_STEP until the ceiling", () => {
    const core = new GovernorCore(50, T0);
    core.onSuccess(10);
    expect(core.rate).toBeCloseTo(START_RPS + 10 * SLOW_START_STEP, 10);
    core.onSuccess(1_000);
    expect(core.rate).toBe(50);
  });

  it("a learned limit (kept from an earlier 429) starts the governor PROBE_BAND under it", () => {
    const core = new GovernorCore(50, T0, 30);
    expect(core.rate).toBeCloseTo(30 * (1 - PROBE_BAND), 10);
    expect(core.learnedLimit).toBe(30);
    expect(new GovernorCore(20, T0, 30).rate).toBe(20); // never above the ceiling
  });

  it("a 429 cuts the rate by DECREASE_FACTOR and learns the rate it came at as the limit; a second in the same burst does not cut; a later one cuts again", () => {
    const core = new GovernorCore(50, T0);
    core.onSuccess(50); // slow start: 30
    const before = core.rate;
    expect(core.on429(T0, 1000)).toBe(true);
    expect(core.rate).toBeCloseTo(before * DECREASE_FACTOR, 10);
    expect(core.learnedLimit).toBeCloseTo(before, 10);
    expect(core.on429(T0 + CUT_COOLDOWN_MS - 1, 1000)).toBe(false); // a call already in flight
    expect(core.rate).toBeCloseTo(before * DECREASE_FACTOR, 10);
    const second = core.rate;
    expect(core.on429(T0 + CUT_COOLDOWN_MS, 1000)).toBe(true); // a new burst
    expect(core.rate).toBeCloseTo(second * DECREASE_FACTOR, 10);
    expect(core.learnedLimit).toBeCloseTo(second, 10);
    expect(core.snapshot(T0 + CUT_COOLDOWN_MS).total429s).toBe(3);
  });

  it("a 429 of a permit granted before the last cut (an older generation) pauses everyone but does not cut again", () => {
    const core = new GovernorCore(20, T0);
    core.enqueue({ id: 1, runId: "a", want: 5 }, T0);
    const [old] = grantsAt(core, T0).grants;
    expect(old?.generation).toBe(0);
    expect(core.on429(T0 + 10, 1000, 0)).toBe(true); // 20 -> 15
    expect(core.generation).toBe(1);
    // Long after the cooldown, another permit of the same lease comes back 429: sent at the old rate.
    expect(core.on429(T0 + 5_000, 2000, 0)).toBe(false);
    expect(core.rate).toBe(20 * DECREASE_FACTOR);
    expect(core.snapshot(T0 + 5_000).pausedUntil).toBe(T0 + 7_000); // but it still pauses
    // A permit granted after the cut, refused: the cut rate is too high too.
    core.enqueue({ id: 2, runId: "a", want: 1 }, T0 + 7_000);
    const [fresh] = grantsAt(core, T0 + 7_100).grants;
    expect(fresh?.generation).toBe(1);
    expect(core.on429(T0 + 7_200, 1000, 1)).toBe(true);
    expect(core.rate).toBe(20 * DECREASE_FACTOR * DECREASE_FACTOR);
  });

  it("429s again and again never take the rate below MIN_RATE", () => {
    const core = new GovernorCore(20, T0);
    for (let i = 0; i < 50; i++) core.on429(T0 + i * CUT_COOLDOWN_MS, 0);
    expect(core.rate).toBe(MIN_RATE);
  });

  it("below the probe band, successes raise the rate additively (ADDITIVE_STEP / rate each)", () => {
    const core = new GovernorCore(40, T0);
    core.on429(T0, 0); // learned 20, rate 15 (the band starts at 18)
    const cut = core.rate;
    expect(cut).toBe(15);
    core.onSuccess(1);
    expect(core.rate).toBeCloseTo(cut + ADDITIVE_STEP / cut, 10);
    // dr/dn = step / r, so after n successes r ~ sqrt(r0^2 + 2 * step * n): about +step per r successes.
    core.onSuccess(14);
    const expected = Math.sqrt(cut * cut + 2 * ADDITIVE_STEP * 15);
    expect(core.rate).toBeGreaterThan(expected - 0.05);
    expect(core.rate).toBeLessThan(expected + 0.05);
  });

  it("within PROBE_BAND under the learned limit, the step is PROBE_SLOWDOWN of the usual one", () => {
    const core = new GovernorCore(50, T0, 20); // starts at 18, in the band
    const r = core.rate;
    core.onSuccess(1);
    expect(core.rate).toBeCloseTo(r + (ADDITIVE_STEP * PROBE_SLOWDOWN) / r, 10);
    // From 90% of the limit to the limit at full use (r successes a second): about 0.1 * 20 / 0.05 = 40 s.
    let seconds = 0;
    while (core.rate < 20) {
      core.onSuccess(Math.round(core.rate));
      seconds++;
    }
    expect(seconds).toBeGreaterThanOrEqual(35);
    expect(seconds).toBeLessThanOrEqual(45);
  });

  it("a rate PROBE_BAND past the learned limit with no 429 forgets the limit (it was raised), then climbs at the usual step", () => {
    const core = new GovernorCore(50, T0, 20);
    let n = 0;
    while (core.learnedLimit !== undefined && n < 100_000) {
      core.onSuccess(1);
      n++;
    }
    expect(core.learnedLimit).toBeUndefined();
    expect(core.rate).toBeGreaterThan(20 * (1 + PROBE_BAND));
    expect(core.rate).toBeLessThan(20 * (1 + PROBE_BAND) + 0.01);
    const r = core.rate;
    core.onSuccess(1);
    expect(core.rate).toBeCloseTo(r + ADDITIVE_STEP / r, 10); // not slow start: the tenant's 429s are known
  });

  it("a lower ceiling caps the rate at once; a higher one is climbed to", () => {
    const core = new GovernorCore(20, T0);
    core.setCeiling(5);
    expect(core.rate).toBe(5);
    core.setCeiling(1000);
    expect(core.rate).toBe(5); // climbed to, not taken
    core.onSuccess(10);
    expect(core.rate).toBeCloseTo(5 + 10 * SLOW_START_STEP, 10);
    core.on429(T0, 0);
    core.setCeiling(50);
    core.onSuccess(1_000_000);
    expect(core.rate).toBe(50);
  });

  it("forget() drops the learned limit and slow-starts again from START_RPS; older permits' 429s do not cut", () => {
    const core = new GovernorCore(50, T0, 20);
    expect(core.learnedLimit).toBe(20);
    const gen = core.generation;
    core.forget();
    expect(core.learnedLimit).toBeUndefined();
    expect(core.rate).toBe(START_RPS);
    expect(core.on429(T0 + 10_000, 1000, gen)).toBe(false);
    core.onSuccess(5);
    expect(core.rate).toBeCloseTo(START_RPS + 5 * SLOW_START_STEP, 10);
  });
});

describe("rate governor: the bucket and Retry-After", () => {
  it("grants at most the bucket's burst at once, then a permit per 1/rate seconds", () => {
    const core = new GovernorCore(20, T0); // bucket: 0.5 s of 20/s = 10
    core.enqueue({ id: 1, runId: "a", want: LEASE_MAX }, T0);
    core.enqueue({ id: 2, runId: "a", want: LEASE_MAX }, T0);
    const first = grantsAt(core, T0);
    expect(first.byRun).toEqual({ a: 10 });
    expect(first.wakeAt).toBe(T0 + 50); // one permit at 20/s
    expect(grantsAt(core, T0 + 49).grants).toEqual([]);
    expect(grantsAt(core, T0 + 50).byRun).toEqual({ a: 1 }); // partial lease: tokens ran out
    expect(grantsAt(core, T0 + 100).grants).toEqual([]); // nobody waits any more
  });

  it("a 429 pauses every caller until the Retry-After moment, then grants again at the cut rate", () => {
    const core = new GovernorCore(20, T0);
    core.enqueue({ id: 1, runId: "a", want: 10 }, T0);
    expect(grantsAt(core, T0).byRun).toEqual({ a: 10 });
    core.on429(T0 + 10, 2_000);
    core.enqueue({ id: 2, runId: "a", want: 1 }, T0 + 10);
    core.enqueue({ id: 3, runId: "b", want: 1 }, T0 + 10);
    const paused = grantsAt(core, T0 + 1_000);
    expect(paused.grants).toEqual([]);
    expect(paused.wakeAt).toBe(T0 + 2_010);
    expect(core.snapshot(T0 + 1_000).pausedUntil).toBe(T0 + 2_010);
    expect(core.snapshot(T0 + 1_000).waiting.map((w) => w.runId)).toEqual(["a", "b"]);
    // No tokens accrued during the pause: the first permit is due 1/15 s after it ends (20 x 0.75).
    expect(grantsAt(core, T0 + 2_010).grants).toEqual([]);
    const after = grantsAt(core, T0 + 2_010 + 100);
    expect(after.byRun).toEqual({ b: 1 }); // b has had nothing; a had 10 (a long run now)
    expect(core.snapshot(T0 + 3_000).pausedUntil).toBe(0);
  });

  it("a 429 without Retry-After pauses for DEFAULT_PAUSE_MS", () => {
    const core = new GovernorCore(20, T0);
    core.on429(T0);
    expect(core.snapshot(T0).pausedUntil).toBe(T0 + DEFAULT_PAUSE_MS);
  });
});

/** Serves `run` until it is past SHORT_RUN_PERMITS (a long run), one permit per 100 ms. */
function makeLong(core: GovernorCore, run: string, t: number, ids: { next: number }): number {
  let served = 0;
  while (served < SHORT_RUN_PERMITS) {
    core.enqueue({ id: ids.next++, runId: run, want: 1 }, t);
    served += grantsAt(core, t).byRun[run] ?? 0;
    t += 100;
  }
  return t;
}

describe("rate governor: order between runs", () => {
  it("a short run waiting behind a long one with many calls queued is served first", () => {
    const core = new GovernorCore(4, T0); // bucket of 2, leases of at most 2
    const ids = { next: 0 };
    let t = makeLong(core, "big", T0, ids);
    for (let i = 0; i < 20; i++) core.enqueue({ id: ids.next++, runId: "big", want: LEASE_MAX }, t);
    core.enqueue({ id: 100, runId: "small", want: 1 }, t);
    t += 1_000;
    const first = grantsAt(core, t);
    expect(first.grants.find((g) => g.runId === "small")?.id).toBe(100);
    expect(first.byRun).toEqual({ small: 1, big: 1 });
  });

  it("short runs go first come first served: the first to arrive gets all its permits before a later one gets any", () => {
    // Processor sharing (the least-served run first) would give every run its first permit before any
    // its second, so 100 four-call leavers would all finish together at the end.
    const core = new GovernorCore(2, T0); // a bucket of 1: one permit per dispatch, every 500 ms
    let id = 0;
    for (const run of ["a", "b", "c"]) core.enqueue({ id: id++, runId: run, want: 1 }, T0);
    const order: string[] = [];
    let t = T0;
    while (order.length < 12) {
      for (const g of grantsAt(core, t).grants) {
        order.push(g.runId);
        // Each run asks for its next permit as soon as it has used one (4 calls each).
        if (order.filter((r) => r === g.runId).length < 4)
          core.enqueue({ id: id++, runId: g.runId, want: 1 }, t);
      }
      t += 500;
    }
    expect(order).toEqual([..."aaaa", ..."bbbb", ..."cccc"]);
  });

  it("a run gets at most SHORT_RUN_PERMITS ahead of the long runs, then takes turns with them", () => {
    const core = new GovernorCore(10, T0);
    const ids = { next: 0 };
    let t = makeLong(core, "big", T0, ids);
    for (let i = 0; i < 300; i++) core.enqueue({ id: ids.next++, runId: "big", want: 1 }, t);
    for (let i = 0; i < 100; i++) core.enqueue({ id: ids.next++, runId: "newer", want: 1 }, t);
    const order: string[] = [];
    while (order.length < SHORT_RUN_PERMITS * 3) {
      for (const g of core.dispatch(t).grants) order.push(g.runId);
      t += 100;
    }
    expect(order.slice(0, SHORT_RUN_PERMITS)).toEqual(Array(SHORT_RUN_PERMITS).fill("newer"));
    // Then both are long runs: the one served least goes first, so they alternate.
    const after = order.slice(SHORT_RUN_PERMITS * 2);
    expect(Math.abs(after.filter((r) => r === "newer").length - SHORT_RUN_PERMITS / 2)).toBeLessThanOrEqual(
      1,
    );
  });

  it("long runs split a steady supply evenly, whatever their queue lengths", () => {
    const core = new GovernorCore(10, T0);
    const ids = { next: 0 };
    let t = makeLong(core, "a", T0, ids);
    t = makeLong(core, "b", t, ids);
    for (let i = 0; i < 200; i++) core.enqueue({ id: ids.next++, runId: "a", want: 1 }, t);
    for (let i = 0; i < 20; i++) core.enqueue({ id: ids.next++, runId: "b", want: 1 }, t);
    const total: Record<string, number> = {};
    for (let s = t; s <= t + 2_000; s += 100)
      for (const [run, n] of Object.entries(grantsAt(core, s).byRun)) total[run] = (total[run] ?? 0) + n;
    expect(Math.abs((total.a ?? 0) - (total.b ?? 0))).toBeLessThanOrEqual(1);
    expect((total.a ?? 0) + (total.b ?? 0)).toBeGreaterThanOrEqual(20);
  });

  it("starvation bound: a long run that has waited LONG_RUN_MAX_WAIT_MS gets the next permit while short runs keep coming", () => {
    const core = new GovernorCore(10, T0);
    const ids = { next: 0 };
    let t = makeLong(core, "big", T0, ids);
    const start = t;
    // Short runs waiting already, and a new one every 100 ms with two calls: more than the 10/s there are.
    for (let n = 0; n < 10; n++) {
      core.enqueue({ id: ids.next++, runId: `early${n}`, want: 1 }, t);
      core.enqueue({ id: ids.next++, runId: `early${n}`, want: 1 }, t);
    }
    core.enqueue({ id: ids.next++, runId: "big", want: 1 }, t);
    const bigAt: number[] = [];
    for (let n = 0; t < start + 3 * LONG_RUN_MAX_WAIT_MS + 1_000; n++, t += 100) {
      core.enqueue({ id: ids.next++, runId: `s${n}`, want: 1 }, t);
      core.enqueue({ id: ids.next++, runId: `s${n}`, want: 1 }, t);
      for (const g of grantsAt(core, t).grants)
        if (g.runId === "big") {
          bigAt.push(t);
          core.enqueue({ id: ids.next++, runId: "big", want: 1 }, t);
        }
    }
    expect(bigAt.length).toBe(3);
    let last = start;
    for (const at of bigAt) {
      expect(at - last).toBeGreaterThanOrEqual(LONG_RUN_MAX_WAIT_MS);
      expect(at - last).toBeLessThanOrEqual(LONG_RUN_MAX_WAIT_MS + 200);
      last = at;
    }
  });

  it("a short run behind many earlier ones is served, once it has waited SHORT_RUN_MAX_WAIT_MS, before runs that waited less", () => {
    const core = new GovernorCore(1, T0); // one permit a second
    let id = 0;
    const served: Record<string, number> = {};
    // 20 earlier short runs, each asking again as soon as served (9 calls each): first come first served
    // alone would keep "late" waiting 180 s.
    for (let n = 0; n < 20; n++) core.enqueue({ id: id++, runId: `early${n}`, want: 1 }, T0);
    core.enqueue({ id: id++, runId: "late", want: 1 }, T0 + 1);
    let lateAt: number | undefined;
    for (let t = T0 + 1_000; t <= T0 + 200_000 && lateAt === undefined; t += 1_000)
      for (const g of grantsAt(core, t).grants) {
        if (g.runId === "late") lateAt = t;
        served[g.runId] = (served[g.runId] ?? 0) + 1;
        if ((served[g.runId] ?? 0) < 9) core.enqueue({ id: id++, runId: g.runId, want: 1 }, t);
      }
    // At 120 s, the 7 early runs never served yet have waited longer still: they go first, one permit each.
    expect(lateAt).toBeGreaterThan(T0 + SHORT_RUN_MAX_WAIT_MS);
    expect(lateAt).toBeLessThanOrEqual(T0 + SHORT_RUN_MAX_WAIT_MS + 10_000);
    expect(served.early0).toBe(9); // first come first served until then
  });

  it("a ticket that gave up is dropped from the queue", () => {
    const core = new GovernorCore(1, T0);
    core.enqueue({ id: 1, runId: "a", want: 1 }, T0);
    core.enqueue({ id: 2, runId: "b", want: 1 }, T0);
    expect(grantsAt(core, T0).byRun).toEqual({ a: 1 });
    expect(core.cancel(2)).toBe(true);
    expect(core.snapshot(T0).waiting).toEqual([]);
    expect(core.cancel(2)).toBe(false);
  });
});

describe("rate governor: a 100,000-share run and a 3-share run started after it (simulated pages)", () => {
  it("the small run's 4 calls (user check, list, cancel, verify) are all granted within a second of its arrival, mid-way through the large run's 2,001", () => {
    // 100,000 shares: 1,000 list pages, 1,000 cancel calls and a verify page, each leased as the large run
    // does (leases of up to LEASE_MAX, asked again as soon as one is answered: it always has one queued).
    const core = new GovernorCore(20, T0);
    const LATENCY_MS = 50; // per KooDrive call, as in the bench
    const BIG_CALLS = 2_001;
    let id = 0;
    let bigGranted = 0;
    let bigTicket = false;
    let smallArrival = 0;
    let smallGranted = 0;
    let smallWaiting = false;
    let smallReadyAt = Number.POSITIVE_INFINITY;
    let smallDoneAt = 0;
    let t = T0;
    for (; bigGranted < BIG_CALLS && t < T0 + 200_000; t += 10) {
      if (!bigTicket) {
        core.enqueue({ id: id++, runId: "big", want: LEASE_MAX }, t);
        bigTicket = true;
      }
      // The small run arrives when the large one is a quarter through, then makes its calls one by one.
      if (smallArrival === 0 && bigGranted >= BIG_CALLS / 4) {
        smallArrival = t;
        smallReadyAt = t;
      }
      if (!smallWaiting && smallGranted < 4 && t >= smallReadyAt) {
        core.enqueue({ id: id++, runId: "small", want: 1 }, t);
        smallWaiting = true;
      }
      for (const g of core.dispatch(t).grants) {
        if (g.runId === "big") {
          bigGranted += g.granted;
          bigTicket = false;
          core.onSuccess(g.granted);
          continue;
        }
        smallGranted += g.granted;
        smallWaiting = false;
        smallReadyAt = t + LATENCY_MS; // its next call goes out once this one has answered
        core.onSuccess(g.granted);
        if (smallGranted === 4) smallDoneAt = t;
      }
    }
    expect(bigGranted).toBeGreaterThanOrEqual(BIG_CALLS);
    expect(smallGranted).toBe(4);
    // 4 calls at 20/s and 50 ms each need at least 0.35 s; the large run's queue costs the small one little.
    expect(smallDoneAt - smallArrival).toBeLessThan(1_000);
    // And the large run was not held up: all 2,005 permits went out at the rate (20/s), within 10%.
    expect(t - T0).toBeLessThan((((BIG_CALLS + 4) / 20) * 1000 * 1.1) | 0);
  });
});

describe("rate governor: background callers (a run's evidence read)", () => {
  it("wait while any run waits, first come first served among themselves, and go when no run does", () => {
    const core = new GovernorCore(2, T0); // a bucket of 1: one permit per 500 ms
    core.enqueue({ id: 1, runId: "a/evidence", want: 1, background: true }, T0);
    core.enqueue({ id: 2, runId: "b/evidence", want: 1, background: true }, T0);
    core.enqueue({ id: 3, runId: "c", want: 1 }, T0);
    core.enqueue({ id: 4, runId: "d", want: 1 }, T0);
    expect(core.snapshot(T0).waiting).toContainEqual({ runId: "a/evidence", permits: 1, background: true });
    const order: string[] = [];
    for (let t = T0; order.length < 4; t += 500) for (const g of core.dispatch(t).grants) order.push(g.runId);
    expect(order).toEqual(["c", "d", "a/evidence", "b/evidence"]);
  });

  it("a background caller that has waited BACKGROUND_MAX_WAIT_MS goes next, however many runs keep coming", () => {
    const core = new GovernorCore(10, T0);
    // The bucket's burst goes to a run first, so from now on permits are scarcer than the runs' calls.
    for (let i = 100_000; i < 100_010; i++) core.enqueue({ id: i, runId: "warm", want: 1 }, T0);
    core.dispatch(T0);
    core.enqueue({ id: 0, runId: "x/evidence", want: 1, background: true }, T0);
    let id = 1;
    let servedAt: number | undefined;
    // A new run every 100 ms with two calls: more than the 10/s there are, so some run always waits.
    for (let t = T0; servedAt === undefined && t < T0 + 2 * BACKGROUND_MAX_WAIT_MS; t += 100) {
      core.enqueue({ id: id++, runId: `r${t}`, want: 1 }, t);
      core.enqueue({ id: id++, runId: `r${t}`, want: 1 }, t);
      if (core.dispatch(t).grants.some((g) => g.runId === "x/evidence")) servedAt = t;
    }
    expect(servedAt).toBeDefined();
    expect((servedAt as number) - T0).toBeGreaterThanOrEqual(BACKGROUND_MAX_WAIT_MS);
    expect((servedAt as number) - T0).toBeLessThanOrEqual(BACKGROUND_MAX_WAIT_MS + 200);
  });
});
