import { describe, expect, it } from "vitest";
import {
  ADDITIVE_STEP,
  CUT_COOLDOWN_MS,
  DECREASE_FACTOR,
  DEFAULT_PAUSE_MS,
  GovernorCore,
  LEASE_MAX,
  MIN_RATE,
  NEWCOMER_CREDIT,
} from "../../src/koodrive/governor/bucket";

/** The governor's bucket, adaptation and fairness as pure logic, on a clock the test moves. */

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

describe("rate governor: adaptation (AIMD)", () => {
  it("starts at the ceiling; a 429 cuts the rate by DECREASE_FACTOR, a second one in the same burst does not", () => {
    const core = new GovernorCore(20, T0);
    expect(core.rate).toBe(20);
    core.on429(T0, 1000);
    expect(core.rate).toBe(20 * DECREASE_FACTOR);
    core.on429(T0 + CUT_COOLDOWN_MS - 1, 1000); // a call already in flight when the first came back
    expect(core.rate).toBe(20 * DECREASE_FACTOR);
    core.on429(T0 + CUT_COOLDOWN_MS, 1000); // a new burst
    expect(core.rate).toBe(20 * DECREASE_FACTOR * DECREASE_FACTOR);
    expect(core.snapshot(T0 + CUT_COOLDOWN_MS).total429s).toBe(3);
  });

  it("429s again and again never take the rate below MIN_RATE", () => {
    const core = new GovernorCore(20, T0);
    for (let i = 0; i < 50; i++) core.on429(T0 + i * CUT_COOLDOWN_MS, 0);
    expect(core.rate).toBe(MIN_RATE);
  });

  it("successes raise the rate additively (ADDITIVE_STEP / rate each) back to the ceiling, never above", () => {
    const core = new GovernorCore(20, T0);
    core.on429(T0, 0); // 15
    const cut = core.rate;
    core.onSuccess(1);
    expect(core.rate).toBeCloseTo(cut + ADDITIVE_STEP / cut, 10);
    // dr/dn = step / r, so after n successes r ~ sqrt(r0^2 + 2 * step * n): about +step per r successes.
    core.onSuccess(14);
    const expected = Math.sqrt(cut * cut + 2 * ADDITIVE_STEP * 15);
    expect(core.rate).toBeGreaterThan(expected - 0.05);
    expect(core.rate).toBeLessThan(expected + 0.05);
    expect(core.rate).toBeGreaterThan(cut + 0.4 * ADDITIVE_STEP);
    core.onSuccess(10_000);
    expect(core.rate).toBe(20);
  });

  it("a lower ceiling caps the rate at once; a higher one is taken at once until a 429, then climbed to", () => {
    const core = new GovernorCore(20, T0);
    core.setCeiling(5);
    expect(core.rate).toBe(5);
    core.setCeiling(1000); // no 429 seen: nothing says KooDrive allows less
    expect(core.rate).toBe(1000);
    core.setCeiling(5);
    core.on429(T0, 0);
    core.setCeiling(50);
    expect(core.rate).toBe(5 * DECREASE_FACTOR);
    core.onSuccess(100_000);
    expect(core.rate).toBe(50);
  });
});

describe("rate governor: the bucket and Retry-After", () => {
  it("grants at most the bucket's burst at once, then a permit per 1/rate seconds", () => {
    const core = new GovernorCore(20, T0); // bucket: 0.5 s of 20/s = 10
    core.enqueue({ id: 1, runId: "a", want: LEASE_MAX });
    core.enqueue({ id: 2, runId: "a", want: LEASE_MAX });
    const first = grantsAt(core, T0);
    expect(first.byRun).toEqual({ a: 10 });
    expect(first.wakeAt).toBe(T0 + 50); // one permit at 20/s
    expect(grantsAt(core, T0 + 49).grants).toEqual([]);
    expect(grantsAt(core, T0 + 50).byRun).toEqual({ a: 1 }); // partial lease: tokens ran out
    expect(grantsAt(core, T0 + 100).grants).toEqual([]); // nobody waits any more
  });

  it("a 429 pauses every caller until the Retry-After moment, then grants again at the cut rate", () => {
    const core = new GovernorCore(20, T0);
    core.enqueue({ id: 1, runId: "a", want: 10 });
    expect(grantsAt(core, T0).byRun).toEqual({ a: 10 });
    core.on429(T0 + 10, 2_000);
    core.enqueue({ id: 2, runId: "a", want: 1 });
    core.enqueue({ id: 3, runId: "b", want: 1 });
    const paused = grantsAt(core, T0 + 1_000);
    expect(paused.grants).toEqual([]);
    expect(paused.wakeAt).toBe(T0 + 2_010);
    expect(core.snapshot(T0 + 1_000).pausedUntil).toBe(T0 + 2_010);
    expect(core.snapshot(T0 + 1_000).waiting.map((w) => w.runId)).toEqual(["a", "b"]);
    // No tokens accrued during the pause: the first permit is due 1/15 s after it ends.
    expect(grantsAt(core, T0 + 2_010).grants).toEqual([]);
    const after = grantsAt(core, T0 + 2_010 + Math.ceil(1000 / 15));
    expect(after.byRun).toEqual({ b: 1 }); // b has had nothing yet, a had 10
    expect(core.snapshot(T0 + 3_000).pausedUntil).toBe(0);
  });

  it("a 429 without Retry-After pauses for DEFAULT_PAUSE_MS", () => {
    const core = new GovernorCore(20, T0);
    core.on429(T0);
    expect(core.snapshot(T0).pausedUntil).toBe(T0 + DEFAULT_PAUSE_MS);
  });
});

describe("rate governor: fairness between runs", () => {
  it("hands permits round-robin: a small run waiting behind a big one is served on its first turn", () => {
    const core = new GovernorCore(4, T0); // bucket of 2, leases of at most 2
    grantsAt(core, T0); // nothing waiting
    // The big run has 20 requests queued before the small run's single one.
    for (let i = 0; i < 20; i++) core.enqueue({ id: i, runId: "big", want: LEASE_MAX });
    core.enqueue({ id: 100, runId: "small", want: 1 });
    const first = grantsAt(core, T0);
    // Two tokens: one for big's head, one for small (not both to big).
    expect(first.byRun).toEqual({ big: 1, small: 1 });
    expect(first.grants.find((g) => g.runId === "small")?.id).toBe(100);
    expect(core.snapshot(T0).waiting.map((w) => w.runId)).toEqual(["big"]);
  });

  it("splits a steady supply evenly between two busy runs, whatever their queue lengths", () => {
    const core = new GovernorCore(10, T0);
    for (let i = 0; i < 200; i++) core.enqueue({ id: i, runId: "big", want: 1 });
    for (let i = 0; i < 20; i++) core.enqueue({ id: 1000 + i, runId: "small", want: 1 });
    const total: Record<string, number> = {};
    for (let t = T0; t <= T0 + 2_000; t += 100)
      for (const [run, n] of Object.entries(grantsAt(core, t).byRun)) total[run] = (total[run] ?? 0) + n;
    // 2 s at 10/s plus the initial burst of 5: about 25 permits, half each.
    expect(Math.abs((total.big ?? 0) - (total.small ?? 0))).toBeLessThanOrEqual(1);
    expect((total.big ?? 0) + (total.small ?? 0)).toBeGreaterThanOrEqual(24);
  });

  it("a run that starts waiting gets NEWCOMER_CREDIT permits ahead of one served for long, then they alternate", () => {
    const core = new GovernorCore(10, T0);
    let id = 0;
    for (let i = 0; i < 300; i++) core.enqueue({ id: id++, runId: "big", want: 1 });
    let t = T0;
    let bigServed = 0;
    while (bigServed < 100) {
      bigServed += grantsAt(core, t).byRun.big ?? 0;
      t += 100;
    }
    for (let i = 0; i < 100; i++) core.enqueue({ id: id++, runId: "small", want: 1 });
    const order: string[] = [];
    while (order.length < NEWCOMER_CREDIT * 2) {
      for (const g of core.dispatch(t).grants) order.push(g.runId);
      t += 100;
    }
    expect(order.slice(0, NEWCOMER_CREDIT)).toEqual(Array(NEWCOMER_CREDIT).fill("small"));
    const after = order.slice(NEWCOMER_CREDIT, NEWCOMER_CREDIT * 2);
    expect(Math.abs(after.filter((r) => r === "small").length - NEWCOMER_CREDIT / 2)).toBeLessThanOrEqual(1);
  });

  it("a ticket that gave up is dropped from the queue", () => {
    const core = new GovernorCore(1, T0);
    core.enqueue({ id: 1, runId: "a", want: 1 });
    core.enqueue({ id: 2, runId: "b", want: 1 });
    expect(grantsAt(core, T0).byRun).toEqual({ a: 1 });
    expect(core.cancel(2)).toBe(true);
    expect(core.snapshot(T0).waiting).toEqual([]);
    expect(core.cancel(2)).toBe(false);
  });
});
