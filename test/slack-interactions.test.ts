import { beforeEach, describe, expect, it } from "vitest";
import { APPROVE_ACTION_ID, REJECT_ACTION_ID } from "../src/offboarding/approval";
import { freeLeaver } from "./helpers/leaver";
import { DEMO, sim } from "./helpers/sim";
import { gatedSlackRun, SLACK_TEAM, signedSlack } from "./helpers/slack";
import { admin, call, clearHolds, uniqueId, waitForRun } from "./helpers/worker";

/**
 * Issue 11: Slack's Approve / Reject buttons (POST /chatops/slack/interactions). Requests are signed with the
 * independent test signer (Slack's published scheme), never with the code under test.
 */

const TEAM = SLACK_TEAM;
const REQUESTER = "U2CERLKJA"; // an operator (vitest.config.ts SLACK_OPERATORS)
const OTHER_OPERATOR = "W0OPERATOR2";
const NOT_OPERATOR = "U0NOTANOP";
const COMMAND_URL = "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN";
const CLICK_URL = "https://hooks.slack.com/actions/T1DC2JH3J/555/clickClickClickSecret";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
  await freeLeaver(DEMO.leaver);
});

const signed = signedSlack;

/** Typed by the requester (default) or another operator; each test a different command. */
const gatedRun = (who: string = DEMO.leaver, requester = REQUESTER) =>
  gatedSlackRun({ who, requester, responseUrl: COMMAND_URL });

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
    const runId = await gatedRun();
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
    const runId = await gatedRun(DEMO.leaver, OTHER_OPERATOR);
    const body = clickBody(REQUESTER, REJECT_ACTION_ID, runId, uniqueId("trigger-replayed"));
    expect((await click(body)).status).toBe(200);
    expect((await waitForRun(runId)).status).toBe("rejected");
    expect((await click(body)).status).toBe(200); // the same signed click again
    expect((await decisions(runId)).map((r) => r.status)).toEqual(["rejected"]);
    expect((await sim.shares(DEMO.leaver, "active")).length).toBe(before);
  });

  it("refuses forged and stale clicks (401) and non-operators; nothing is decided", async () => {
    const runId = await gatedRun(DEMO.seller);
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
