import { describe, expect, it, vi } from "vitest";
import { LEASE_MAX } from "../../src/koodrive/governor/bucket";
import { type LeaseRequest, MAX_HOLD_MS, type Report429 } from "../../src/koodrive/governor/durable";
import {
  FALLBACK_MS,
  GovernedPermits,
  type GovernorLike,
  LEASE_TIMEOUT_MS,
  REPORT_TIMEOUT_MS,
} from "../../src/koodrive/governor/permits";

/** The run's side of the governor against a fake governor that grants what is asked. */
function fakeGovernor(opts: { fail?: boolean; generations?: number[] } = {}) {
  const leases: LeaseRequest[] = [];
  const reports: Report429[] = [];
  const governor: GovernorLike = {
    lease: async (req) => {
      leases.push(req);
      if (opts.fail) throw new Error("unreachable governor");
      return { granted: req.want, ttlMs: 60_000, generation: opts.generations?.shift() ?? 0 };
    },
    report429: async (req) => {
      reports.push(req);
      if (opts.fail) throw new Error("unreachable governor");
    },
  };
  return { governor, leases, reports };
}

describe("GovernedPermits (a run's permit hook)", () => {
  it("leases in growing batches (1, 2, 4, 8, then LEASE_MAX), the next asked for when half is used: 25 sequential calls cost 6 round trips", async () => {
    const g = fakeGovernor();
    const permits = new GovernedPermits(
      () => g.governor,
      "run-a",
      20,
      () => {},
    );
    for (let i = 0; i < 25; i++) {
      await permits.acquire("share.list");
      await permits.report({ call: "share.list", status: "ok" });
    }
    expect(g.leases.map((l) => l.want)).toEqual([1, 2, 4, 8, LEASE_MAX, LEASE_MAX]);
    // Successes are reported in aggregate, with the next lease: none lost, none twice.
    const reported = g.leases.map((l) => l.successes);
    expect(reported[0]).toBe(0);
    const total = reported.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThan(25); // the last ones wait for a next lease
    expect(total).toBeGreaterThanOrEqual(25 - LEASE_MAX);
    expect(g.leases.every((l) => l.runId === "run-a" && l.ceiling === 20)).toBe(true);
  });

  it("concurrent callers share one lease and ask for at least as many permits as are waiting", async () => {
    const g = fakeGovernor();
    const permits = new GovernedPermits(
      () => g.governor,
      "run-b",
      20,
      () => {},
    );
    await Promise.all(Array.from({ length: 4 }, () => permits.acquire("share.cancel")));
    // The first lease (1) is already in flight when the others arrive; the second asks for the 3 waiting.
    expect(g.leases.map((l) => l.want).slice(0, 2)).toEqual([1, 3]);
    expect(g.leases.length).toBeLessThanOrEqual(3); // the third, if any, asked ahead of need
  });

  it("a 429 is reported at once with its Retry-After, and the permits leased before it are dropped", async () => {
    const g = fakeGovernor();
    const permits = new GovernedPermits(
      () => g.governor,
      "run-c",
      20,
      () => {},
    );
    await permits.acquire("share.list"); // lease of 1
    await permits.acquire("share.list"); // lease of 2 (and 4 more asked ahead), some left
    await permits.report({ call: "share.list", status: "rate_limited", retryAfterMs: 3000 });
    expect(g.reports).toEqual([{ runId: "run-c", ceiling: 20, retryAfterMs: 3000, generation: undefined }]);
    const before = g.leases.length;
    await permits.acquire("share.list");
    expect(g.leases).toHaveLength(before + 1); // the permits left over were not used
  });

  it("each permit carries the generation of the lease it came from (older leases' permits first), and a 429 reports it", async () => {
    const g = fakeGovernor({ generations: [4, 5, 6] });
    const permits = new GovernedPermits(
      () => g.governor,
      "run-e",
      20,
      () => {},
    );
    expect(await permits.acquire("share.list")).toBe(4); // lease of 1, generation 4
    // The second call takes the first of a lease of 2 (generation 5); half used, a lease of 4 (6) is asked.
    expect(await permits.acquire("share.list")).toBe(5);
    await new Promise((r) => setTimeout(r, 0));
    expect(g.leases.map((l) => l.want)).toEqual([1, 2, 4]);
    expect(await permits.acquire("share.list")).toBe(5); // the older lease's permit goes first
    expect(await permits.acquire("share.list")).toBe(6);
    await permits.report({ call: "share.list", status: "rate_limited", retryAfterMs: 1000, permit: 5 });
    expect(g.reports).toEqual([{ runId: "run-e", ceiling: 20, retryAfterMs: 1000, generation: 5 }]);
  });

  it("a failing governor never blocks a call: it is reported once, then skipped for a while", async () => {
    const g = fakeGovernor({ fail: true });
    const failures: unknown[] = [];
    const permits = new GovernedPermits(
      () => g.governor,
      "run-d",
      20,
      (err) => failures.push(err),
    );
    for (let i = 0; i < 5; i++) await permits.acquire("share.cancel");
    await permits.report({ call: "share.cancel", status: "rate_limited", retryAfterMs: 1000 });
    expect(g.leases).toHaveLength(1); // not asked again within FALLBACK_MS
    expect(g.reports).toHaveLength(0);
    expect(failures).toHaveLength(1);
    expect(String(failures[0])).toMatch(/unreachable governor/);
  });
});

describe("a governor that never answers", () => {
  it("fails over after the lease timeout (not at the step's timeout): the call goes on, reported once", async () => {
    const leases: LeaseRequest[] = [];
    const hung: GovernorLike = {
      lease: (req) => {
        leases.push(req);
        return new Promise(() => {}); // never answers
      },
      report429: () => new Promise(() => {}),
    };
    const failures: unknown[] = [];
    const permits = new GovernedPermits(
      () => hung,
      "run-e",
      20,
      (err) => failures.push(err),
      { leaseMs: 30, reportMs: 30 },
    );
    const t0 = Date.now();
    expect(await permits.acquire("share.list")).toBeUndefined(); // no permit: the client's own backoff
    expect(Date.now() - t0).toBeLessThan(1_000);
    await permits.report({ call: "share.list", status: "rate_limited", retryAfterMs: 10 });
    for (let i = 0; i < 3; i++) expect(await permits.acquire("share.cancel")).toBeUndefined();
    expect(leases).toHaveLength(1); // not asked again within FALLBACK_MS
    expect(failures).toHaveLength(1);
    expect(String(failures[0])).toMatch(/no answer to a lease within 30 ms/);
  });

  it("the production timeouts: a lease may be held MAX_HOLD_MS by design, so it times out only after that", () => {
    expect(LEASE_TIMEOUT_MS).toBeGreaterThan(MAX_HOLD_MS);
    // docs/operations.md "The rate governor" names these numbers.
    expect([MAX_HOLD_MS, LEASE_TIMEOUT_MS, REPORT_TIMEOUT_MS, FALLBACK_MS]).toEqual([
      20_000, 60_000, 5_000, 30_000,
    ]);
  });
});

describe("a lease on its way when the run reports a 429", () => {
  /** A governor whose leases answer only when the test says, with the generation the test names. */
  function slowGovernor() {
    const pending: Array<(generation: number) => void> = [];
    const governor: GovernorLike = {
      lease: (req) =>
        new Promise((resolve) =>
          pending.push((generation) => resolve({ granted: req.want, ttlMs: 60_000, generation })),
        ),
      report429: async () => {},
    };
    return { governor, pending };
  }

  for (const [granted, kept] of [
    [3, false], // granted before the cut the 429 caused (same generation as the refused permit)
    [4, true], // granted after it
  ] as const)
    it(`is ${kept ? "kept when granted after the cut (a newer generation)" : "dropped when granted before the cut"}`, async () => {
      const g = slowGovernor();
      const permits = new GovernedPermits(
        () => g.governor,
        "run-f",
        20,
        () => {},
      );
      const first = permits.acquire("share.list");
      g.pending.shift()?.(3);
      const permit = await first; // generation 3
      const second = permits.acquire("share.list"); // a second lease goes out
      await permits.report({ call: "share.list", status: "rate_limited", retryAfterMs: 0, permit });
      g.pending.shift()?.(granted);
      if (kept) {
        expect(await second).toBe(4);
        return;
      }
      // The stale lease's permits are not used: the call asks again and gets the next lease's.
      await vi.waitFor(() => expect(g.pending).toHaveLength(1));
      g.pending.shift()?.(4);
      expect(await second).toBe(4);
    });
});

describe("a background caller's leases", () => {
  it("say so to the governor (a run's evidence read); a run's own do not", async () => {
    const g = fakeGovernor();
    const evidence = new GovernedPermits(
      () => g.governor,
      "run-g/evidence",
      20,
      () => {},
      undefined,
      true,
    );
    const run = new GovernedPermits(
      () => g.governor,
      "run-g",
      20,
      () => {},
    );
    await evidence.acquire("auditlog");
    await run.acquire("share.list");
    expect(g.leases.map((l) => [l.runId, l.background])).toEqual([
      ["run-g/evidence", true],
      ["run-g", undefined],
    ]);
  });
});
