import { beforeEach, describe, expect, it } from "vitest";
import { REPEAT_WINDOW_MS } from "../src/sources/chat/commands";
import { at } from "./helpers/env";
import { signSlack } from "./helpers/signers";
import { DEMO, sim } from "./helpers/sim";
import { call, clearHolds, uniqueId, waitForRun } from "./helpers/worker";

/** The signing secret configured in vitest.config.ts (Slack's published example) and its operator. */
const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const OPERATOR = "U2CERLKJA";

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
});

describe("Slack replays (the Teams finding 3, for Slack)", () => {
  it("a captured slash command replayed 2 minutes later, in a new 10-minute window, starts no second run", async () => {
    const boundary = (Math.floor(Date.now() / REPEAT_WINDOW_MS) + 1) * REPEAT_WINDOW_MS;
    const sentAt = boundary - 60_000;
    const ts = Math.floor(sentAt / 1000);
    // One command, as Slack sends it once: its own trigger_id, signed with its timestamp.
    const body = new URLSearchParams({
      team_id: "T1DC2JH3J",
      user_id: OPERATOR,
      user_name: "roadrunner",
      command: "/koodrive",
      text: `offboard ${DEMO.leaver} dry-run`,
      response_url: "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN",
      trigger_id: uniqueId("trigger"),
    }).toString();
    const signature = await signSlack(SECRET, ts, body);
    const send = async () => {
      const res = await call("/chatops/slack", {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "x-slack-request-timestamp": String(ts),
          "x-slack-signature": signature,
        },
        body,
      });
      return ((await res.json()) as { text: string }).text;
    };
    const first = await at(sentAt, send);
    const firstRun = /`(slack-[0-9a-f]{32})`/.exec(first)?.[1] ?? "";
    expect(firstRun).not.toBe("");
    // Replayed 2 minutes later: the signature is still fresh (300 s), the command window is a new one.
    const replayed = await at(sentAt + 2 * 60_000, send);
    const replayRun = /`(slack-[0-9a-f]{32})`/.exec(replayed)?.[1] ?? "";
    await waitForRun(firstRun);
    if (replayRun !== "" && replayRun !== firstRun) await waitForRun(replayRun); // leave nothing running
    expect(replayRun === "" || replayRun === firstRun).toBe(true);
  });
});
