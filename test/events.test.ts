/**
 * Outbound events (issue 11, docs/events.md): signed with Standard Webhooks and checked on the receiver side
 * with the official `standardwebhooks` library (an oracle independent of our signer), recorded once per
 * state change, delivered through the queue consumer, retried under the same webhook-id, dead-lettered,
 * re-sent from the admin API. The consumer is driven with batches from `cloudflare:test`, so each attempt
 * is a step of the test.
 */

import { runDurableObjectAlarm } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { beforeEach, describe, expect, it } from "vitest";
import { publishRunEvent } from "../src/events/publish";
import { eventTypeOf } from "../src/events/types";
import wranglerToml from "../wrangler.toml?raw";
import {
  adminWith,
  allAuditText,
  consume,
  DEAD_LETTER_QUEUE,
  eventEnv,
  eventsOf,
  hookUrl,
  OUTBOUND_SECRET,
  runMeta,
} from "./helpers/events";
import { hooks } from "./helpers/sim";

const RECEIVER = "events-a";
const vars = (extra: Record<string, string> = {}) => ({
  OUTBOUND_WEBHOOK_URLS: hookUrl(RECEIVER),
  OUTBOUND_WEBHOOK_SECRET: OUTBOUND_SECRET,
  PUBLIC_BASE_URL: "https://offboard.example.com/",
  ...extra,
});

beforeEach(async () => {
  await hooks.clear(RECEIVER);
});

describe("event types", () => {
  it("maps each announcing status to its type and the in-between ones to none", () => {
    expect(eventTypeOf("accepted")).toBe("run.accepted");
    expect(eventTypeOf("awaiting_approval")).toBe("run.awaiting_approval");
    expect(eventTypeOf("withdrawn")).toBe("run.withdrawn");
    for (const s of ["running", "watching", "dry_run", "needs_confirmation"] as const)
      expect(eventTypeOf(s)).toBeNull();
  });
});

describe("publishRunEvent and the delivery consumer", () => {
  it("records a state change once, queues a label (never the URL), and delivers a body the official library verifies", async () => {
    const { env, queue } = eventEnv(vars());
    const meta = runMeta("partial");
    const counts = { total: 3, cancelled: 1, failed: 2 } as never;
    await publishRunEvent(env, meta, counts);
    await publishRunEvent(env, meta, counts); // a replayed Workflow step
    expect(queue.sent).toEqual([
      { runId: meta.request.runId, eventId: expect.stringMatching(/^evt_[0-9a-f]{32}$/), dest: "outbound#1" },
    ]);
    expect(queue.raw.join()).not.toContain("hooks.example.test");

    const result = await consume(env, queue.sent);
    expect(result.acked).toHaveLength(1);
    expect(result.retried).toEqual([]);

    const got = await hooks.received(RECEIVER);
    expect(got).toHaveLength(1);
    const [delivery] = got;
    const verified = new Webhook(OUTBOUND_SECRET).verify(delivery?.body ?? "", delivery?.headers ?? {});
    expect(verified).toEqual({
      type: "run.partial",
      id: queue.sent[0]?.eventId,
      timestamp: expect.any(String),
      data: {
        runId: meta.request.runId,
        status: "partial",
        source: "hr",
        attempt: 1,
        subject: {
          hrId: "E-1001",
          email: "ada@example.com",
          name: "Ada Lovelace",
          koodriveUserId: "1505084218764547201",
        },
        counts,
        detail: "2 shares could not be cancelled",
        links: {
          api: `https://offboard.example.com/runs/${meta.request.runId}`,
          console: `https://offboard.example.com/console/runs/${meta.request.runId}`,
        },
      },
    });
    expect(delivery?.headers["webhook-id"]).toBe(queue.sent[0]?.eventId);

    const [event] = await eventsOf(env, meta.request.runId);
    expect(event).toMatchObject({
      id: queue.sent[0]?.eventId,
      type: "run.partial",
      deliveries: [{ dest: "outbound#1", state: "delivered", attempts: 1, lastStatus: 200, lastError: null }],
    });
  });

  it("a signature made with another secret does not verify (the check can fail)", async () => {
    const { env, queue } = eventEnv(vars());
    await publishRunEvent(env, runMeta("completed"));
    await consume(env, queue.sent);
    const [delivery] = await hooks.received(RECEIVER);
    expect(() =>
      new Webhook("whsec_pLnSNqTsP4IezIXkT12Uy8mP4HnZmrFO").verify(
        delivery?.body ?? "",
        delivery?.headers ?? {},
      ),
    ).toThrow();
  });

  it("publishes one event per state change, and a new attempt's change as a new event", async () => {
    const { env, queue } = eventEnv(vars());
    const meta = runMeta("accepted");
    await publishRunEvent(env, meta);
    await publishRunEvent(env, { ...meta, status: "running" });
    await publishRunEvent(env, { ...meta, status: "failed" });
    await publishRunEvent(env, { ...meta, status: "failed", attempt: 2 });
    const events = await eventsOf(env, meta.request.runId);
    expect(events.map((e) => e.type).sort()).toEqual(["run.accepted", "run.failed", "run.failed"]);
    expect(new Set(queue.sent.map((m) => m.eventId)).size).toBe(3);
  });

  it("retries a failed delivery with backoff under the same webhook-id, then delivers it", async () => {
    const { env, queue } = eventEnv(vars());
    const meta = runMeta("failed");
    await publishRunEvent(env, meta);
    await hooks.fail(RECEIVER, 2);

    const first = await consume(env, queue.sent, 1);
    expect(first.acked).toEqual([]);
    expect(first.retried).toEqual([{ id: expect.any(String), delaySeconds: 5 }]);
    let [event] = await eventsOf(env, meta.request.runId);
    expect(event?.deliveries[0]).toMatchObject({
      state: "pending",
      attempts: 1,
      lastStatus: 500,
      lastError: "HTTP 500",
    });

    const second = await consume(env, queue.sent, 2);
    expect(second.retried).toEqual([{ id: expect.any(String), delaySeconds: 300 }]);
    const third = await consume(env, queue.sent, 3);
    expect(third.acked).toHaveLength(1);

    const got = await hooks.received(RECEIVER);
    expect(got.map((d) => d.status)).toEqual([500, 500, 200]);
    expect(new Set(got.map((d) => d.headers["webhook-id"]))).toEqual(new Set([queue.sent[0]?.eventId]));
    expect(new Set(got.map((d) => d.body)).size).toBe(1);
    for (const d of got) expect(new Webhook(OUTBOUND_SECRET).verify(d.body, d.headers)).toBeTruthy();
    [event] = await eventsOf(env, meta.request.runId);
    expect(event?.deliveries[0]).toMatchObject({ state: "delivered", attempts: 3, lastStatus: 200 });

    // A duplicate message (at-least-once delivery) of a delivered event posts nothing.
    const again = await consume(env, queue.sent, 1);
    expect(again.acked).toHaveLength(1);
    expect(await hooks.received(RECEIVER)).toHaveLength(3);
  });

  it("retries on the Standard Webhooks (Svix) schedule, and wrangler.toml gives up after its last retry", async () => {
    // docs.svix.com "Retry Schedule": immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    const svix = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];
    const { env, queue } = eventEnv(vars());
    await publishRunEvent(env, runMeta("unresolved"));
    await hooks.fail(RECEIVER, svix.length);
    const delays: (number | undefined)[] = [];
    for (let attempt = 1; attempt <= svix.length; attempt++)
      delays.push(...(await consume(env, queue.sent, attempt)).retried.map((r) => r.delaySeconds));
    expect(delays).toEqual(svix);
    // One retry per delay: the queue's max_retries is the schedule's length (8 attempts, then the DLQ).
    const consumer = /queue = "koodrive-offboard-deliveries"\nmax_batch_size = \d+\nmax_retries = (\d+)/.exec(
      wranglerToml,
    );
    expect(Number(consumer?.[1])).toBe(svix.length);
  });

  it("dead-letters after the last attempt, and an operator re-sends it with the same webhook-id", async () => {
    const { env, queue } = eventEnv(vars());
    const meta = runMeta("failed");
    await publishRunEvent(env, meta);
    const eventId = queue.sent[0]?.eventId ?? "";
    await hooks.fail(RECEIVER, 1);
    await consume(env, queue.sent, 8); // the last attempt (max_retries = 7): the queue moves it to the DLQ
    const dlq = await consume(env, queue.sent, 1, DEAD_LETTER_QUEUE);
    expect(dlq.acked).toHaveLength(1);
    let [event] = await eventsOf(env, meta.request.runId);
    expect(event?.deliveries[0]).toMatchObject({
      state: "dead",
      attempts: 1,
      lastStatus: 500,
      lastError: "HTTP 500",
    });

    // A dead delivery is not tried again by a stray message.
    await consume(env, queue.sent, 1);
    expect(await hooks.received(RECEIVER)).toHaveLength(1);

    queue.sent.length = 0;
    const res = await adminWith(env, `/runs/${meta.request.runId}/events/${eventId}/resend`, {
      method: "POST",
    });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({ runId: meta.request.runId, eventId, resent: ["outbound#1"] });
    expect(body).not.toContain("hooks.example.test");
    expect(queue.sent).toEqual([{ runId: meta.request.runId, eventId, dest: "outbound#1" }]);
    [event] = await eventsOf(env, meta.request.runId);
    expect(event?.deliveries[0]?.state).toBe("pending");

    await consume(env, queue.sent, 1);
    const got = await hooks.received(RECEIVER);
    expect(got.map((d) => [d.status, d.headers["webhook-id"]])).toEqual([
      [500, eventId],
      [200, eventId],
    ]);
    [event] = await eventsOf(env, meta.request.runId);
    expect(event?.deliveries[0]).toMatchObject({ state: "delivered", attempts: 2 });

    // Delivered deliveries are not re-sent; the re-sends are audited, without any URL.
    queue.sent.length = 0;
    const again = await adminWith(env, `/runs/${meta.request.runId}/events/${eventId}/resend`, {
      method: "POST",
    });
    expect(((await again.json()) as { resent: string[] }).resent).toEqual([]);
    expect(queue.sent).toEqual([]);
    const audit = await allAuditText();
    expect(audit).toContain(`"type":"admin.events"`);
    expect(audit).toContain(eventId);
    expect(audit).not.toContain("hooks.example.test");
  });

  it("gives up a delivery whose destination was removed from the config", async () => {
    const { env, queue } = eventEnv(vars());
    const meta = runMeta("completed");
    await publishRunEvent(env, meta);
    const { env: without } = eventEnv({});
    const result = await consume(without, queue.sent);
    expect(result.acked).toHaveLength(1);
    const [event] = await eventsOf(env, meta.request.runId);
    expect(event?.deliveries[0]).toMatchObject({
      state: "dead",
      attempts: 0,
      lastError: "destination no longer configured",
    });
    expect(await hooks.received(RECEIVER)).toEqual([]);
  });

  it("does nothing without a destination, for a status with no event, or when the queue fails", async () => {
    const none = eventEnv({});
    const meta = runMeta("failed");
    await publishRunEvent(none.env, meta);
    expect(none.queue.sent).toEqual([]);
    expect(await eventsOf(none.env, meta.request.runId)).toEqual([]);

    const { env, queue } = eventEnv(vars());
    await publishRunEvent(env, runMeta("running"));
    await publishRunEvent(env, runMeta("dry_run"));
    expect(queue.sent).toEqual([]);

    const broken = {
      ...env,
      DELIVERIES: {
        sendBatch: async () => {
          throw new Error(`queue down ${hookUrl(RECEIVER)}`);
        },
      },
    } as never;
    const lost = runMeta("failed");
    await expect(publishRunEvent(broken, lost)).resolves.toBeUndefined();
    // Nothing lost: the delivery the queue refused is enqueued by the run's EventLog alarm.
    const log = env.EVENTS_LOG.getByName(lost.request.runId);
    expect(await log.unqueuedCount()).toBe(1);
    expect(await runDurableObjectAlarm(log)).toBe(true);
    expect(await log.unqueuedCount()).toBe(0);
  });
});

describe("admin API", () => {
  it("GET /events needs a valid run id; a re-send of an unknown event is 404", async () => {
    const { env } = eventEnv(vars());
    const bad = await adminWith(env, "/events?runId=nope");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("bad_request");
    expect((await adminWith(env, "/events")).status).toBe(400);
    const meta = runMeta("failed");
    const res = await adminWith(env, `/runs/${meta.request.runId}/events/evt_${"0".repeat(32)}/resend`, {
      method: "POST",
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });
});
