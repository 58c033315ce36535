import { describe, expect, it } from "vitest";
import {
  BACKGROUND_MAX_WAIT_MS,
  GovernorCore,
  LEASE_MAX,
  SHORT_RUN_MAX_WAIT_MS,
} from "../src/koodrive/governor/bucket";
import { MAX_HOLD_MS } from "../src/koodrive/governor/durable";

/**
 * Review 6, area 4: the governor's waiting bounds as the Durable Object serves them. durable.ts holds a lease
 * at most MAX_HOLD_MS (20 s), then cancels its ticket and answers 0 permits; the caller (permits.ts
 * `acquire`) asks again at once. A bound longer than the hold (BACKGROUND_MAX_WAIT_MS 60 s for a run's
 * evidence read, SHORT_RUN_MAX_WAIT_MS 120 s) must still be reached by a caller that keeps asking: its wait
 * did not stop when its ticket was answered 0.
 */

const T0 = 1_000_000;
/** The evidence read's step timeout (account-steps.ts EVIDENCE_STEP) and a run step's (workflow.ts STEP). */
const EVIDENCE_STEP_TIMEOUT_MS = 5 * 60_000;
const STEP_TIMEOUT_MS = 10 * 60_000;

interface Asker {
  runId: string;
  want: number;
  background?: boolean;
}

/**
 * The RateGovernor Durable Object around the core, as durable.ts runs it: a ticket not granted within
 * MAX_HOLD_MS is cancelled and answered 0, and its caller asks again at once (with no gap: the most
 * favourable timing for the waiting caller).
 */
function holdingGovernor(core: GovernorCore) {
  let nextId = 1;
  const open = new Map<number, Asker & { at: number }>();
  const ask = (a: Asker, now: number) => {
    const id = nextId++;
    open.set(id, { ...a, at: now });
    core.enqueue({ id, runId: a.runId, want: a.want, ...(a.background ? { background: true } : {}) }, now);
  };
  /** One moment: holds that ran out are answered 0 (and asked again), then what is due is granted. */
  const tick = (now: number) => {
    for (const [id, t] of [...open]) {
      if (now - t.at < MAX_HOLD_MS || !core.cancel(id)) continue;
      open.delete(id);
      ask(t, now);
    }
    const { grants } = core.dispatch(now);
    const answered = grants.map((g) => ({ ...g, asker: open.get(g.id) as Asker & { at: number } }));
    for (const g of grants) open.delete(g.id);
    return answered;
  };
  return { ask, tick };
}

describe("review6: the governor's bounds under the Durable Object's 20 s hold", () => {
  it("a run's evidence read (background) gets a permit within BACKGROUND_MAX_WAIT_MS while runs keep waiting, not never", () => {
    const core = new GovernorCore(20, T0);
    const gov = holdingGovernor(core);
    // A layoff's active runs: each always has a lease queued (it asks again as soon as one is answered).
    for (let i = 0; i < 40; i++) gov.ask({ runId: `run-${i}`, want: LEASE_MAX }, T0);
    const asked = T0 + 1_000;
    let servedAt: number | undefined;
    for (let t = T0; t <= asked + EVIDENCE_STEP_TIMEOUT_MS && servedAt === undefined; t += 10) {
      if (t === asked) gov.ask({ runId: "leaver/evidence", want: 1, background: true }, t);
      for (const g of gov.tick(t)) {
        if (g.runId === "leaver/evidence") servedAt = t;
        else gov.ask(g.asker, t);
        core.onSuccess(g.granted);
      }
    }
    // Held out every 20 s and asking again each time, the read still waited all along: it goes after 60 s,
    // well inside its step's 5 minutes. (On main its wait restarts at every re-ask: it is never served, the
    // step times out three times and the run keeps its Workflow slot meanwhile.)
    expect(servedAt, "the evidence read never got a permit within its step's 5 minutes").toBeDefined();
    expect((servedAt as number) - asked).toBeGreaterThanOrEqual(BACKGROUND_MAX_WAIT_MS);
    expect((servedAt as number) - asked).toBeLessThanOrEqual(BACKGROUND_MAX_WAIT_MS + 1_000);
  });

  it("a short run behind hundreds of earlier short runs gets its first permit well inside a step's 10 minutes (SHORT_RUN_MAX_WAIT_MS counts across holds)", () => {
    // 2 requests/s: 300 earlier small leavers need 10 permits each before the late one would come up first
    // come first served (1,500 s). The 120 s bound is what keeps it inside the step's timeout.
    const core = new GovernorCore(2, T0);
    const gov = holdingGovernor(core);
    for (let i = 0; i < 300; i++) gov.ask({ runId: `early-${i}`, want: 1 }, T0);
    const asked = T0 + 1_000;
    let servedAt: number | undefined;
    for (let t = T0; t <= asked + STEP_TIMEOUT_MS && servedAt === undefined; t += 50) {
      if (t === asked) gov.ask({ runId: "late", want: 1 }, t);
      for (const g of gov.tick(t)) {
        if (g.runId === "late") servedAt = t;
        else gov.ask(g.asker, t);
      }
    }
    expect(servedAt, "the late short run got no permit within a step's 10 minutes").toBeDefined();
    // It goes once it has waited its bound, after the runs that have waited longer than it (each once). (On
    // main its wait restarts every 20 s, so it is never "aged": it waits for all 300 first come first served,
    // and once the runs past 10 permits take the 2/s by their own 10 s bound, for ever.)
    expect((servedAt as number) - asked).toBeGreaterThanOrEqual(SHORT_RUN_MAX_WAIT_MS);
  });
});
