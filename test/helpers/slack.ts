/**
 * Slack requests for tests: signed with the independent test signer (Slack's published scheme, signers.ts),
 * never with the code under test, and sent through the real entry with `vars` over the env.
 */
import { expect } from "vitest";
import { callWith } from "./env";
import { signSlack } from "./signers";
import { uniqueId, waitForStatus } from "./worker";

/** The signing secret configured in vitest.config.ts: that of Slack's published example. */
export const SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
export const SLACK_TEAM = "T1DC2JH3J";
/** Runs started from Slack wait for approval. */
export const GATED = { APPROVAL_REQUIRED: "slack" };

/**
 * A form `body` POSTed to `path`, signed at `opts.ts` (default now) unless `opts.signature` is given.
 * callWith waits for the request's waitUntil work: posts to a response_url are done when this returns.
 */
export async function signedSlack(
  path: string,
  body: string,
  vars: Record<string, string> = {},
  opts: { ts?: number; signature?: string } = {},
): Promise<Response> {
  const ts = opts.ts ?? Math.floor(Date.now() / 1000);
  const headers = {
    "content-type": "application/x-www-form-urlencoded",
    "x-slack-request-timestamp": String(ts),
    "x-slack-signature": opts.signature ?? (await signSlack(SLACK_SECRET, ts, body)),
  };
  return callWith(vars, path, { method: "POST", headers, body });
}

/**
 * `/koodrive offboard <who>` typed by `requester` with `vars` (default: approval required for Slack);
 * waits until the run is `awaiting_approval` and returns its id. The same command by the same person within
 * 10 minutes is the same run (commands.ts `commandKey`): each test types its own.
 */
export async function gatedSlackRun(opts: {
  who: string;
  requester: string;
  responseUrl: string;
  vars?: Record<string, string>;
}): Promise<string> {
  const body = new URLSearchParams({
    team_id: SLACK_TEAM,
    user_id: opts.requester,
    user_name: "roadrunner",
    command: "/koodrive",
    text: `offboard ${opts.who}`,
    response_url: opts.responseUrl,
    trigger_id: uniqueId("trigger"),
  }).toString();
  const res = await signedSlack("/chatops/slack", body, opts.vars ?? GATED);
  const text = ((await res.json()) as { text: string }).text;
  const runId = /`(slack-[0-9a-f]{32})`/.exec(text)?.[1] ?? "";
  expect(runId).not.toBe("");
  await waitForStatus(runId, "awaiting_approval");
  return runId;
}
