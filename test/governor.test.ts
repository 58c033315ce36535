/**
 * The rate governor in workerd (issue 12): runs share a tenant whose limit the service is not told (the
 * simulator's tenant-wide token bucket), learn it from 429s, finish without a share failed for a 429, stay
 * fair to a small leaver started behind a large one, and go on without the governor when it fails.
 */
import { evictDurableObject, introspectWorkflowInstance, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { GovernorView } from "../src/admin/governor";
import { PACE_TIMEOUT_MS } from "../src/console/pages/overview";
import { KooDriveClient, KooDriveError, type PermitOutcome } from "../src/koodrive/client";
import {
  LEARNED_KEY,
  LEARNED_TTL_MS,
  type LearnedLimit,
  RateGovernor,
} from "../src/koodrive/governor/durable";
import { runIdFor } from "../src/offboarding/start";
import { callWith } from "./helpers/env";
import { KOODRIVE_BASE, SIM, sim } from "./helpers/sim";
import {
  ADMIN_TOKEN,
  admin,
  call,
  clearHolds,
  offboardedEvent,
  type RunView,
  sendHr,
  uniqueId,
  waitForRun,
  waitForStatus,
} from "./helpers/worker";

const BIG = "1505084218764549301";
const SMALL = "1505084218764549302";
const OTHER = "1505084218764549303";

beforeEach(async () => {
  await sim.reset();
  await clearHolds();
  // A fresh governor per test: the learned limit (in storage) forgotten, the rest (in memory) evicted.
  const stub = env.GOVERNOR.getByName(SIM.appId);
  await stub.reset(20);
  await evictDurableObject(stub);
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Starts a run (its Workflow's sleeps off: nothing in these runs should wait on real time). */
async function start(koodriveUserId: string, id: string): Promise<string> {
  const webhookId = uniqueId();
  const runId = await runIdFor("hr", webhookId);
  const instance = await introspectWorkflowInstance(env.OFFBOARDING, runId);
  await instance.modify(async (m) => {
    await m.disableSleeps();
  });
  const res = await sendHr(offboardedEvent({ id, koodriveUserId }), { id: webhookId });
  expect(res.status).toBe(202);
  expect(((await res.json()) as { runId: string }).runId).toBe(runId);
  return runId;
}

async function governor(): Promise<Extract<GovernorView, { enabled: true }>> {
  const res = await admin("/governor");
  expect(res.status).toBe(200);
  const view = (await res.json()) as GovernorView;
  if (!view.enabled) throw new Error("governor off");
  return view;
}

function expectAllCancelled(run: RunView, shares: number): void {
  expect(run.status).toBe("completed");
  expect(run.counts.cancelled).toBe(shares);
  expect(run.counts.failed).toBe(0);
  expect(run.shares.filter((s) => s.state !== "cancelled")).toEqual([]);
}

describe("the KooDrive client under a permit hook", () => {
  function client(extra: { rateLimitWaitMs?: number; outcomes?: PermitOutcome[]; acquired?: string[] }) {
    return new KooDriveClient({
      baseUrl: KOODRIVE_BASE,
      appId: SIM.appId,
      appSecret: SIM.appSecret,
      sleep: async () => {},
      random: () => 0.5,
      ...(extra.rateLimitWaitMs ? { rateLimitWaitMs: extra.rateLimitWaitMs } : {}),
      permits: {
        acquire: async (call) => {
          extra.acquired?.push(call);
          return 7; // a permit's tag: handed back with the attempt's outcome
        },
        report: (o) => {
          extra.outcomes?.push(o);
        },
      },
    });
  }

  it("waits out 429s beyond maxAttempts when told to (a busy tenant is not a failed call), each attempt taking a permit", async () => {
    await sim.seed({ users: [{ userId: BIG, name: "Busy Tenant", shares: 5 }], seed: 1 });
    await sim.faults({ rules: [{ endpoint: "list", kind: "http429", next: 6, retryAfter: 0 }] });
    const outcomes: PermitOutcome[] = [];
    const acquired: string[] = [];
    const page = await client({ rateLimitWaitMs: 60_000, outcomes, acquired }).listSharePage(BIG, "0");
    expect(page.shareLinks).toHaveLength(5);
    expect(acquired).toEqual(Array(7).fill("share.list"));
    expect(outcomes.map((o) => o.status)).toEqual([...Array(6).fill("rate_limited"), "ok"]);
    expect(outcomes[0]).toMatchObject({ retryAfterMs: 0 });
    // Each attempt's outcome carries its permit's tag back (the governor's generation when granted).
    expect(outcomes.every((o) => o.permit === 7)).toBe(true);
  });

  it("without rateLimitWaitMs a 429 is one of the 4 attempts, as before", async () => {
    await sim.seed({ users: [{ userId: BIG, name: "Busy Tenant", shares: 5 }], seed: 1 });
    await sim.faults({ rules: [{ endpoint: "list", kind: "http429", next: 6, retryAfter: 0 }] });
    const err = await client({})
      .listSharePage(BIG, "0")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KooDriveError);
    expect(err).toMatchObject({ httpStatus: 429, attempts: 4, retryable: true });
  });
});

describe("runs under a tenant-wide limit the service is not told", () => {
  it("two concurrent runs share the tenant: both complete, no share failed, the governor cut its rate on 429s", async () => {
    await sim.seed({
      users: [
        { userId: BIG, name: "Ann Concurrent", shares: 600 },
        { userId: OTHER, name: "Bob Concurrent", shares: 600 },
      ],
      seed: 5,
    });
    // Half the governor's ceiling (KOODRIVE_MAX_RPS 20 in wrangler.toml): it has to learn the limit.
    await sim.limit({ rps: 10 });
    const [a, b] = await Promise.all([start(BIG, "E-G-1"), start(OTHER, "E-G-2")]);
    const [runA, runB] = await Promise.all([
      waitForRun(a as string, 90_000),
      waitForRun(b as string, 90_000),
    ]);
    expectAllCancelled(runA, 600);
    expectAllCancelled(runB, 600);
    expect(await sim.shares(BIG, "active")).toEqual([]);
    expect(await sim.shares(OTHER, "active")).toEqual([]);

    const stats = await sim.stats();
    expect(stats.limit.throttled).toBeGreaterThan(0); // the limit was really hit
    const state = await governor();
    expect(state.total429s).toBeGreaterThan(0);
    expect(state.recent429s.length).toBeGreaterThan(0);
    expect(state.rate).toBeLessThan(20);
    expect(state.ceiling).toBe(20);
    expect(state.granted).toBeGreaterThan(0);
    // Every call took a permit: no more calls reached KooDrive than the governor granted (plus the
    // resolve step's calls, which also go through it).
    expect(stats.calls).toBeLessThanOrEqual(state.granted);
  });

  it("a 3-share run started behind a 5,000-share run is not starved: it completes long before the large one", async () => {
    await sim.seed({
      users: [
        { userId: BIG, name: "Lars Large", shares: 5_000 },
        { userId: SMALL, name: "Sam Small", shares: 3 },
      ],
      seed: 9,
    });
    await sim.limit({ rps: 20 });
    const bigStarted = Date.now();
    const big = await start(BIG, "E-G-BIG");
    // The large run is busy with KooDrive (planning and cancelling) before the small one arrives.
    for (let i = 0; i < 200 && (await sim.stats()).calls < 15; i++)
      await new Promise((r) => setTimeout(r, 50));
    const smallStarted = Date.now();
    const small = await start(SMALL, "E-G-SMALL");
    await waitForStatus(small, "completed", 60_000);
    const smallTook = Date.now() - smallStarted;
    const bigMeanwhile = (await (await admin(`/runs/${big}`)).json()) as { status: string };
    expect(bigMeanwhile.status).toBe("running");
    // (The small run's Workflow ends after its evidence read, background work that waits for the large run.)
    const smallRun = await waitForRun(small, 60_000);
    expectAllCancelled(smallRun, 3);

    const bigRun = await waitForRun(big, 120_000);
    const bigTook = Date.now() - bigStarted;
    expectAllCancelled(bigRun, 5_000);
    expect(smallTook).toBeLessThan(bigTook / 4);
  });
});

describe("a governor that fails", () => {
  it("does not stop a run: it goes on with the client's own backoff, audited once for the run", async () => {
    await sim.seed({ users: [{ userId: BIG, name: "Gus Governorless", shares: 450 }], seed: 2 });
    await sim.limit({ rps: 10 });
    const lease = vi.spyOn(RateGovernor.prototype, "lease").mockImplementation(async () => {
      throw new Error("governor broken");
    });
    vi.spyOn(RateGovernor.prototype, "report429").mockImplementation(() => {
      throw new Error("governor broken");
    });
    const runId = await start(BIG, "E-G-DOWN");
    const run = await waitForRun(runId, 90_000);
    expectAllCancelled(run, 450);
    expect(lease).toHaveBeenCalled();
    expect((await governor()).granted).toBe(0); // nothing came from the governor

    const audit = (await (await admin(`/audit?user=${BIG}&limit=100`)).json()) as {
      records: Array<{ runId?: string; reason?: string; details?: Record<string, unknown> }>;
    };
    const down = audit.records.filter((r) => r.runId === runId && r.details?.governor === "unavailable");
    expect(down).toHaveLength(1);
    expect(down[0]?.reason).toMatch(/rate governor unavailable/);
  });
});

describe("GET /governor", () => {
  it("shows the state to a viewer, refuses without credentials", async () => {
    const state = await governor();
    expect(state).toMatchObject({
      enabled: true,
      rate: 20,
      ceiling: 20,
      learnedLimit: null,
      pausedUntil: null,
      waiting: [],
    });
    expect((await call("/governor")).status).toBe(401);
  });
});

describe("the learned limit", () => {
  it("survives the governor's restart: it starts again PROBE_BAND under it, not at the default", async () => {
    const stub = env.GOVERNOR.getByName(SIM.appId);
    const lease = await stub.lease({ runId: "r-1", want: 1, ceiling: 50, successes: 0 });
    // Slow start (20/s, +0.2 per success) to 30/s, then a 429 of a permit granted at that rate.
    await stub.lease({ runId: "r-1", want: 1, ceiling: 50, successes: 50 });
    await stub.report429({ runId: "r-1", ceiling: 50, retryAfterMs: 0, generation: lease.generation });
    expect(await stub.state(50)).toMatchObject({ learnedLimit: 30, rate: 22.5 });
    await evictDurableObject(stub);
    const restarted = await stub.state(50);
    expect(restarted.learnedLimit).toBe(30);
    expect(restarted.rate).toBe(27); // 30 * (1 - PROBE_BAND)
    expect(restarted.total429s).toBe(0); // the counters were in memory
  });

  it("is trusted for LEARNED_TTL_MS: an older one is ignored when the governor starts", async () => {
    const stub = env.GOVERNOR.getByName(SIM.appId);
    const put = (at: number) =>
      runInDurableObject(stub, async (_g, state) => {
        await state.storage.put(LEARNED_KEY, { limit: 12, at } satisfies LearnedLimit);
      });
    await put(Date.now() - LEARNED_TTL_MS + 60_000);
    await evictDurableObject(stub);
    expect(await stub.state(20)).toMatchObject({ learnedLimit: 12, rate: 10.8 });
    await put(Date.now() - LEARNED_TTL_MS - 1);
    await evictDurableObject(stub);
    expect(await stub.state(20)).toMatchObject({ learnedLimit: null, rate: 20 });
  });

  it("POST /governor/reset (admin) forgets it, in storage too, and is audited", async () => {
    const stub = env.GOVERNOR.getByName(SIM.appId);
    const lease = await stub.lease({ runId: "r-2", want: 1, ceiling: 20, successes: 0 });
    await stub.report429({ runId: "r-2", ceiling: 20, retryAfterMs: 0, generation: lease.generation });
    expect((await governor()).learnedLimit).toBe(20);

    const res = await admin("/governor/reset", { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ enabled: true, learnedLimit: null, rate: 20 });
    await evictDurableObject(stub);
    expect(await governor()).toMatchObject({ learnedLimit: null, rate: 20 });

    const audit = (await (await admin("/audit?limit=20")).json()) as {
      records: Array<{ type: string; details?: Record<string, unknown> }>;
    };
    const reset = audit.records.find((r) => r.type === "admin.governor");
    expect(reset?.details).toMatchObject({ learnedLimit: 20, rateBefore: 15, rateAfter: 20 });
    expect((await call("/governor/reset", { method: "POST" })).status).toBe(401);
  });
});

describe("the console overview's pace panel", () => {
  /** The panel's facts, by name, as text (tags stripped). */
  async function pace(vars?: Record<string, string>): Promise<{ html: string; fact: (f: string) => string }> {
    const res = vars
      ? await callWith(vars, "/console", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      : await admin("/console");
    expect(res.status).toBe(200);
    const html = /data-testid="pace"[\s\S]*?(?:<\/div>|<\/p>)/.exec(await res.text())?.[0] ?? "";
    const fact = (f: string) =>
      (new RegExp(`data-fact="${f}">([\\s\\S]*?)</dd>`).exec(html)?.[1] ?? "").replace(/<[^>]+>/g, "");
    return { html, fact };
  }

  it("shows the rate, the learned limit, the pause, the 429s and who waits, from the governor itself", async () => {
    const fresh = await pace();
    expect(fresh.fact("rate")).toMatch(/^20 requests\/s .*ceiling KOODRIVE_MAX_RPS 20/);
    expect(fresh.fact("learned")).toMatch(/^none learned/);
    expect(fresh.fact("paused")).toBe("no");
    expect(fresh.fact("429s")).toMatch(/^0 since the governor started \(0 permits granted/);
    expect(fresh.fact("waiting")).toBe("nobody");

    // A 429 with a 3-second Retry-After: everyone pauses; a second run's lease is held meanwhile.
    const stub = env.GOVERNOR.getByName(SIM.appId);
    const lease = await stub.lease({ runId: "hr-pace-1", want: 1, ceiling: 20, successes: 0 });
    await stub.report429({
      runId: "hr-pace-1",
      ceiling: 20,
      retryAfterMs: 3_000,
      generation: lease.generation,
    });
    const held = stub.lease({ runId: "hr-pace-2/evidence", want: 3, ceiling: 20, successes: 0 });
    await vi.waitFor(async () => expect((await governor()).waiting).toHaveLength(1));

    const busy = await pace();
    expect(busy.fact("rate")).toMatch(/^15 requests\/s/);
    expect(busy.fact("learned")).toMatch(/^20 requests\/s \(the rate at the latest 429/);
    const state = await governor();
    expect(busy.fact("paused")).toContain(
      `every call waits until ${state.pausedUntil?.slice(0, 19).replace("T", " ")} UTC`,
    );
    expect(busy.fact("429s")).toMatch(/^1 since the governor started, the latest at \d{4}-\d\d-\d\d /);
    expect(busy.fact("waiting")).toMatch(/^1 caller\s*hr-pace-2\/evidence \(3 permits\s*\)/);
    // The waiting caller links to its run's page (an evidence read is keyed `<runId>/evidence`).
    expect(busy.html).toContain('href="/console/runs/hr-pace-2"');

    // The pause over, the held lease is granted (at the cut rate's burst) and nobody waits any more.
    expect((await held).granted).toBeGreaterThan(0);
    expect((await pace()).fact("waiting")).toBe("nobody");
  });

  it("says so when the governor is off or does not answer, and the rest of the page still renders", async () => {
    const off = await pace({ KOODRIVE_MAX_RPS: "0" });
    expect(off.html).toMatch(/The rate governor is off/);

    vi.spyOn(RateGovernor.prototype, "state").mockImplementation(() => {
      throw new Error("governor broken");
    });
    const res = await admin("/console");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/data-testid="pace"[^>]*>\s*The rate governor did not answer/);
    expect(html).toContain('data-testid="sources"');
    expect(html).not.toContain("governor broken");

    // A governor that stalls (no answer at all) does not hang the page either.
    vi.spyOn(RateGovernor.prototype, "state").mockImplementation(
      () => new Promise<never>(() => {}) as unknown as ReturnType<RateGovernor["state"]>,
    );
    const t0 = Date.now();
    const stalled = await admin("/console");
    expect(stalled.status).toBe(200);
    expect(await stalled.text()).toMatch(/data-testid="pace"[^>]*>\s*The rate governor did not answer/);
    expect(Date.now() - t0).toBeLessThan(PACE_TIMEOUT_MS + 3_000);
  });
});
