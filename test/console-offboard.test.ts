/**
 * The console's "Offboard someone" (issue 9 section 3) and who may use the console's write forms, through
 * the Worker's real entry, as Cloudflare Access identities (test/helpers/access.ts): a dry run shows the exact
 * plan (shares by scope as the simulator has them, held shares and the hold), a wrong typed confirmation
 * starts nothing, the right one starts the real run (source console) that cancels in the simulator,
 * audited as the verified actor. Viewers and operators are refused what their role does not allow.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { newTeam, type TestTeam } from "./helpers/access";
import { callWith } from "./helpers/env";
import { DEMO, sim } from "./helpers/sim";
import { admin, clearHolds, uniqueId, waitForRun } from "./helpers/worker";

const ORIGIN = "https://offboard.example.com";
const OLIVE = "olive.operator@acme.example";
const VERA = "vera.viewer@acme.example";

interface Person {
  team: TestTeam;
  jwt: string;
}

async function person(roles: Record<string, string>, email: string): Promise<Person> {
  const team = await newTeam(roles);
  return { team, jwt: await team.sign({ email }) };
}

/** A console GET as the browser sends it behind Access. */
async function get(who: Person, path: string) {
  const res = await callWith(who.team.vars, path, { headers: { "cf-access-jwt-assertion": who.jwt } });
  return { res, html: await res.text() };
}

/** A console form post from the console's own page (same Origin), behind Access. */
async function post(who: Person, path: string, fields: Record<string, string | string[]>, origin = ORIGIN) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) body.append(k, one);
  const requestId = uniqueId("co");
  const res = await callWith(who.team.vars, path, {
    method: "POST",
    headers: {
      "cf-access-jwt-assertion": who.jwt,
      "content-type": "application/x-www-form-urlencoded",
      origin,
      "x-request-id": requestId,
    },
    body: body.toString(),
    redirect: "manual",
  });
  return { res, html: await res.text(), requestId };
}

interface Listed {
  runs: Array<{ runId: string; source: string; dryRun: boolean }>;
}
const consoleRuns = async () =>
  ((await (await admin(`/runs?source=console&person=${DEMO.leaver}&limit=200`)).json()) as Listed).runs;

async function cancels(): Promise<number> {
  return (await sim.calls(0, 10_000)).calls.filter((c) => c.method === "POST" && /cancel/i.test(c.path))
    .length;
}

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("Offboard someone", () => {
  it("dry run -> exact plan by scope with the held share -> wrong confirmation starts nothing -> right one cancels, as the operator", async () => {
    const olive = await person({ CONSOLE_OPERATORS: OLIVE }, OLIVE);
    const shares = await sim.shares(DEMO.leaver, "active");
    const held = shares[0];
    if (!held) throw new Error("the demo leaver has no shares");
    const hold = await admin("/holds", {
      method: "PUT",
      headers: { "content-type": "application/json", "if-match": "*" },
      body: JSON.stringify({ holds: [{ type: "share", id: held.shareId, reason: "LH-42 legal hold" }] }),
    });
    expect(hold.status).toBe(200);

    const form = await get(olive, "/console/offboard");
    expect(form.res.status).toBe(200);
    expect(form.html).toContain('action="/console/offboard"');

    const dry = await post(olive, "/console/offboard", {
      person: DEMO.leaver,
      scope: ["1", "2", "3"],
      reason: "left the company",
    });
    expect(dry.res.status).toBe(303);
    const planUrl = dry.res.headers.get("location") ?? "";
    const dryRunId = /^\/console\/offboard\/(console-[0-9a-f]{32})$/.exec(planUrl)?.[1] ?? "";
    expect(dryRunId).not.toBe("");
    expect((await waitForRun(dryRunId)).status).toBe("dry_run");
    expect(await cancels()).toBe(0);

    const plan = await get(olive, planUrl);
    expect(plan.res.status).toBe(200);
    const expected: Record<string, number> = {};
    for (const s of shares) expected[String(s.scope)] = (expected[String(s.scope)] ?? 0) + 1;
    expected[String(held.scope)] = (expected[String(held.scope)] ?? 0) - 1;
    const total = shares.length - 1;
    for (const scope of ["1", "2", "3"]) {
      const row = new RegExp(
        `data-scope="${scope}">[\\s\\S]*?data-cell="cancel">(\\d+)</td><td data-cell="held">(\\d+)</td>`,
      ).exec(plan.html);
      expect(Number(row?.[1]), `scope ${scope}`).toBe(expected[scope] ?? 0);
      expect(Number(row?.[2]), `held in scope ${scope}`).toBe(scope === String(held.scope) ? 1 : 0);
    }
    expect(plan.html).toContain(`${total} shares would be cancelled`);
    expect(plan.html).toContain(held.shareId);
    expect(plan.html).toContain("LH-42 legal hold");
    expect(plan.html).toContain(`Cancel ${total} shares`);

    const wrong = await post(olive, `/console/offboard/${dryRunId}/confirm`, { typed: String(total + 1) });
    expect(wrong.res.status).toBe(422);
    expect(wrong.html).toContain("does not match");
    expect((await consoleRuns()).filter((r) => !r.dryRun)).toEqual([]);
    expect(await cancels()).toBe(0);
    expect((await sim.shares(DEMO.leaver, "active")).length).toBe(shares.length);

    const right = await post(olive, `/console/offboard/${dryRunId}/confirm`, { typed: String(total) });
    expect(right.res.status).toBe(303);
    const runId = /^\/console\/runs\/(console-[0-9a-f]{32})$/.exec(
      right.res.headers.get("location") ?? "",
    )?.[1];
    if (!runId) throw new Error(`no run in ${right.res.headers.get("location")}`);
    expect(runId).not.toBe(dryRunId);
    expect((await waitForRun(runId)).status).toBe("completed");
    const left = await sim.shares(DEMO.leaver, "active");
    expect(left.map((s) => s.shareId)).toEqual([held.shareId]);

    // A second submit of the same confirmation finds that run instead of starting another.
    const again = await post(olive, `/console/offboard/${dryRunId}/confirm`, { typed: String(total) });
    expect(again.res.headers.get("location")).toBe(`/console/runs/${runId}`);
    expect((await consoleRuns()).filter((r) => !r.dryRun).map((r) => r.runId)).toEqual([runId]);

    const detail = (await (await admin(`/runs/${runId}`)).json()) as Record<string, unknown>;
    expect(detail).toMatchObject({ source: "console", dryRun: false, reason: "left the company" });
    expect(detail.scopes).toEqual([1, 2, 3]);
    const audit = (await (await admin(`/audit?user=${DEMO.leaver}&limit=100`)).json()) as {
      records: Array<{
        type: string;
        actor: string;
        verifiedBy?: string;
        runId?: string;
        requestId?: string;
      }>;
    };
    expect(audit.records.find((r) => r.type === "request.received" && r.runId === runId)).toMatchObject({
      actor: OLIVE,
      verifiedBy: "cloudflare-access",
      requestId: right.requestId,
    });
    // The run page follows it (the existing page) and names the console as its source.
    expect((await get(olive, `/console/runs/${runId}`)).html).toContain("console · event");
  });

  it("says nothing to cancel (no confirmation form) and why a person is unresolved", async () => {
    await sim.reset(); // before the team: a reset forgets the key sets the simulator serves
    await sim.seed({ users: [{ userId: "1505084218764549990", name: "Nora None", shares: 0 }], seed: 3 });
    const olive = await person({ CONSOLE_OPERATORS: OLIVE }, OLIVE);
    const none = await post(olive, "/console/offboard", { person: "1505084218764549990", reason: "r" });
    const noneId = (none.res.headers.get("location") ?? "").split("/").pop() ?? "";
    await waitForRun(noneId);
    const nonePlan = await get(olive, `/console/offboard/${noneId}`);
    expect(nonePlan.html).toContain("Nothing to cancel");
    expect(nonePlan.html).not.toContain("/confirm");

    const ghost = await post(olive, "/console/offboard", { person: "ghost@nowhere.example", reason: "r" });
    const ghostId = (ghost.res.headers.get("location") ?? "").split("/").pop() ?? "";
    expect((await waitForRun(ghostId)).status).toBe("unresolved");
    const ghostPlan = await get(olive, `/console/offboard/${ghostId}`);
    expect(ghostPlan.html).toContain('data-testid="plan-problem"');
    expect(ghostPlan.html).toContain("could not be resolved");
    expect(ghostPlan.html).not.toContain("/confirm");
    const refused = await post(olive, `/console/offboard/${ghostId}/confirm`, { typed: "0" });
    expect(refused.res.status).toBe(409);
  });

  it("shows the form's errors (422) and starts nothing for a bad person", async () => {
    const olive = await person({ CONSOLE_OPERATORS: OLIVE }, OLIVE);
    const before = (await consoleRuns()).length;
    const bad = await post(olive, "/console/offboard", { person: "not a person", reason: "r" });
    expect(bad.res.status).toBe(422);
    expect(bad.html).toContain("Nothing was started");
    expect(bad.html).toContain('value="not a person"');
    expect((await consoleRuns()).length).toBe(before);
  });

  it("refuses a dry run posted from another site (CSRF) and starts nothing", async () => {
    const olive = await person({ CONSOLE_OPERATORS: OLIVE }, OLIVE);
    const before = (await consoleRuns()).length;
    const evil = await post(
      olive,
      "/console/offboard",
      { person: DEMO.leaver, reason: "forged" },
      "https://evil.example",
    );
    expect(evil.res.status).toBe(403);
    expect((await consoleRuns()).length).toBe(before);
  });
});

describe("roles on the console's write forms", () => {
  it("a viewer sees no write form and gets a 403 page for every write, which changes nothing", async () => {
    const vera = await person({ CONSOLE_VIEWERS: VERA }, VERA);
    const offboard = await get(vera, "/console/offboard");
    expect(offboard.res.status).toBe(200);
    expect(offboard.html).toContain("but not start one");
    expect(offboard.html).not.toContain('method="post"');
    for (const path of ["/console/holds", "/console/identities"]) {
      const page = await get(vera, path);
      expect(page.res.status, path).toBe(200);
      expect(page.html, path).not.toContain('method="post"');
    }
    expect((await get(vera, "/console/tokens")).res.status).toBe(403);

    const holdsBefore = await (await admin("/holds")).text();
    const tokensBefore = await (await admin("/tokens")).text();
    const runsBefore = (await consoleRuns()).length;
    const writes: Array<[string, Record<string, string>]> = [
      ["/console/offboard", { person: DEMO.leaver, reason: "x" }],
      ["/console/tokens", { name: "vera-token", role: "admin" }],
      ["/console/holds", { type: "share", id: "1689759841444195101", reason: "x", version: "0" }],
      ["/console/identities", { file: "email,koodriveUserId\n" }],
    ];
    for (const [path, fields] of writes) {
      const { res, html } = await post(vera, path, fields);
      expect(res.status, path).toBe(403);
      expect(html, path).toContain("Not allowed");
    }
    expect(await (await admin("/holds")).text()).toBe(holdsBefore);
    expect(await (await admin("/tokens")).text()).toBe(tokensBefore);
    expect((await consoleRuns()).length).toBe(runsBefore);
  });

  it("an operator can offboard but not change tokens or holds", async () => {
    const olive = await person({ CONSOLE_OPERATORS: OLIVE }, OLIVE);
    expect((await get(olive, "/console/tokens")).res.status).toBe(403);
    const holds = await get(olive, "/console/holds");
    expect(holds.html).not.toContain('method="post"');
    const tokensBefore = await (await admin("/tokens")).text();
    const holdsBefore = await (await admin("/holds")).text();
    expect((await post(olive, "/console/tokens", { name: "olive-token", role: "admin" })).res.status).toBe(
      403,
    );
    expect(
      (await post(olive, "/console/holds", { type: "user", id: DEMO.leaver, reason: "x", version: "0" })).res
        .status,
    ).toBe(403);
    expect(await (await admin("/tokens")).text()).toBe(tokensBefore);
    expect(await (await admin("/holds")).text()).toBe(holdsBefore);
    const dry = await post(olive, "/console/offboard", { person: DEMO.leaver, reason: "check" });
    expect(dry.res.status).toBe(303);
    await waitForRun((dry.res.headers.get("location") ?? "").split("/").pop() ?? "");
  });
});
