import { beforeEach, describe, expect, it } from "vitest";
import { APPROVE_ACTION_ID, REJECT_ACTION_ID } from "../src/offboarding/approval";
import { callWith } from "./helpers/env";
import { freeLeaver } from "./helpers/leaver";
import { signSlack } from "./helpers/signers";
import { DEMO, sim } from "./helpers/sim";
import { admin, call, clearHolds, uniqueId, waitForRun, waitForStatus } from "./helpers/worker";

/**
 * Issue 11: Slack's Approve / Reject buttons (POST /chatops/slack/interactions). Requests are signed with the
 * independent test signer (Slack's published scheme), never with the code under test.
 */

const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const TEAM = "T1DC2JH3J";
const REQUESTER = "U2CERLKJA"; // an operator (vitest.config.ts SLACK_OPERATORS)
const OTHER_OPERATOR = "W0OPERATOR2";
const NOT_OPERATOR = "U0NOTANOP";
const COMMAND_URL = "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN";
const CLICK_URL = "https://hooks.slack.com/actions/T1DC2JH3J/555/clickClickClickSecret";
const GATED = { APPROVAL_REQUIRED: "slack" };

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
  await freeLeaver(DEMO.leaver);
});

async function signed(
  path: string,
  body: string,
  vars: Record<string, string> = {},
  opts: { ts?: number; signature?: string } = {},
) {
  const ts = opts.ts ?? Math.floor(Date.now() / 1000);
  const headers = {
    "content-type": "application/x-www-form-urlencoded",
    "x-slack-request-timestamp": String(ts),
    "x-slack-signature": opts.signature ?? (await signSlack(SECRET, ts, body)),
  };
  return callWith(vars, path, { method: "POST", headers, body });
}

/**
 * `/koodrive offboard <who>` typed by `requester`, with approval required for Slack. Each test types a
 * different command: the same command within 10 minutes is the same run (commands.ts `commandKey`).
 */
async function gatedSlackRun(who: string = DEMO.leaver, requester = REQUESTER): Promise<string> {
  const body = new URLSearchParams({
    team_id: TEAM,
    user_id: requester,
    user_name: "roadrunner",
    command: "/koodrive",
    text: `offboard ${who}`,
    response_url: COMMAND_URL,
    trigger_id: uniqueId("trigger"),
  }).toString();
  const res = await signed("/chatops/slack", body, GATED);
  const text = ((await res.json()) as { text: string }).text;
  const runId = /`(slack-[0-9a-f]{32})`/.exec(text)?.[1] ?? "";
  expect(runId).not.toBe("");
  await waitForStatus(runId, "awaiting_approval");
  return runId;
}

function clickBody(user: string, actionId: string, value: string, trigger = uniqueId("click")): string {
  const payload = {
    type: "block_actions",
    trigger_id: trigger,
    response_url: CLICK_URL,
    team: { id: TEAM },
    user: { id: user, username: user.toLowerCase(), team_id: TEAM },
    actions: [{ action_id: actionId, block_id: "koodrive_decision", value, type: "button" }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

const click = (body: string, opts: { ts?: number; signature?: string } = {}) =>
  signed("/chatops/slack/interactions", body, {}, opts);

const statusOf = async (runId: string) =>
  ((await (await admin(`/runs/${runId}`)).json()) as { status: string }).status;

async function decisions(runId: string) {
  const { records } = (await (await admin("/audit?limit=100")).json()) as {
    records: Array<{ runId?: string; type: string; status: string; actor: string }>;
  };
  return records.filter((r) => r.runId === runId && r.type === "run.decision");
}

const posted = async (path: string) => (await sim.calls(0)).calls.filter((c) => c.path === path).length;

describe("Slack buttons", () => {
  it("a Slack-started run waits; the requester's click is refused; another operator's click runs it", async () => {
    const before = (await sim.shares(DEMO.leaver, "active")).length;
    const runId = await gatedSlackRun();
    // The plan and the buttons went to the command's response_url.
    for (
      let i = 0;
      i < 50 && (await posted("/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN")) === 0;
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    expect(await posted("/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN")).toBeGreaterThan(0);

    const own = await click(clickBody(REQUESTER, APPROVE_ACTION_ID, runId));
    expect(own.status).toBe(200);
    expect(await statusOf(runId)).toBe("awaiting_approval");
    expect((await sim.shares(DEMO.leaver, "active")).length).toBe(before);

    const ok = await click(clickBody(OTHER_OPERATOR, APPROVE_ACTION_ID, runId));
    expect(ok.status).toBe(200);
    const done = await waitForRun(runId);
    expect(done.status).toBe("completed");
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(0);
    const d = await decisions(runId);
    expect(d.map((r) => [r.status, r.actor]).sort()).toEqual([
      ["approved", `slack:${TEAM}:${OTHER_OPERATOR} (${OTHER_OPERATOR.toLowerCase()})`],
      ["refused", `slack:${TEAM}:${REQUESTER} (${REQUESTER.toLowerCase()})`],
    ]);
    // The decision replaced the message through the click's response_url.
    expect(await posted("/actions/T1DC2JH3J/555/clickClickClickSecret")).toBeGreaterThan(0);
    // The response URLs (capabilities) are in no answer and no audit record.
    const trail = await (await admin("/audit?limit=100")).text();
    expect(trail).not.toContain("clickClickClickSecret");
    expect(trail).not.toContain("96rGlfmibIGlgcZRskXaIFfN");
  });

  it("Reject ends the run rejected with nothing cancelled; a replayed click decides nothing twice", async () => {
    const before = (await sim.shares(DEMO.leaver, "active")).length;
    const runId = await gatedSlackRun(DEMO.leaver, OTHER_OPERATOR);
    const body = clickBody(REQUESTER, REJECT_ACTION_ID, runId, uniqueId("trigger-replayed"));
    expect((await click(body)).status).toBe(200);
    expect((await waitForRun(runId)).status).toBe("rejected");
    expect((await click(body)).status).toBe(200); // the same signed click again
    expect((await decisions(runId)).map((r) => r.status)).toEqual(["rejected"]);
    expect((await sim.shares(DEMO.leaver, "active")).length).toBe(before);
  });

  it("refuses forged and stale clicks (401) and non-operators; nothing is decided", async () => {
    const runId = await gatedSlackRun(DEMO.seller);
    const body = clickBody(OTHER_OPERATOR, APPROVE_ACTION_ID, runId);
    const forged = await click(body, { signature: `v0=${"0".repeat(64)}` });
    expect(forged.status).toBe(401);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    const stale = await click(body, { ts: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    const outsider = await click(clickBody(NOT_OPERATOR, APPROVE_ACTION_ID, runId));
    expect(outsider.status).toBe(200);
    expect(await statusOf(runId)).toBe("awaiting_approval");
    expect(await decisions(runId)).toEqual([]);
    const { records } = (await (await admin("/audit?limit=50")).json()) as {
      records: Array<{ type: string; actor: string; reason?: string }>;
    };
    expect(
      records.some(
        (r) => r.type === "request.rejected" && r.actor.includes(NOT_OPERATOR) && r.reason?.includes(runId),
      ),
    ).toBe(true);
  });

  it("a malformed payload is a 400 in our envelope; a click that is not ours is acknowledged and ignored", async () => {
    const bad = await click(new URLSearchParams({ payload: "{not json" }).toString());
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("bad_request");
    const none = await click("a=b");
    expect(none.status).toBe(400);
    const other = await click(clickBody(OTHER_OPERATOR, "someone_elses_button", "x"));
    expect(other.status).toBe(200);
    const noRun = await click(clickBody(OTHER_OPERATOR, APPROVE_ACTION_ID, "not-a-run"));
    expect(noRun.status).toBe(400);
    expect(
      (await call("/chatops/slack/interactions", { method: "POST", body: "payload=%7B%7D" })).status,
    ).toBe(401);
  });
});
