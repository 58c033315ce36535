/**
 * Found by an attacker's review of the runs index and POST /offboardings (each failed before its fix):
 * an HR id acts on that HR id's person only; a run finished while the index was down is listed once it is
 * back (the ledger's alarm sends its row again); one Idempotency-Key cannot start two different requests.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { activeRunKey } from "../src/audit/keys";
import { RUN_INDEX_NAME, type RunIndex } from "../src/offboarding/run-index";
import { adminCall } from "./helpers/admin";
import { sweep } from "./helpers/env";
import { DEMO, sim } from "./helpers/sim";
import { admin, clearHolds, offboardedEvent, sendHr, uniqueId, waitForRun } from "./helpers/worker";

const index = () => env.RUN_INDEX.getByName(RUN_INDEX_NAME);

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("POST /offboardings acts on the person the operator named", () => {
  it("an HR id whose old identity entry names a reused e-mail is offboarded as that HR id's user, not the e-mail's new owner", async () => {
    const oldHr = uniqueId("E");
    const newHr = uniqueId("E");
    const email = `${uniqueId("reused")}@acme.test`.toLowerCase();
    // The e-mail belonged to the leaver (oldHr) and was later given to someone else (newHr): HR re-sent the map.
    const first = await adminCall("/identities", {
      method: "PUT",
      body: { identities: [{ hrId: oldHr, email, koodriveUserId: DEMO.leaver }] },
    });
    expect(first.res.status).toBe(200);
    const second = await adminCall("/identities", {
      method: "PUT",
      body: { identities: [{ hrId: newHr, email, koodriveUserId: DEMO.seller }] },
    });
    expect(second.res.status).toBe(200);

    // The operator names the leaver by HR id (a dry run, so nothing is cancelled either way).
    const { res } = await adminCall("/offboardings", {
      method: "POST",
      body: { person: oldHr, reason: "left", dryRun: true },
    });
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    const done = await waitForRun(runId);
    // Not by the e-mail the stale hr: entry names (now the seller's).
    expect(done.koodriveUserId).toBe(DEMO.leaver);
  });
});

describe("a run whose index writes all failed is listed once the index is back", () => {
  it("a short run finished while the index was down is listed once it is back (the ledger's alarm)", async () => {
    // The index is down (every upsert throws) for the few seconds a small run takes.
    await runInDurableObject(index(), (_i: RunIndex, state) => {
      state.storage.sql.exec("ALTER TABLE runs RENAME TO runs_down");
    });
    const hrId = uniqueId("E");
    let runId = "";
    try {
      const res = await sendHr(offboardedEvent({ id: hrId, koodriveUserId: DEMO.leaver }));
      expect(res.status).toBe(202); // the accept path tolerates the failure, as designed
      runId = ((await res.json()) as { runId: string }).runId;
      const done = await waitForRun(runId);
      expect(done.status).toBe("completed");
      await new Promise((r) => setTimeout(r, 300)); // the ledger's last (failing) push has been sent
    } finally {
      await runInDurableObject(index(), (_i: RunIndex, state) => {
        state.storage.sql.exec("ALTER TABLE runs_down RENAME TO runs");
      });
    }
    // The run ended, so it is no longer watched: the sweeper's missing() never looks at it; the ledger's
    // alarm (set when its push failed) sends the row again.
    expect(await env.AUDIT.get(activeRunKey(runId))).toBeNull();
    await sweep();
    expect(await runDurableObjectAlarm(env.RUNS.getByName(runId))).toBe(true);
    const page = (await (await admin(`/runs?person=${hrId}`)).json()) as { runs: Array<{ runId: string }> };
    expect(page.runs.map((r) => r.runId)).toEqual([runId]);
  });
});

describe("Idempotency-Key", () => {
  it("two concurrent calls with the same key and different bodies do not both get a 202 for one run", async () => {
    const key = crypto.randomUUID();
    const [a, b] = await Promise.all([
      adminCall("/offboardings", {
        method: "POST",
        body: { person: DEMO.leaver, reason: "dry", dryRun: true },
        headers: { "idempotency-key": key },
      }),
      adminCall("/offboardings", {
        method: "POST",
        body: { person: DEMO.seller, reason: "another", dryRun: true, scopes: [1] },
        headers: { "idempotency-key": key },
      }),
    ]);
    const statuses = [a.res.status, b.res.status].sort();
    const bodies = [await a.res.json(), await b.res.json()] as Array<{ runId?: string }>;
    for (const body of bodies) if (body.runId) await waitForRun(body.runId);
    // One is the run, the other must be refused (422): it asked for another person.
    expect(statuses).toEqual([202, 422]);
  });
});
