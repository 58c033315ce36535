import { introspectWorkflowInstance } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { APPROVE_ACTION_ID, REJECT_ACTION_ID } from "../src/offboarding/approval";
import { approvalBlocks } from "../src/offboarding/slack-blocks";
import { runIdFor } from "../src/offboarding/start";
import { callWith, postHr } from "./helpers/env";
import { freeLeaver } from "./helpers/leaver";
import { signSlack } from "./helpers/signers";
import { DEMO, sim } from "./helpers/sim";
import { GATED, gatedSlackRun, SLACK_SECRET, SLACK_TEAM, signedSlack } from "./helpers/slack";
import { admin, clearHolds, offboardedEvent, uniqueId, waitForRun, waitForStatus } from "./helpers/worker";

/**
 * Issue 11, Slack buttons: what Slack is told (the approval message, the decision that replaces it, the
 * refusals only the clicker sees), what the trail records, and what is never decided. Requests are signed
 * with the independent test signer (Slack's published scheme, test/helpers/signers.ts); the bodies posted to
 * Slack's response URLs are read off the Worker's outbound `fetch` (the simulator's call log keeps no bodies).
 */

const SECRET = SLACK_SECRET;
const TEAM = SLACK_TEAM;
const OTHER_OPERATOR = "W0OPERATOR2"; // an operator (vitest.config.ts SLACK_OPERATORS)
const NOT_OPERATOR = "U0NOTANOP";
const COMMAND_URL = "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/msgsCommandSecret0001";
const CLICK_URL = "https://hooks.slack.com/actions/T1DC2JH3J/777/msgsClickSecret0002";

interface SlackPost {
  url: string;
  body: {
    text: string;
    response_type?: string;
    replace_original?: boolean;
    blocks?: Array<{ type: string; block_id?: string; elements?: Button[] }>;
  };
}
interface Button {
  type: string;
  action_id: string;
  style?: string;
  value: string;
  confirm?: { title: { text: string }; text: { text: string } };
}

/**
 * Each test's requester: an operator of its own (the same command typed by the same person within 10 minutes
 * is the same run, commands.ts `commandKey`), listed with vitest.config.ts's operators.
 */
let REQUESTER = "";
let OPERATORS: Record<string, string> = {};

/** Every body the Worker (its routes and its Workflows, in this isolate) posts to hooks.slack.com. */
let posts: SlackPost[] = [];
/**
 * Every other outbound URL, KooDrive's and the simulator's control plane's aside, and the event receivers
 * vitest.config.ts configures for every run: the queue consumer in this isolate delivers earlier tests' events
 * there in batches (of 10, or after the batch timeout), so when one lands is a matter of timing.
 */
let elsewhere: string[] = [];
const KOODRIVE_HOSTS = new Set(["intl.myhuaweicloud-koodrive.com", "sim.local", "hooks.example.test"]);

beforeEach(async () => {
  await sim.reset();
  await sim.seed({ demo: true });
  await clearHolds();
  await freeLeaver(DEMO.leaver);
  REQUESTER = `U${crypto.randomUUID().replaceAll("-", "").slice(0, 10).toUpperCase()}`;
  OPERATORS = { SLACK_OPERATORS: `U2CERLKJA, ${OTHER_OPERATOR}, ${REQUESTER}` };
  posts = [];
  elsewhere = [];
  const real = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input, init);
    const host = new URL(req.url).hostname;
    if (host === "hooks.slack.com")
      posts.push({ url: req.url, body: (await req.clone().json()) as SlackPost["body"] });
    else if (!KOODRIVE_HOSTS.has(host)) elsewhere.push(req.url);
    return real(req);
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

const postsTo = (url: string) => posts.filter((p) => p.url === url);

const signed = signedSlack;

/** `/koodrive offboard <who>` typed by `requester` with approval required for Slack; waits for the gate. */
const gatedRun = (who: string, requester = REQUESTER) =>
  gatedSlackRun({ who, requester, responseUrl: COMMAND_URL, vars: { ...GATED, ...OPERATORS } });

function clickBody(user: string, actionId: string, value: string, trigger = uniqueId("click")): string {
  const payload = {
    type: "block_actions",
    trigger_id: trigger,
    response_url: CLICK_URL,
    team: { id: TEAM, domain: "testteamnow" },
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: TEAM },
    container: { type: "message", message_ts: "1531420618.000100", is_ephemeral: true },
    actions: [{ action_id: actionId, block_id: "koodrive_decision", value, type: "button" }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

const click = (body: string, opts: { ts?: number; signature?: string } = {}) =>
  signed("/chatops/slack/interactions", body, OPERATORS, opts);

interface AuditRecord {
  type: string;
  runId?: string;
  status?: string;
  actor: string;
  source?: string;
  reason?: string;
  details?: Record<string, unknown>;
}

async function trail(limit = 100): Promise<AuditRecord[]> {
  return ((await (await admin(`/audit?limit=${limit}`)).json()) as { records: AuditRecord[] }).records;
}

const decisionsOf = async (runId: string) =>
  (await trail()).filter((r) => r.runId === runId && r.type === "run.decision");

const statusOf = async (runId: string) =>
  ((await (await admin(`/runs/${runId}`)).json()) as { status: string }).status;

/** KooDrive was asked to cancel none of this person's shares (the simulator's own count). */
async function noCancelRequested(owner: string): Promise<void> {
  const shares = await sim.shares(owner, "all");
  expect(shares.length).toBeGreaterThan(0);
  expect(shares.filter((s) => s.cancelRequests > 0 || s.cancelledAt !== null)).toEqual([]);
}

/** `<!date^<epoch>^{date_short_pretty} {time}|<ISO>>` then `rest`, the epoch being the ISO time's, within the last minute. */
function expectSlackDate(text: string, rest: string): void {
  const m = /^<!date\^(\d+)\^\{date_short_pretty\} \{time\}\|([^>]+)>(.*)$/.exec(text);
  expect(m, text).not.toBeNull();
  const [, epoch, iso, after] = m as unknown as [string, string, string, string];
  expect(Number(epoch)).toBe(Math.floor(Date.parse(iso) / 1000));
  expect(Date.now() - Date.parse(iso)).toBeLessThan(60_000);
  expect(after).toBe(rest);
}

async function waitForPost(url: string): Promise<SlackPost> {
  for (let i = 0; i < 100 && postsTo(url).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  const post = postsTo(url)[0];
  if (!post) throw new Error(`nothing posted to ${url}`);
  return post;
}

describe("the approval message (Block Kit) posted to the command's response_url", () => {
  it("shows the plan and carries Approve (primary, behind a confirm dialog) and Reject (danger) for this run", async () => {
    const runId = await gatedRun(DEMO.leaver);
    const planned = (await sim.shares(DEMO.leaver, "active")).length;
    const { body } = await waitForPost(COMMAND_URL);
    expect(body.response_type).toBe("ephemeral");
    expect(body.replace_original).toBe(false);
    expect(body.text).toContain(runId);
    expect(JSON.stringify(body.blocks)).toContain(`${planned} share(s)`);
    const buttons = body.blocks?.find((b) => b.type === "actions")?.elements ?? [];
    expect(buttons.map((b) => [b.type, b.action_id, b.style, b.value])).toEqual([
      ["button", APPROVE_ACTION_ID, "primary", runId],
      ["button", REJECT_ACTION_ID, "danger", runId],
    ]);
    expect(buttons[0]?.confirm?.text.text).toContain(`${planned} share(s)`);
    expect(buttons[1]?.confirm).toBeUndefined();
    // The run still waits: posting the buttons decided nothing.
    expect(await statusOf(runId)).toBe("awaiting_approval");
    await noCancelRequested(DEMO.leaver);
    await click(clickBody(OTHER_OPERATOR, REJECT_ACTION_ID, runId)); // leave nothing waiting
    await waitForRun(runId);
  });
});

describe("the approval blocks' text", () => {
  it("shows a name from HR and the gate's detail as text: no <!channel> ping, no mention, no link", () => {
    const blocks = approvalBlocks(
      "hr-0123456789abcdef0123456789abcdef",
      {
        reasons: ["name_match"],
        detail: "a name match for <@U0ANYONE> & <https://evil.example|this link> needs an operator",
        requester: "source:hr",
        source: "hr",
        deadline: "2026-12-04T00:00:00.000Z",
        planShares: 3,
        planDigest: "ab".repeat(32),
        candidate: { koodriveUserId: DEMO.leaver, name: "Dana <!channel>" },
        since: "2026-12-01T00:00:00.000Z",
      },
      "Dana <!channel>",
    );
    const text = JSON.stringify(blocks[0]);
    expect(text).toContain("(Dana &lt;!channel&gt;)");
    expect(text).toContain("for &lt;@U0ANYONE&gt; &amp; &lt;https://evil.example|this link&gt; needs");
    expect(text).not.toMatch(/<!channel>|<@U0ANYONE>|<https:/);
  });
});

describe("what a click tells Slack", () => {
  it("an operator's Approve replaces the message with who approved (a mention), when, and the share count", async () => {
    const runId = await gatedRun(DEMO.leaver);
    const planned = (await sim.shares(DEMO.leaver, "active")).length;

    // The requester's own click: refused (four eyes), shown only to them, the buttons stay.
    expect((await click(clickBody(REQUESTER, APPROVE_ACTION_ID, runId))).status).toBe(200);
    const refusal = postsTo(CLICK_URL);
    expect(refusal).toHaveLength(1);
    expect(refusal[0]?.body).toMatchObject({ response_type: "ephemeral", replace_original: false });
    expect(refusal[0]?.body.text).toMatch(/^Not decided: four eyes/);
    expect(await statusOf(runId)).toBe("awaiting_approval");

    expect((await click(clickBody(OTHER_OPERATOR, APPROVE_ACTION_ID, runId))).status).toBe(200);
    const decided = postsTo(CLICK_URL)[1]?.body;
    expect(decided?.replace_original).toBe(true);
    expect(decided?.blocks).toBeUndefined(); // the buttons are gone
    const prefix = `Approved: the run cancels ${planned} share(s). \`${runId}\`, approved by <@${OTHER_OPERATOR}> at `;
    expect(decided?.text.startsWith(prefix)).toBe(true);
    // The time as a Slack date token (the reader's zone) whose fallback is the decision's ISO time.
    expectSlackDate(decided?.text.slice(prefix.length) ?? "", ".");
    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    expect(run.counts.cancelled).toBe(planned);
    const approved = (await decisionsOf(runId)).find((r) => r.status === "approved");
    expect(approved?.actor).toBe(`slack:${TEAM}:${OTHER_OPERATOR} (${OTHER_OPERATOR.toLowerCase()})`);
    expect(approved?.details).toMatchObject({ via: "slack", planShares: planned });
  });

  it("Reject ends the run rejected with the reason 'rejected in Slack by …'; KooDrive is asked to cancel nothing", async () => {
    const runId = await gatedRun(DEMO.leaver);
    expect((await click(clickBody(OTHER_OPERATOR, REJECT_ACTION_ID, runId))).status).toBe(200);
    const decided = postsTo(CLICK_URL)[0]?.body;
    expect(decided?.replace_original).toBe(true);
    const prefix = `Rejected: nothing will be done. \`${runId}\`, rejected by <@${OTHER_OPERATOR}> at `;
    expect(decided?.text.startsWith(prefix)).toBe(true);
    expectSlackDate(decided?.text.slice(prefix.length) ?? "", "."); // the reason is not repeated in Slack
    expect((await waitForRun(runId)).status).toBe("rejected");
    const [rejected, ...more] = await decisionsOf(runId);
    expect(more).toEqual([]);
    expect(rejected).toMatchObject({
      status: "rejected",
      actor: `slack:${TEAM}:${OTHER_OPERATOR} (${OTHER_OPERATOR.toLowerCase()})`,
      reason: `rejected in Slack by slack:${TEAM}:${OTHER_OPERATOR} (${OTHER_OPERATOR.toLowerCase()})`,
    });
    await noCancelRequested(DEMO.leaver);
    // A later click on another copy of the buttons changes nothing: they are replaced by the decision.
    await click(clickBody("U2CERLKJA", APPROVE_ACTION_ID, runId));
    expect(postsTo(CLICK_URL)[1]?.body.replace_original).toBe(true);
    expect(postsTo(CLICK_URL)[1]?.body.text.startsWith(prefix)).toBe(true);
    expect(await statusOf(runId)).toBe("rejected");
    expect((await decisionsOf(runId)).map((r) => r.status).sort()).toEqual(["refused", "rejected"]);
    await noCancelRequested(DEMO.leaver);
  });

  it("buttons of a run decided through the admin API are replaced by that decision when clicked", async () => {
    const runId = await gatedRun(DEMO.leaver);
    const planned = (await sim.shares(DEMO.leaver, "active")).length;
    const api = await admin(`/runs/${runId}/approve`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(api.status).toBe(202);
    await click(clickBody(OTHER_OPERATOR, REJECT_ACTION_ID, runId));
    const [apiDecision] = (await decisionsOf(runId)).filter((r) => r.status === "approved");
    const prefix = `Approved: the run cancels ${planned} share(s). \`${runId}\`, approved by ${apiDecision?.actor} at `;
    expect(postsTo(CLICK_URL)[0]?.body.replace_original).toBe(true);
    expect(postsTo(CLICK_URL)[0]?.body.text.startsWith(prefix)).toBe(true);
    expect((await waitForRun(runId)).status).toBe("completed"); // the click rejected nothing
    expect((await decisionsOf(runId)).map((r) => r.status).sort()).toEqual(["approved", "refused"]);
  });

  it("buttons of a withdrawn run are replaced by where the run stands, its reason escaped; nothing is decided", async () => {
    const runId = await gatedRun(DEMO.leaver);
    const withdrawn = await admin(`/runs/${runId}/cancel`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reason: "HR entered the wrong person <!channel> & <https://x.example|here>" }),
    });
    expect(withdrawn.status).toBe(200);
    expect((await waitForRun(runId)).status).toBe("withdrawn");
    await click(clickBody(OTHER_OPERATOR, APPROVE_ACTION_ID, runId));
    const told = postsTo(CLICK_URL)[0]?.body;
    expect(told?.replace_original).toBe(true);
    expect(told?.text).toMatch(
      new RegExp(`^Nothing to decide: \`${runId}\` is withdrawn: .*HR entered the wrong person`),
    );
    // The reason someone typed is shown as text: no channel-wide ping, no link (Slack's escaping).
    expect(told?.text).toContain(
      "HR entered the wrong person &lt;!channel&gt; &amp; &lt;https://x.example|here&gt;",
    );
    expect(told?.text).not.toMatch(/<!channel>|<https:/);
    expect(await statusOf(runId)).toBe("withdrawn");
    expect((await decisionsOf(runId)).map((r) => r.status)).toEqual(["refused"]);
    await noCancelRequested(DEMO.leaver);
  });
  it("buttons of a run that waited past its deadline are replaced by `expired`; nothing is decided or cancelled", async () => {
    const id = uniqueId();
    const runId = await runIdFor("hr", id);
    const instance = await introspectWorkflowInstance(env.OFFBOARDING, runId);
    await instance.modify(async (m) => {
      await m.forceEventTimeout({ name: "wait for approval" });
    });
    const event = offboardedEvent({ id: "E-4343", koodriveUserId: DEMO.leaver });
    expect((await postHr(event, { APPROVAL_REQUIRED: "hr" }, id)).status).toBe(202);
    expect((await waitForRun(runId)).status).toBe("expired");
    await click(clickBody(OTHER_OPERATOR, APPROVE_ACTION_ID, runId));
    const told = postsTo(CLICK_URL)[0]?.body;
    expect(told?.replace_original).toBe(true);
    expect(told?.text).toMatch(new RegExp(`^Nothing to decide: \`${runId}\` is expired: `));
    expect(await statusOf(runId)).toBe("expired");
    expect((await decisionsOf(runId)).map((r) => r.status)).toEqual(["refused"]);
    await noCancelRequested(DEMO.leaver);
  });
});

describe("who may click", () => {
  it("a non-operator is refused privately, nothing is decided, and a replay of that click is not recorded twice", async () => {
    const runId = await gatedRun(DEMO.leaver);
    const body = clickBody(NOT_OPERATOR, APPROVE_ACTION_ID, runId);
    expect((await click(body)).status).toBe(200);
    expect((await click(body)).status).toBe(200); // the same signed click, replayed
    const told = postsTo(CLICK_URL);
    expect(told).toHaveLength(1);
    expect(told[0]?.body).toMatchObject({ response_type: "ephemeral", replace_original: false });
    expect(told[0]?.body.text).toMatch(/not a KooDrive Offboard operator: nothing was decided/);
    const refusals = (await trail()).filter(
      (r) =>
        r.type === "request.rejected" &&
        r.actor === `slack:${TEAM}:${NOT_OPERATOR} (${NOT_OPERATOR.toLowerCase()})`,
    );
    expect(refusals.map((r) => r.reason)).toEqual([`not an operator: approve ${runId}`]);
    expect(await decisionsOf(runId)).toEqual([]);
    expect(await statusOf(runId)).toBe("awaiting_approval");
    await noCancelRequested(DEMO.leaver);
    await click(clickBody(OTHER_OPERATOR, REJECT_ACTION_ID, runId));
    await waitForRun(runId);
  });

  it("forged and stale clicks are 401 in our envelope, recorded as security rejections, and tell Slack nothing", async () => {
    const runId = await gatedRun(DEMO.leaver);
    const body = clickBody(OTHER_OPERATOR, APPROVE_ACTION_ID, runId);
    const ts = Math.floor(Date.now() / 1000);
    const attempts = [
      // Signed with another secret; the right secret over another body; a valid signature 301 s old.
      { ts, signature: await signSlack("not-the-signing-secret", ts, body) },
      { ts, signature: await signSlack(SECRET, ts, body.replace(OTHER_OPERATOR, REQUESTER)) },
      { ts: ts - 301, signature: await signSlack(SECRET, ts - 301, body) },
    ];
    for (const opts of attempts) {
      const res = await click(body, opts);
      expect(res.status).toBe(401);
      const err = ((await res.json()) as { error: { code: string; message: string; requestId: string } })
        .error;
      expect(err.code).toBe("unauthorized");
      expect(err.requestId).toBe(res.headers.get("x-request-id"));
    }
    const rejected = (await trail()).filter((r) => r.type === "request.rejected" && r.source === "slack");
    expect(
      rejected
        .map((r) => r.reason)
        .slice(0, 3)
        .sort(),
    ).toEqual(["bad_signature", "bad_signature", "stale_timestamp"].sort());
    expect(posts.filter((p) => p.url === CLICK_URL)).toEqual([]);
    expect(await decisionsOf(runId)).toEqual([]);
    expect(await statusOf(runId)).toBe("awaiting_approval");
    await noCancelRequested(DEMO.leaver);
    await click(clickBody(OTHER_OPERATOR, REJECT_ACTION_ID, runId));
    await waitForRun(runId);
  });
});

describe("where a click's answer goes", () => {
  it("only to Slack's own response URLs: a payload naming another address is decided, and nothing is posted there", async () => {
    const runId = await gatedRun(DEMO.leaver);
    const elsewhereUrls = [
      "https://evil.example/actions/T1DC2JH3J/1/x",
      "http://hooks.slack.com/actions/T1DC2JH3J/1/x",
      "https://hooks.slack.com.evil.example/actions/T1DC2JH3J/1/x",
      "https://hooks.slack.com:8443/actions/T1DC2JH3J/1/x",
    ];
    for (const url of elsewhereUrls) {
      const payload = JSON.parse(
        new URLSearchParams(clickBody(NOT_OPERATOR, APPROVE_ACTION_ID, runId)).get("payload") ?? "",
      );
      const body = new URLSearchParams({ payload: JSON.stringify({ ...payload, response_url: url }) });
      expect((await click(body.toString())).status).toBe(200);
    }
    const payload = JSON.parse(
      new URLSearchParams(clickBody(OTHER_OPERATOR, REJECT_ACTION_ID, runId)).get("payload") ?? "",
    );
    const body = new URLSearchParams({
      payload: JSON.stringify({ ...payload, response_url: elsewhereUrls[0] }),
    });
    expect((await click(body.toString())).status).toBe(200);
    expect((await waitForRun(runId)).status).toBe("rejected");
    expect(elsewhere).toEqual([]);
    expect(posts.filter((p) => p.url !== COMMAND_URL)).toEqual([]);
    await noCancelRequested(DEMO.leaver);
  });
});

describe("a name match decided in Slack", () => {
  it("is approved only with the candidate in the button's value (`<run id>|<KooDrive user id>`)", async () => {
    const id = uniqueId();
    const runId = await runIdFor("hr", id);
    const event = offboardedEvent({ id: "E-4242", email: "dana.old@elsewhere.example", name: "Dana Leaver" });
    expect((await postHr(event, { RESOLVE_BY_NAME: "confirm" }, id)).status).toBe(202);
    await waitForStatus(runId, "awaiting_approval");

    // The run id alone does not name the person: refused, still waiting, nothing cancelled.
    await click(clickBody(OTHER_OPERATOR, APPROVE_ACTION_ID, runId));
    expect(postsTo(CLICK_URL)[0]?.body.text).toMatch(
      new RegExp(
        `^Not decided: the run waits for confirmation of the name match KooDrive user ${DEMO.leaver}`,
      ),
    );
    // Another person's id is refused too.
    await click(clickBody(OTHER_OPERATOR, APPROVE_ACTION_ID, `${runId}|${DEMO.seller}`));
    expect(postsTo(CLICK_URL)[1]?.body.text).toContain(`not ${DEMO.seller}`);
    expect(await statusOf(runId)).toBe("awaiting_approval");
    await noCancelRequested(DEMO.leaver);
    await noCancelRequested(DEMO.seller);

    await click(clickBody(OTHER_OPERATOR, APPROVE_ACTION_ID, `${runId}|${DEMO.leaver}`));
    expect(postsTo(CLICK_URL)[2]?.body.replace_original).toBe(true);
    const run = await waitForRun(runId);
    expect(run.status).toBe("completed");
    expect(run.koodriveUserId).toBe(DEMO.leaver);
    expect(run.resolvedBy).toBe("name_match");
    expect(await sim.shares(DEMO.leaver, "active")).toHaveLength(0);
    await noCancelRequested(DEMO.seller);
    expect((await decisionsOf(runId)).map((r) => r.status).sort()).toEqual([
      "approved",
      "refused",
      "refused",
    ]);
  });
});

describe("malformed clicks", () => {
  it("are 400 in our envelope (413 when oversized), post nothing and decide nothing", async () => {
    const runId = await gatedRun(DEMO.leaver);
    const payload = (p: unknown) => new URLSearchParams({ payload: JSON.stringify(p) }).toString();
    const good = JSON.parse(
      new URLSearchParams(clickBody(OTHER_OPERATOR, APPROVE_ACTION_ID, runId)).get("payload") ?? "",
    );
    const cases: Array<[string, string, number]> = [
      ["a JSON array", payload([good]), 400],
      ["no user", payload({ ...good, user: undefined }), 400],
      [
        "actions not a list",
        payload({ ...good, actions: { action_id: APPROVE_ACTION_ID, value: runId } }),
        400,
      ],
      [
        "a value that is no run id",
        payload({ ...good, actions: [{ ...good.actions[0], value: `${runId}/x` }] }),
        400,
      ],
      ["over 64 KiB", payload({ ...good, padding: "x".repeat(70_000) }), 413],
    ];
    for (const [what, body, status] of cases) {
      const res = await click(body);
      expect(res.status, what).toBe(status);
      const err = ((await res.json()) as { error: { code: string; message: string } }).error;
      expect(err.code, what).toBe(status === 413 ? "payload_too_large" : "bad_request");
      expect(err.message, what).not.toMatch(/ZodError|at \w+ \(/);
    }
    // Bytes that are not UTF-8, signed as they are sent.
    const raw = new Uint8Array([...new TextEncoder().encode("payload=%7B%7D&x="), 0xff, 0xfe]);
    const ts = Math.floor(Date.now() / 1000);
    const res = await callWith(OPERATORS, "/chatops/slack/interactions", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": String(ts),
        "x-slack-signature": await signSlackBytes(ts, raw),
      },
      body: raw,
    });
    expect(res.status).toBe(400);
    expect(postsTo(CLICK_URL)).toEqual([]);
    expect(await decisionsOf(runId)).toEqual([]);
    expect(await statusOf(runId)).toBe("awaiting_approval");
    await click(clickBody(OTHER_OPERATOR, REJECT_ACTION_ID, runId));
    await waitForRun(runId);
  });
});

/** Slack's scheme over raw bytes (the test signer takes text; this signs what is sent, byte for byte). */
async function signSlackBytes(ts: number, body: Uint8Array): Promise<string> {
  const prefix = new TextEncoder().encode(`v0:${ts}:`);
  const data = new Uint8Array(prefix.length + body.length);
  data.set(prefix);
  data.set(body, prefix.length);
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(SECRET),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
  return `v0=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
