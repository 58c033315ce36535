import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RunLedger } from "../src/offboarding/ledger";
import { runIdFor } from "../src/offboarding/start";
import { sim } from "./helpers/sim";
import { admin, call, clearHolds, uniqueId, waitForStatus } from "./helpers/worker";

/**
 * Review 6, area 2: the directory's alarm starts no run for a deactivation the IdP undid before its run was
 * started (commit 7f72443). The alarm reads the users with pending work once, then awaits each one's run in
 * turn; a reactivation that arrives meanwhile (the Durable Object takes other requests while it awaits) must
 * still be seen when the alarm comes to that user, or the run it starts is received after the reactivation:
 * the reactivation withdrew nothing, and the run revokes an active user's shares.
 */

const SCIM_TOKEN = "scim-test-token-0123456789abcdef";
const SHARES = 3;

function scim(path: string, method: string, body?: unknown) {
  return call(`/scim/v2${path}`, {
    method,
    headers: { "content-type": "application/scim+json", authorization: `Bearer ${SCIM_TOKEN}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

let n = 0;
interface Person {
  email: string;
  kd: string;
  name: string;
  id: string;
}

/** A person in KooDrive (with shares) and the identity map, and their active SCIM user. */
async function person(tag: string): Promise<Person> {
  const u = uniqueId(tag).toLowerCase();
  const k = (Date.now() % 100_000) * 100 + (n++ % 100);
  const p = { email: `${u}@example.com`, kd: `1505084219${String(k).padStart(9, "0")}`, name: `Person ${u}` };
  const map = await admin("/identities", {
    method: "PUT",
    headers: { "content-type": "text/csv; charset=utf-8" },
    body: `Name,Email,KooDrive User ID\n${p.name},${p.email},${p.kd}\n`,
  });
  expect(map.status).toBe(200);
  const res = await scim("/Users", "POST", {
    userName: p.email,
    externalId: uniqueId("ext"),
    emails: [{ value: p.email, type: "work", primary: true }],
    active: true,
  });
  expect(res.status).toBe(201);
  return { ...p, id: ((await res.json()) as { id: string }).id };
}

const pendingOf = (userId: string) =>
  runInDurableObject(env.SCIM.getByName("directory"), (_i, state) =>
    state.storage.sql
      .exec<{ d: number; r: number }>(
        "SELECT deactivations AS d, runs_started AS r FROM users WHERE id = ?",
        userId,
      )
      .one(),
  );

beforeEach(async () => {
  await sim.reset();
  await clearHolds();
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("review6: SCIM recovery alarm and a reactivation that arrives while it works", () => {
  it("a user set active again while the alarm starts another user's run gets no run", async () => {
    const a = await person("ria");
    const b = await person("sol");
    await sim.seed({
      users: [
        { userId: a.kd, name: a.name, shares: SHARES },
        { userId: b.kd, name: b.name, shares: SHARES },
      ],
      seed: 21,
    });
    const stub = env.SCIM.getByName("directory");
    // Both deactivations' requests died after the directory's write: the alarm is to start both runs.
    await stub.patch(a.id, [{ op: "replace", value: { active: false } }]);
    await stub.patch(b.id, [{ op: "replace", value: { active: false } }]);

    // While the alarm starts the first of the two runs (its ledger accepting it), the IdP sets the other
    // user active again, through the SCIM route as it would.
    const accept = RunLedger.prototype.accept;
    let first: string | undefined;
    let reactivated = 0;
    // Awaiting inside accept (an RPC method: its caller awaits it either way) lets the PATCH in first.
    async function acceptAfterReactivating(this: RunLedger, ...args: Parameters<RunLedger["accept"]>) {
      const user = args[0].source === "scim" ? args[0].eventId.split(":")[0] : undefined;
      if (first === undefined && (user === a.id || user === b.id)) {
        first = user;
        const other = user === a.id ? b.id : a.id;
        const res = await scim(`/Users/${other}`, "PATCH", {
          Operations: [{ op: "replace", value: { active: true } }],
        });
        reactivated = res.status;
      }
      return accept.apply(this, args);
    }
    vi.spyOn(RunLedger.prototype, "accept").mockImplementation(
      acceptAfterReactivating as unknown as RunLedger["accept"],
    );

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(first).toBeDefined();
    expect(reactivated).toBe(200);
    const started = first === a.id ? a : b;
    const undone = first === a.id ? b : a;

    // The first user's run was started (its deactivation stands) and revokes their shares.
    const startedRun = await runIdFor("scim", `${started.id}:1`);
    await waitForStatus(startedRun, "completed");
    expect(await sim.shares(started.kd, "active")).toHaveLength(0);
    // The other was active again before its run was started: no run, nothing left for the alarm, and its
    // shares stay.
    const undoneRun = await runIdFor("scim", `${undone.id}:1`);
    expect((await admin(`/runs/${undoneRun}`)).status).toBe(404);
    const row = await pendingOf(undone.id);
    expect(row.r).toBeGreaterThanOrEqual(row.d);
    expect(await sim.shares(undone.kd, "active")).toHaveLength(SHARES);
  });
});
