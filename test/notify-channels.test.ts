/**
 * Channel notifications (issue 11 "Notifications"): a Slack incoming webhook and a Teams workflow webhook
 * hear about the statuses in NOTIFY_ON (who, source, counts, the reason, a link; Approve / Reject buttons
 * while a run waits), through the same queue and records as outbound events. Destinations come only from
 * config, https only, and their URLs (credentials) never show in queue messages, answers or the audit trail.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { publishRunEvent } from "../src/events/publish";
import { APPROVE_ACTION_ID, REJECT_ACTION_ID } from "../src/offboarding/approval";
import type { RunMeta } from "../src/offboarding/types";
import { callWith } from "./helpers/env";
import {
  adminWith,
  allAuditText,
  consume,
  eventEnv,
  eventsOf,
  hookUrl,
  NO_DESTINATIONS,
  OUTBOUND_SECRET,
  runMeta,
} from "./helpers/events";
import { DEMO, hooks, sim } from "./helpers/sim";
import { ADMIN_TOKEN, admin, offboardedEvent, sendHr, waitForRun } from "./helpers/worker";

const SLACK = "notify-slack";
const TEAMS = "notify-teams";
const OUTBOUND = "notify-outbound";
const channels = (extra: Record<string, string> = {}) => ({
  NOTIFY_SLACK_WEBHOOK_URLS: hookUrl(SLACK),
  NOTIFY_TEAMS_WEBHOOK_URLS: hookUrl(TEAMS),
  PUBLIC_BASE_URL: "https://offboard.example.com",
  ...extra,
});

interface SlackBlock {
  type: string;
  text?: { text: string };
  elements?: { action_id: string; value: string; style: string; text: { text: string } }[];
}

async function lastJson<T>(name: string): Promise<T> {
  const got = await hooks.received(name);
  return JSON.parse(got.at(-1)?.body ?? "null") as T;
}

/** Publishes `meta` and runs the consumer on what was queued; returns the labels queued. */
async function notify(vars: Record<string, string>, meta: RunMeta): Promise<string[]> {
  const { env: e, queue } = eventEnv(vars);
  await publishRunEvent(e, meta, { total: 5, cancelled: 3, failed: 2 } as never);
  if (queue.sent.length > 0) await consume(e, queue.sent);
  return queue.sent.map((m) => m.dest);
}

beforeEach(async () => {
  for (const name of [SLACK, TEAMS, OUTBOUND]) await hooks.clear(name);
});

describe("notifications", () => {
  it("a run awaiting approval: Slack gets the facts, the link and Approve / Reject buttons; Teams an Adaptive Card", async () => {
    const meta = runMeta("awaiting_approval", {
      detail: "the plan holds 5 shares, above APPROVAL_ABOVE_SHARES",
    });
    meta.request.subject.name = "Ada <Lovelace>";
    expect(await notify(channels(), meta)).toEqual(["slack#1", "teams#1"]);
    const runId = meta.request.runId;
    const consoleLink = `https://offboard.example.com/console/runs/${runId}`;

    const slack = await lastJson<{ text: string; blocks: SlackBlock[] }>(SLACK);
    expect(slack.text).toContain(runId);
    expect(slack.text).toContain("waiting for approval");
    const facts = slack.blocks.map((b) => b.text?.text ?? "").join("\n");
    expect(facts).toContain("Ada &lt;Lovelace&gt;"); // mrkdwn escaped
    expect(facts).toContain("ada@example.com");
    expect(facts).toContain("E-1001");
    expect(facts).toContain("*Source:* hr");
    expect(facts).toContain("3 cancelled");
    expect(facts).toContain("above APPROVAL_ABOVE_SHARES");
    expect(facts).toContain(`<${consoleLink}|Open the run>`);
    const actions = slack.blocks.find((b) => b.type === "actions");
    expect(actions?.elements?.map((e) => [e.action_id, e.value, e.style])).toEqual([
      [APPROVE_ACTION_ID, runId, "primary"],
      [REJECT_ACTION_ID, runId, "danger"],
    ]);

    const teams = await lastJson<{
      type: string;
      attachments: { contentType: string; content: Record<string, unknown> }[];
    }>(TEAMS);
    expect(teams.type).toBe("message");
    expect(teams.attachments).toHaveLength(1);
    expect(teams.attachments[0]?.contentType).toBe("application/vnd.microsoft.card.adaptive");
    const card = teams.attachments[0]?.content as {
      type: string;
      version: string;
      body: { type: string; facts?: { title: string; value: string }[] }[];
      actions: { type: string; url: string }[];
    };
    expect(card.type).toBe("AdaptiveCard");
    expect(card.version).toBe("1.4");
    const factSet = Object.fromEntries(
      (card.body.find((b) => b.type === "FactSet")?.facts ?? []).map((f) => [f.title, f.value]),
    );
    expect(factSet).toMatchObject({
      Who: "Ada <Lovelace> (ada@example.com, HR id E-1001)",
      Status: "awaiting_approval",
      Source: "hr",
      Why: "the plan holds 5 shares, above APPROVAL_ABOVE_SHARES",
    });
    expect(factSet.Shares).toContain("3 cancelled");
    expect(card.actions).toEqual([{ type: "Action.OpenUrl", title: "Open the run", url: consoleLink }]);
  });

  it("each status in the default NOTIFY_ON reaches both channels; one outside it reaches neither", async () => {
    for (const status of ["partial", "failed", "unresolved"] as const) {
      const meta = runMeta(status);
      expect(await notify(channels(), meta)).toEqual(["slack#1", "teams#1"]);
      const slack = await lastJson<{ text: string; blocks: SlackBlock[] }>(SLACK);
      expect(slack.text).toContain(`${meta.request.runId}: ${status}`);
      expect(slack.blocks.some((b) => b.type === "actions")).toBe(false);
    }
    expect(await hooks.received(SLACK)).toHaveLength(3);
    expect(await hooks.received(TEAMS)).toHaveLength(3);

    for (const status of ["completed", "accepted", "rejected", "expired", "withdrawn"] as const)
      expect(await notify(channels(), runMeta(status))).toEqual([]);
    expect(await hooks.received(SLACK)).toHaveLength(3);
    expect(await hooks.received(TEAMS)).toHaveLength(3);
  });

  it("NOTIFY_ON chooses the statuses; outbound receivers still get every state change", async () => {
    const vars = channels({
      NOTIFY_ON: "completed",
      OUTBOUND_WEBHOOK_URLS: hookUrl(OUTBOUND),
      OUTBOUND_WEBHOOK_SECRET: OUTBOUND_SECRET,
    });
    expect(await notify(vars, runMeta("completed"))).toEqual(["outbound#1", "slack#1", "teams#1"]);
    expect(await notify(vars, runMeta("failed"))).toEqual(["outbound#1"]);
    expect(await hooks.received(SLACK)).toHaveLength(1);
    expect(await hooks.received(OUTBOUND)).toHaveLength(2);
  });

  it("a failing channel is retried and recorded, and changes nothing in the run", async () => {
    await sim.reset();
    await sim.seed({ demo: true });
    const res = await sendHr(offboardedEvent({ id: "E-7001", koodriveUserId: DEMO.leaver }));
    const { runId } = (await res.json()) as { runId: string };
    expect((await waitForRun(runId)).status).toBe("completed");
    const view = async () =>
      (await (await admin(`/runs/${runId}?limit=5000`)).json()) as { evidence?: unknown };
    // The evidence (KooDrive's audit log) is the run's last write.
    const before = await vi.waitFor(async () => {
      const v = await view();
      expect(v.evidence).toBeTruthy();
      return v;
    });
    // The run already published its own `run.completed` (to the receiver every test has): this one is
    // published as if by a later attempt, so it is a new event for the channels below.
    const stored = (await env.RUNS.getByName(runId).getMeta()) as RunMeta;
    const meta: RunMeta = { ...stored, attempt: stored.attempt + 1 };

    await hooks.fail(SLACK, 5);
    const { env: e, queue } = eventEnv(channels({ NOTIFY_ON: "completed" }));
    await publishRunEvent(e, meta);
    const result = await consume(e, queue.sent);
    expect(result.retried.map((r) => r.delaySeconds)).toEqual([5]); // slack#1
    expect(result.acked).toHaveLength(1); // teams#1
    const event = (await eventsOf(e, runId)).find((x) => x.deliveries.some((d) => d.dest === "slack#1"));
    expect(event?.deliveries).toMatchObject([
      { dest: "slack#1", state: "pending", attempts: 1, lastStatus: 500 },
      { dest: "teams#1", state: "delivered", attempts: 1, lastStatus: 200 },
    ]);

    expect(await view()).toEqual(before);
  });

  it("no destination URL in queue messages, admin answers, logs or the audit trail", async () => {
    const logged: unknown[][] = [];
    for (const level of ["log", "warn", "error"] as const)
      vi.spyOn(console, level).mockImplementation((...args) => void logged.push(args));
    const vars = channels({
      OUTBOUND_WEBHOOK_URLS: hookUrl(OUTBOUND),
      OUTBOUND_WEBHOOK_SECRET: OUTBOUND_SECRET,
    });
    const { env: e, queue } = eventEnv(vars);
    const meta = runMeta("failed");
    await publishRunEvent(e, meta);
    expect(queue.sent.map((m) => m.dest)).toEqual(["outbound#1", "slack#1", "teams#1"]);
    await hooks.fail(SLACK, 1);
    await consume(e, queue.sent);
    const eventId = queue.sent[0]?.eventId;
    const listed = await (await adminWith(e, `/events?runId=${meta.request.runId}`)).text();
    const resent = await (
      await adminWith(e, `/runs/${meta.request.runId}/events/${eventId}/resend`, { method: "POST" })
    ).text();
    expect(JSON.parse(resent).resent).toEqual(["slack#1"]);
    const health = await (await adminWith(e, "/healthz")).text();
    await publishRunEvent({ ...e, DELIVERIES: undefined } as never, runMeta("failed")); // logs a warning
    vi.restoreAllMocks();
    expect(logged.map((args) => args.join(" ")).join("\n")).toContain("delivery failed, will retry");
    expect(logged.map((args) => args.join(" ")).join("\n")).toContain("run event not published");
    const texts = [
      queue.raw.join("\n"),
      listed,
      resent,
      health,
      await allAuditText(),
      JSON.stringify(logged),
    ];
    for (const text of texts) expect(text).not.toContain("hooks.example.test");
  });
});

describe("destination settings", () => {
  const withAdmin = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } };

  it("an http:// URL to anything but a loopback host makes the config invalid, without echoing the URL", async () => {
    const url = "http://hooks.example.test/__hooks/secret-token-xyz";
    for (const name of ["OUTBOUND_WEBHOOK_URLS", "NOTIFY_SLACK_WEBHOOK_URLS", "NOTIFY_TEAMS_WEBHOOK_URLS"]) {
      const vars = { [name]: `${hookUrl("ok")}, ${url}`, OUTBOUND_WEBHOOK_SECRET: OUTBOUND_SECRET };
      const res = await callWith(vars, "/healthz", withAdmin);
      expect(res.status).toBe(503);
      const text = await res.text();
      expect(JSON.parse(text).error.code).toBe("misconfigured");
      expect(text).toContain(`${name} entry 2 must be an https:// URL`);
      expect(text).not.toContain("secret-token-xyz");
      expect(text).not.toContain("hooks.example.test");
    }
  });

  it("accepts https and loopback http; refuses events without a secret and unknown NOTIFY_ON statuses", async () => {
    const ok = {
      OUTBOUND_WEBHOOK_URLS: "http://127.0.0.1:9999/x, http://localhost/y, https://hooks.example.test/z",
      OUTBOUND_WEBHOOK_SECRET: OUTBOUND_SECRET,
      NOTIFY_ON: "completed, failed",
    };
    expect((await callWith(ok, "/healthz")).status).toBe(200);

    const noSecret = await callWith(
      { ...NO_DESTINATIONS, OUTBOUND_WEBHOOK_URLS: hookUrl("x") },
      "/healthz",
      withAdmin,
    );
    expect(noSecret.status).toBe(503);
    expect(await noSecret.text()).toContain("OUTBOUND_WEBHOOK_SECRET must be set");

    const badSecret = await callWith(
      { OUTBOUND_WEBHOOK_URLS: hookUrl("x"), OUTBOUND_WEBHOOK_SECRET: "whsec_c2hvcnQ=" },
      "/healthz",
      withAdmin,
    );
    expect(await badSecret.text()).toContain("OUTBOUND_WEBHOOK_SECRET must be a whsec_<base64> secret");

    const badStatus = await callWith({ NOTIFY_ON: "failed,running" }, "/healthz", withAdmin);
    expect(badStatus.status).toBe(503);
    expect(await badStatus.text()).toContain("not running");
  });
});
