import { beforeEach, describe, expect, it } from "vitest";
import { signSlack } from "./helpers/signers";
import { DEMO, sim } from "./helpers/sim";
import { admin, call, clearHolds, uniqueId, waitForRun } from "./helpers/worker";

/** The signing secret configured in vitest.config.ts: that of Slack's published example (test/unit/slack-verify). */
const VECTOR = { secret: "8f742231b10e8888abcd99yyyzzz85a5" };
const OPERATOR = "U2CERLKJA";

function form(fields: Record<string, string>): string {
  return new URLSearchParams({
    token: "legacy-ignored",
    team_id: "T1DC2JH3J",
    team_domain: "testteamnow",
    channel_id: "G8PSS9T3V",
    user_id: OPERATOR,
    user_name: "roadrunner",
    command: "/koodrive",
    text: "",
    response_url: "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN",
    trigger_id: uniqueId("trigger"),
    ...fields,
  }).toString();
}

async function slash(body: string, opts: { timestamp?: number; secret?: string; signature?: string } = {}) {
  const ts = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = opts.signature ?? (await signSlack(opts.secret ?? VECTOR.secret, ts, body));
  return call("/chatops/slack", {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": String(ts),
      "x-slack-signature": signature,
    },
    body,
  });
}

async function reply(res: Response): Promise<string> {
  expect(res.status).toBe(200);
  const body = (await res.json()) as { response_type: string; text: string };
  expect(body.response_type).toBe("ephemeral");
  return body.text;
}

const runIdIn = (text: string) => /`((?:slack)-[0-9a-f]{32})`/.exec(text)?.[1] ?? "";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

/** Waits until the run's result was posted to the published example's response_url (in the call log). */
async function waitForSlackPost(): Promise<void> {
  const deadline = Date.now() + 10_000;
  let posted = false;
  while (!posted && Date.now() < deadline) {
    posted = (await sim.calls(0)).calls.some(
      (c) => c.path === "/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN",
    );
    if (!posted) await new Promise((r) => setTimeout(r, 100));
  }
  expect(posted).toBe(true);
}

describe("POST /chatops/slack: /koodrive", () => {
  it("an operator offboards by KooDrive id; the result is posted back to the command's response_url", async () => {
    const before = await sim.shares(DEMO.leaver, "active");
    const text = await reply(await slash(form({ text: `offboard ${DEMO.leaver}` })));
    expect(text).toMatch(/Offboarding started/);
    const runId = runIdIn(text);
    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    expect(run.counts.cancelled).toBe(before.length);
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(0);
    // The follow-up went to Slack's response_url (in tests every outbound fetch lands in the simulator's log).
    await waitForSlackPost();
    // The trail names the Slack user as the actor; the response_url (a capability) is nowhere in it.
    const audit = await (await admin(`/audit?user=${DEMO.leaver}&limit=50`)).text();
    expect(audit).toContain("slack:T1DC2JH3J:U2CERLKJA (roadrunner)");
    expect(audit).not.toContain("96rGlfmibIGlgcZRskXaIFfN");
    expect(await (await admin(`/runs/${runId}`)).text()).not.toContain("96rGlfmibIGlgcZRskXaIFfN");
    const status = await reply(await slash(form({ text: `status ${runId}` })));
    expect(status).toMatch(/\*completed\*/);
    expect(status).toContain(`${before.length} cancelled`);
  });

  it("a dry run by e-mail cancels nothing; the same command typed again soon after starts nothing new", async () => {
    const body = form({ text: "offboard dana.leaver@example.com dry-run", trigger_id: "398738663015.1.abc" });
    const first = await reply(await slash(body));
    expect(first).toMatch(/Dry run started/);
    // Typed again (say, after Slack timed out), with a new trigger_id: still the same run.
    const again = await reply(await slash(body.replace("398738663015.1.abc", "398738663015.2.def")));
    expect(again).toContain("(already running)");
    expect(runIdIn(again)).toBe(runIdIn(first));
    await waitForRun(runIdIn(first));
    expect((await sim.calls(0)).calls.filter((c) => c.endpoint === "cancel")).toHaveLength(0);
    // The run posts its result to the command's response_url just after it finishes: wait for that post,
    // so it does not land in the next test's call log.
    await waitForSlackPost();
  });

  it("someone who is not an operator gets help, but cannot offboard or read runs (and is on record)", async () => {
    expect(await reply(await slash(form({ user_id: "U0SOMEONE", text: "help" })))).toMatch(/offboard/);
    const refused = await reply(await slash(form({ user_id: "U0SOMEONE", text: `offboard ${DEMO.leaver}` })));
    expect(refused).toMatch(/not a KooDrive Offboard operator/);
    expect((await sim.calls(0)).calls).toHaveLength(0);
    const audit = (await (await admin("/audit?limit=5")).json()) as {
      records: Array<{ type: string; source?: string }>;
    };
    expect(audit.records.some((r) => r.type === "request.rejected" && r.source === "slack")).toBe(true);
  });

  it("answers usage to a bad command or target, and posts nowhere but Slack", async () => {
    expect(await reply(await slash(form({ text: "launch rockets" })))).toMatch(/Unknown command/);
    expect(await reply(await slash(form({ text: "offboard not-a-person" })))).toMatch(/neither an e-mail/);
    expect(await reply(await slash(form({ text: "status hr-123" })))).toMatch(/Usage/);
    const text = await reply(
      await slash(
        form({ text: `offboard ${DEMO.leaver} dry-run`, response_url: "https://evil.example/steal" }),
      ),
    );
    expect(text).not.toMatch(/post the result/);
    await waitForRun(runIdIn(text));
    expect((await sim.calls(0)).calls.some((c) => c.path === "/steal")).toBe(false);
  });

  it("401 for a bad or stale signature (nothing runs); 200 to Slack's ssl_check", async () => {
    const body = form({ text: `offboard ${DEMO.leaver}` });
    const forged = await slash(body, { secret: "not-the-signing-secret-000000000" });
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    expect((await slash(body, { timestamp: Math.floor(Date.now() / 1000) - 600 })).status).toBe(401);
    expect((await slash(body, { signature: "v0=" })).status).toBe(401);
    expect((await sim.calls(0)).calls).toHaveLength(0);
    const probe = await call("/chatops/slack", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "ssl_check=1&token=x",
    });
    expect(probe.status).toBe(200);
  });
});
