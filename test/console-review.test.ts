/**
 * Found by an attacker's review of the console (each failed before its fix), through the Worker's real entry
 * as Cloudflare Access identities: a confirmed plan acts for exactly the user the plan showed, once, whoever
 * confirms it; bad form input is a 4xx page; no suggested match is stored without KooDrive's check.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { newTeam, type TestTeam } from "./helpers/access";
import { callWith, postHr } from "./helpers/env";
import { DEMO, type SeededUser, sim } from "./helpers/sim";
import { admin, clearHolds, offboardedEvent, sendHr, uniqueId, waitForRun } from "./helpers/worker";

const ORIGIN = "https://offboard.example.com";
const OLIVE = "olive.operator@acme.example";
const OTTO = "otto.operator@acme.example";

interface Person {
  team: TestTeam;
  jwt: string;
}

async function post(who: Person, path: string, fields: Record<string, string | string[]>) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) body.append(k, one);
  const res = await callWith(who.team.vars, path, {
    method: "POST",
    headers: {
      "cf-access-jwt-assertion": who.jwt,
      "content-type": "application/x-www-form-urlencoded",
      origin: ORIGIN,
    },
    body: body.toString(),
    redirect: "manual",
  });
  return { res, html: await res.text() };
}

async function putIdentities(identities: unknown[]) {
  const res = await admin("/identities", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identities }),
  });
  expect(res.status).toBe(200);
}

async function planned(runId: string): Promise<number> {
  const view = (await (await admin(`/runs/${runId}?limit=1`)).json()) as { plan: { shares: number } };
  return view.plan.shares;
}

const runIdOf = (res: Response) => (res.headers.get("location") ?? "").split("/").pop() ?? "";

interface Listed {
  runs: Array<{ runId: string; source: string; dryRun: boolean }>;
}

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("review3: the confirmation of a dry run", () => {
  it("cancels the shares of the KooDrive user the plan showed, even when the identity map changed since", async () => {
    const email = `dana-${uniqueId("m").toLowerCase()}@acme.example`;
    await putIdentities([{ email, koodriveUserId: DEMO.leaver }]);
    const team = await newTeam({ CONSOLE_OPERATORS: OLIVE });
    const olive = { team, jwt: await team.sign({ email: OLIVE }) };

    const dry = await post(olive, "/console/offboard", { person: email, reason: "left" });
    expect(dry.res.status).toBe(303);
    const dryRun = await waitForRun(runIdOf(dry.res));
    expect(dryRun.status).toBe("dry_run");
    expect(dryRun.koodriveUserId).toBe(DEMO.leaver); // the plan: Dana's shares

    // Between the plan and the confirmation an admin re-maps the e-mail (a typo fixed, a suggestion confirmed).
    await putIdentities([{ email, koodriveUserId: DEMO.seller }]);
    const sellerBefore = (await sim.shares(DEMO.seller, "active")).length;
    expect(sellerBefore).toBeGreaterThan(0);

    const confirm = await post(olive, `/console/offboard/${dryRun.runId}/confirm`, { typed: email });
    expect(confirm.res.status).toBe(303);
    const real = await waitForRun(runIdOf(confirm.res));
    // The operator confirmed Dana's plan: the real run must be Dana's (or be refused), never Sam's.
    expect({
      user: real.koodriveUserId,
      sellerActive: (await sim.shares(DEMO.seller, "active")).length,
    }).toEqual({
      user: DEMO.leaver,
      sellerActive: sellerBefore,
    });
  });

  it("runs for the person the dry run resolved when the dry run came from HR (e-mail mapped, HR id not)", async () => {
    const email = `hr-dana-${uniqueId("m").toLowerCase()}@acme.example`;
    await putIdentities([{ email, koodriveUserId: DEMO.leaver }]);
    const hrId = `E-${uniqueId("h")}`;
    const res = await sendHr(
      offboardedEvent({ id: hrId, email, name: "Dana Leaver" }, { options: { dryRun: true } }),
    );
    expect(res.status).toBe(202);
    const { runId } = (await res.json()) as { runId: string };
    const dryRun = await waitForRun(runId);
    expect(dryRun).toMatchObject({ status: "dry_run", koodriveUserId: DEMO.leaver });

    const team = await newTeam({ CONSOLE_OPERATORS: OLIVE });
    const olive = { team, jwt: await team.sign({ email: OLIVE }) };
    const confirm = await post(olive, `/console/offboard/${runId}/confirm`, { typed: email });
    expect(confirm.res.status).toBe(303);
    const real = await waitForRun(runIdOf(confirm.res));
    // The plan page offered "Cancel N shares" of KooDrive user DEMO.leaver; the run must be that plan.
    expect({ status: real.status, user: real.koodriveUserId }).toEqual({
      status: "completed",
      user: DEMO.leaver,
    });
  });

  it("two operators confirming the same dry run start one real run, not two", async () => {
    const team = await newTeam({ CONSOLE_OPERATORS: `${OLIVE},${OTTO}` });
    const olive = { team, jwt: await team.sign({ email: OLIVE }) };
    const otto = { team, jwt: await team.sign({ email: OTTO }) };
    const dry = await post(olive, "/console/offboard", { person: DEMO.leaver, reason: "left" });
    const dryRun = await waitForRun(runIdOf(dry.res));
    expect(dryRun.status).toBe("dry_run");

    const n = String(await planned(dryRun.runId));
    const first = await post(olive, `/console/offboard/${dryRun.runId}/confirm`, { typed: n });
    const second = await post(otto, `/console/offboard/${dryRun.runId}/confirm`, { typed: n });
    expect([first.res.status, second.res.status]).toEqual([303, 303]);
    const firstId = runIdOf(first.res);
    const secondId = runIdOf(second.res);
    await waitForRun(firstId);
    if (secondId.startsWith("console-")) await waitForRun(secondId);
    const listed = (await (
      await admin(
        `/runs?source=console&person=${DEMO.leaver}&limit=200&since=${encodeURIComponent(dryRun.createdAt)}`,
      )
    ).json()) as Listed;
    const real = listed.runs.filter((r) => !r.dryRun).map((r) => r.runId);
    expect(real).toEqual([firstId]);
  });
});

describe("review3: bad console form input", () => {
  it("a typed confirmation longer than 400 characters is a 4xx page, not a 500", async () => {
    const team = await newTeam({ CONSOLE_OPERATORS: OLIVE });
    const olive = { team, jwt: await team.sign({ email: OLIVE }) };
    const dry = await post(olive, "/console/offboard", { person: DEMO.leaver, reason: "left" });
    const dryRun = await waitForRun(runIdOf(dry.res));
    expect(dryRun.status).toBe("dry_run");
    const long = await post(olive, `/console/offboard/${dryRun.runId}/confirm`, { typed: "3".repeat(401) });
    expect(long.res.status).toBeGreaterThanOrEqual(400);
    expect(long.res.status).toBeLessThan(500);
  });

  it("a malformed multipart form is a 4xx page, not a 500", async () => {
    const team = await newTeam({ CONSOLE_OPERATORS: OLIVE });
    const jwt = await team.sign({ email: OLIVE });
    const res = await callWith(team.vars, "/console/offboard", {
      method: "POST",
      headers: {
        "cf-access-jwt-assertion": jwt,
        "content-type": "multipart/form-data; boundary=xyz",
        origin: ORIGIN,
      },
      body: "this is not multipart at all",
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
});

describe("review3: console bulk confirmation of suggested matches", () => {
  it("never stores a match KooDrive was not asked about (more matches than the API allows are refused)", async () => {
    const { users } = await sim.seed({ users: [{ name: "Sam Same" }] });
    const same = (users as [SeededUser])[0];
    await runInDurableObject(env.PEOPLE_SEEN.getByName("people"), async (_i, state) => {
      state.storage.sql.exec("DELETE FROM people");
      state.storage.sql.exec("UPDATE meta SET v = 0 WHERE k = 'count'");
    });
    const d = `${uniqueId("d").toLowerCase().replace(/_/g, "-")}.example`;
    const seen = async (id: string, email: string, name: string) => {
      const raw = JSON.stringify({
        type: "employee.updated",
        timestamp: new Date().toISOString(),
        data: { employee: { id, email, name } },
      });
      const r = await postHr(raw);
      expect(r.status).toBe(200);
    };
    for (let i = 0; i < 25; i++) await seen(`E-S${i}`, `same${i}@${d}`, "Sam Same");
    await seen("E-ZED", `zed@${d}`, "Zed Other");
    // 25 true namesakes, then Zed mapped to Sam Same's KooDrive id: not a candidate (another name).
    const fields: Array<[string, string]> = [["action", "confirm"]];
    for (let i = 0; i < 25; i++) fields.push(["match", `${same.userId}:email:same${i}@${d}`]);
    fields.push(["match", `${same.userId}:email:zed@${d}`]);
    const res = await admin("/console/identities/suggestions/bulk", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
      body: new URLSearchParams(fields).toString(),
    });
    const zed = await admin(`/identities/${encodeURIComponent(`zed@${d}`)}`);
    expect({ status: res.status >= 400 && res.status < 500, zedMapped: zed.status }).toEqual({
      status: true,
      zedMapped: 404,
    });
  });
});
