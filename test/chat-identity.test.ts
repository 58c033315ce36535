import { beforeEach, describe, expect, it } from "vitest";
import { APPROVE_ACTION_ID } from "../src/offboarding/approval";
import { newTeam, type TestTeam } from "./helpers/access";
import { expectError } from "./helpers/admin";
import { callWith } from "./helpers/env";
import { freeLeaver, runView } from "./helpers/leaver";
import { signTeams } from "./helpers/signers";
import { DEMO, sim } from "./helpers/sim";
import { gatedSlackRun, SLACK_TEAM, signedSlack } from "./helpers/slack";
import { admin, clearHolds, uniqueId, waitForRun, waitForStatus } from "./helpers/worker";

/**
 * Four eyes across chat and the console: a chat operator listed with an e-mail (`SLACK_OPERATORS`
 * `U2CERLKJA=ada@example.com`, the same for `TEAMS_OPERATORS`) is the person of that e-mail, so they cannot
 * decide in the console, by the API or by a Slack button a run they asked for anywhere else. The settings are
 * per request (`callWith`): the link is read when a decision is taken, so the Workflow never needs it.
 * Access identities are tokens signed by the test's own key (helpers/access.ts); Slack and Teams requests
 * by the independent test signers.
 */

const REQUESTER = "U2CERLKJA"; // an operator in vitest.config.ts's SLACK_OPERATORS, there without an e-mail
const OTHER_OPERATOR = "W0OPERATOR2";
const TEAMS_OPERATOR = "6f1c7a2e-0000-4000-8000-0000000000aa"; // vitest.config.ts's TEAMS_OPERATORS
const TEAMS_TOKEN = "dGVhbXMtdGVzdC1zZWN1cml0eS10b2tlbi0wMTIzNDU2Nzg5"; // vitest.config.ts's TEAMS_WEBHOOK_TOKENS
const ADA = "ada@example.com";
const OLGA = "olga@example.com";
/** The link, written as an admin may (spaces, capitals): the e-mail is compared lower-cased. */
const LINKED = { SLACK_OPERATORS: ` ${REQUESTER} = Ada@Example.com , ${OTHER_OPERATOR}` };
const COMMAND_URL = "https://hooks.slack.com/commands/T1DC2JH3J/398800885554/chatIdentityCommand01";
const CLICK_URL = "https://hooks.slack.com/actions/T1DC2JH3J/556/chatIdentityClick002";
/**
 * The command's text: the same command by the same person within 10 minutes is the same run (commands.ts
 * `commandKey`), so this file's differs from the other Slack tests' `offboard <id>`.
 */
const WHO = `${DEMO.leaver} --actions revoke_shares`;

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
  await freeLeaver(DEMO.leaver);
});

const json = (body: unknown = {}) => JSON.stringify(body);

/** A POST to the admin API as Access forwards it for `email`, with `vars` (and the team's) over the env. */
async function asPerson(
  team: TestTeam,
  email: string,
  path: string,
  vars: Record<string, string>,
  body: unknown = {},
): Promise<Response> {
  const jwt = await team.sign({ email, sub: `sub-${email}` });
  return callWith({ ...team.vars, ...vars }, path, {
    method: "POST",
    headers: { "cf-access-jwt-assertion": jwt, "content-type": "application/json" },
    body: json(body),
  });
}

function clickBody(user: string, runId: string): string {
  const payload = {
    type: "block_actions",
    trigger_id: uniqueId("click"),
    response_url: CLICK_URL,
    team: { id: SLACK_TEAM },
    user: { id: user, username: user.toLowerCase(), team_id: SLACK_TEAM },
    actions: [{ action_id: APPROVE_ACTION_ID, block_id: "koodrive_decision", value: runId, type: "button" }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

interface Decision {
  type: string;
  runId?: string;
  status: string;
  actor: string;
  reason?: string;
  details?: Record<string, unknown>;
}

/** The run's `run.decision` records, oldest first. */
async function decisions(runId: string): Promise<Decision[]> {
  const { records } = (await (await admin("/audit?limit=100")).json()) as { records: Decision[] };
  return records.filter((r) => r.runId === runId && r.type === "run.decision").reverse();
}

const requesterOf = async (runId: string) =>
  ((await runView(runId)) as unknown as { approval: { requester: string } }).approval.requester;
const statusOf = async (runId: string) => (await runView(runId)).status;
const active = async () => (await sim.shares(DEMO.leaver, "active")).length;

describe("four eyes: a chat operator linked to an e-mail is one person with that e-mail", () => {
  it("a run U2CERLKJA asked for in Slack before the link existed: its e-mail is refused in the console (403, audited); another operator approves", async () => {
    const before = await active();
    // Requested under vitest.config.ts's SLACK_OPERATORS (no e-mail): the gate stores the Slack identity.
    const runId = await gatedSlackRun({ who: WHO, requester: REQUESTER, responseUrl: COMMAND_URL });
    expect(await requesterOf(runId)).toBe("slack:u2cerlkja");

    const team = await newTeam({ CONSOLE_OPERATORS: `${ADA}, ${OLGA}` });
    const own = await asPerson(team, ADA, `/runs/${runId}/approve`, LINKED);
    const error = await expectError(own, 403, "forbidden");
    expect(error.message).toContain("four eyes");
    expect(error.message).toContain("SLACK_OPERATORS");
    // Rejecting is deciding too.
    const reject = await asPerson(team, ADA, `/runs/${runId}/reject`, LINKED, { reason: "mine" });
    await expectError(reject, 403, "forbidden");
    expect(await statusOf(runId)).toBe("awaiting_approval");
    expect(await active()).toBe(before);

    const ok = await asPerson(team, OLGA, `/runs/${runId}/approve`, LINKED, { reason: "checked" });
    expect(ok.status).toBe(202);
    const done = await waitForRun(runId);
    expect(done.status).toBe("completed");
    expect(await active()).toBe(0);

    const trail = await decisions(runId);
    expect(trail.map((d) => [d.status, d.actor])).toEqual([
      ["refused", ADA],
      ["refused", ADA],
      ["approved", OLGA],
    ]);
    expect(trail[0]?.reason).toMatch(/^four eyes: .*ada@example\.com and slack:u2cerlkja are one person/);
    expect(trail[0]?.details).toMatchObject({ verdict: "approved", via: "cloudflare-access" });
  });

  it("a run ada@ asked for in the console is refused to her Slack user's button (audited with her e-mail); another Slack operator approves", async () => {
    const before = await active();
    const team = await newTeam({ CONSOLE_OPERATORS: ADA });
    const vars = { ...LINKED, APPROVAL_REQUIRED: "api" };
    const started = await asPerson(team, ADA, "/offboardings", vars, { person: DEMO.leaver, reason: "left" });
    expect(started.status).toBe(202);
    const { runId } = (await started.json()) as { runId: string };
    await waitForStatus(runId, "awaiting_approval");
    expect(await requesterOf(runId)).toBe(ADA);

    const own = await signedSlack("/chatops/slack/interactions", clickBody(REQUESTER, runId), LINKED);
    expect(own.status).toBe(200);
    expect(await statusOf(runId)).toBe("awaiting_approval");
    expect(await active()).toBe(before);
    // An operator still (the e-mail does not change who may act from Slack): refused by four eyes, not
    // as a non-operator, and the trail names the person beside the Slack actor.
    const [refused] = await decisions(runId);
    expect(refused).toMatchObject({
      status: "refused",
      actor: `slack:${SLACK_TEAM}:${REQUESTER} (${REQUESTER.toLowerCase()})`,
      details: { verdict: "approved", via: "slack", identity: ADA },
    });
    expect(refused?.reason).toMatch(/^four eyes: .*slack:u2cerlkja and ada@example\.com are one person/);

    const ok = await signedSlack("/chatops/slack/interactions", clickBody(OTHER_OPERATOR, runId), LINKED);
    expect(ok.status).toBe(200);
    const done = await waitForRun(runId);
    expect(done.status).toBe("completed");
    expect(await active()).toBe(0);
    const approved = (await decisions(runId)).find((d) => d.status === "approved");
    expect(approved?.actor).toBe(`slack:${SLACK_TEAM}:${OTHER_OPERATOR} (${OTHER_OPERATOR.toLowerCase()})`);
    // W0OPERATOR2 has no e-mail: no identity beside its actor.
    expect(approved?.details).not.toHaveProperty("identity");
  });

  it("a Teams operator linked in TEAMS_OPERATORS cannot decide in the console the run they asked for in Teams", async () => {
    const vars = {
      TEAMS_OPERATORS: `${TEAMS_OPERATOR}=olu@example.com`,
      APPROVAL_REQUIRED: "teams",
    };
    const body = JSON.stringify({
      type: "message",
      id: uniqueId("activity"),
      timestamp: new Date().toISOString(),
      text: `<at>KooDrive</at>&nbsp;offboard ${WHO}`,
      from: { id: "29:1abc", aadObjectId: TEAMS_OPERATOR, name: "Olu Operator" },
      conversation: { id: "19:general@thread.skype" },
      channelData: { tenant: { id: "tenant-1" } },
    });
    const res = await callWith(vars, "/chatops/teams", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: await signTeams(TEAMS_TOKEN, body) },
      body,
    });
    expect(res.status).toBe(200);
    const runId = /`(teams-[0-9a-f]{32})`/.exec(((await res.json()) as { text: string }).text)?.[1] ?? "";
    expect(runId).not.toBe("");
    await waitForStatus(runId, "awaiting_approval");
    expect(await requesterOf(runId)).toBe(`teams:${TEAMS_OPERATOR}`);

    const team = await newTeam({ CONSOLE_OPERATORS: `olu@example.com, ${OLGA}` });
    await expectError(
      await asPerson(team, "olu@example.com", `/runs/${runId}/approve`, vars),
      403,
      "forbidden",
    );
    expect(await statusOf(runId)).toBe("awaiting_approval");
    const rejected = await asPerson(team, OLGA, `/runs/${runId}/reject`, vars, { reason: "not yet" });
    expect(rejected.status).toBe(202);
    expect((await waitForRun(runId)).status).toBe("rejected");
    expect((await decisions(runId)).map((d) => [d.status, d.actor])).toEqual([
      ["refused", "olu@example.com"],
      ["rejected", OLGA],
    ]);
  });
});
