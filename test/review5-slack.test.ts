import { beforeEach, describe, expect, it } from "vitest";
import { APPROVE_ACTION_ID } from "../src/offboarding/approval";
import { freeLeaver } from "./helpers/leaver";
import { DEMO, sim } from "./helpers/sim";
import { gatedSlackRun, SLACK_TEAM, signedSlack } from "./helpers/slack";
import { admin, clearHolds, uniqueId } from "./helpers/worker";

/** Review 5: four eyes on Slack buttons. */

const TEAM = SLACK_TEAM;
const OTHER_WORKSPACE = "T0SECONDWS";
const REQUESTER = "U2CERLKJA"; // an operator (vitest.config.ts SLACK_OPERATORS)
const COMMAND_URL = "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN";
const CLICK_URL = "https://hooks.slack.com/actions/T1DC2JH3J/555/clickClickClickSecret";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
  await freeLeaver(DEMO.leaver);
});

const signed = (path: string, body: string, vars: Record<string, string> = {}) =>
  signedSlack(path, body, vars);

const gatedRun = (who: string = DEMO.leaver) =>
  gatedSlackRun({ who, requester: REQUESTER, responseUrl: COMMAND_URL });

const statusOf = async (runId: string) =>
  ((await (await admin(`/runs/${runId}`)).json()) as { status: string }).status;

describe("review5: Slack four eyes", () => {
  it("review5: the requester clicking Approve from another workspace (Enterprise Grid / Slack Connect) is refused", async () => {
    const runId = await gatedRun();
    // The same Slack user (user ids are global in Slack; SLACK_OPERATORS lists the user id alone) clicks
    // the button in a channel of another workspace of the org: Slack names that workspace in `team`.
    const payload = {
      type: "block_actions",
      trigger_id: uniqueId("click"),
      response_url: CLICK_URL,
      team: { id: OTHER_WORKSPACE },
      user: { id: REQUESTER, username: "roadrunner", team_id: TEAM },
      actions: [
        { action_id: APPROVE_ACTION_ID, block_id: "koodrive_decision", value: runId, type: "button" },
      ],
    };
    const res = await signed(
      "/chatops/slack/interactions",
      new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
    );
    expect(res.status).toBe(200);
    expect(await statusOf(runId)).toBe("awaiting_approval");
  });

  it("review5: the requester clicking Approve where Slack sends no team (org-wide app) is refused", async () => {
    await freeLeaver(DEMO.seller);
    const runId = await gatedRun(DEMO.seller);
    const payload = {
      type: "block_actions",
      trigger_id: uniqueId("click"),
      response_url: CLICK_URL,
      team: null,
      user: { id: REQUESTER, username: "roadrunner", team_id: "E0ENTERPRISE" },
      actions: [
        { action_id: APPROVE_ACTION_ID, block_id: "koodrive_decision", value: runId, type: "button" },
      ],
    };
    const res = await signed(
      "/chatops/slack/interactions",
      new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
    );
    expect(res.status).toBe(200);
    expect(await statusOf(runId)).toBe("awaiting_approval");
  });
});
