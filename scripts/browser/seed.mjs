// Data the browser test needs beyond `npm start`'s demo tenant, sent the way the real senders send it: users
// with colliding names through the simulator's control plane (simulator/src/control.ts `POST /__sim/seed`),
// and HR events about people with no identity-map entry, signed with the Standard Webhooks library (the
// sender's own, not ours), so that the identities page has suggested matches to show.
import { randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { SIM_ADMIN_TOKEN } from "../dev-vars.mjs";
import { SERVICE, SIMULATOR } from "./harness.mjs";

/**
 * KooDrive users added to the demo tenant: two "Jordan Lee" (a name match an admin must choose between) and
 * one "Morgan Vale" (a single candidate). None of them is in the identity map npm start loads.
 */
export const EXTRA_USERS = [
  { name: "Jordan Lee", deptName: "Support", shares: 2 },
  { name: "Jordan Lee", deptName: "Engineering", shares: 1 },
  { name: "Morgan Vale", deptName: "Marketing", shares: 1 },
];

/** The people the HR events name (not offboarded: `employee.updated`, which starts no run). */
export const UNMAPPED_PEOPLE = [
  { id: "E-0101", email: "jordan.lee@example.com", name: "Jordan Lee" },
  { id: "E-0102", email: "morgan.vale@example.com", name: "Morgan Vale" },
];

async function expectOk(res, what) {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

/** Adds EXTRA_USERS to the simulator's tenant; returns them as the simulator answered (ids). */
export async function seedUsers() {
  const res = await fetch(`${SIMULATOR}/__sim/seed`, {
    method: "POST",
    headers: { authorization: `Bearer ${SIM_ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ users: EXTRA_USERS, seed: 9 }),
  });
  return (await expectOk(res, "seeding the simulator")).users;
}

/**
 * HR offboardings sent before browsing, so the runs list, the overview and the inbox show runs from another
 * source than the console: one that completes (Chen Finance, in the identity map) and one nobody can be found
 * for (unresolved: a run needing attention).
 */
export const HR_LEAVERS = [
  { id: "E-0204", email: "chen.finance@example.com", name: "Chen Finance" },
  { id: "E-0999", email: "nobody.known@example.com", name: "Nobody Known" },
];

/** Posts one HR event, signed with the Standard Webhooks library; returns the service's JSON answer. */
async function sendHr(wh, type, data) {
  const id = `msg_browser_${randomUUID()}`;
  const now = new Date();
  // The shares only (npm start allows every action locally; these runs are to end, not to watch).
  const body = JSON.stringify({
    type,
    timestamp: now.toISOString(),
    data,
    options: { actions: ["revoke_shares"] },
  });
  const res = await fetch(`${SERVICE}/webhooks/hr`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": wh.sign(id, now, body),
    },
    body,
  });
  return expectOk(res, `HR ${type} for ${data.employee.name}`);
}

/**
 * Sends one signed `employee.updated` HR event per unmapped person (each acknowledged as ignored), and the
 * HR_LEAVERS' `employee.offboarded` events; returns the run ids these started.
 */
export async function sendHrEvents(hrSecret) {
  const wh = new Webhook(hrSecret);
  for (const employee of UNMAPPED_PEOPLE) {
    const answer = await sendHr(wh, "employee.updated", { employee });
    if (answer.ignored !== true) throw new Error(`HR event was not ignored: ${JSON.stringify(answer)}`);
  }
  const runIds = [];
  for (const employee of HR_LEAVERS) {
    const answer = await sendHr(wh, "employee.offboarded", { employee, reason: "browser test" });
    if (!answer.runId) throw new Error(`HR offboarding started no run: ${JSON.stringify(answer)}`);
    runIds.push(answer.runId);
  }
  return runIds;
}

/** Run statuses that end a run (src/offboarding/types.ts TERMINAL). */
const TERMINAL = new Set(["completed", "partial", "failed", "unresolved", "dry_run"]);

/** Waits until every run has ended, so the pages show results rather than a moment of a run. */
export async function waitForRuns(adminToken, runIds, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (const runId of runIds) {
    for (;;) {
      const res = await fetch(`${SERVICE}/runs/${runId}?limit=1`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      const run = await expectOk(res, `GET /runs/${runId}`);
      if (TERMINAL.has(run.status)) break;
      if (Date.now() > deadline) throw new Error(`run ${runId} did not end: ${run.status}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/**
 * Waits until the suggestions API lists every unmapped person: the service records people seen after its
 * answer (waitUntil), so the page would race the write without this.
 */
export async function waitForSuggestions(adminToken, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    const res = await fetch(`${SERVICE}/identities/suggestions`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    last = await expectOk(res, "GET /identities/suggestions");
    const text = JSON.stringify(last);
    if (UNMAPPED_PEOPLE.every((p) => text.includes(p.email))) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`suggestions did not list the unmapped people: ${JSON.stringify(last)}`);
}
