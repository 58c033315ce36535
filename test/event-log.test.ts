/**
 * The EventLog's retention and attempt history (docs/events.md "Retention" and "Seeing and re-sending
 * deliveries"). Time is moved by rewriting the stored timestamps of one run's log (never a fake clock, which
 * would reach every other Durable Object), then the log's own alarm is run with `runDurableObjectAlarm`.
 */

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { MAX_ATTEMPTS_KEPT } from "../src/events/log";
import { publishRunEvent } from "../src/events/publish";
import {
  adminWith,
  consume,
  DEAD_LETTER_QUEUE,
  eventEnv,
  eventsOf,
  hookUrl,
  OUTBOUND_SECRET,
  runMeta,
} from "./helpers/events";
import { hooks } from "./helpers/sim";

const RECEIVER = "event-log-a";
const OTHER = "event-log-b";
const DAY_MS = 86_400_000;
/** AUDIT_RETENTION_DAYS as the tests run (wrangler.toml; production's default too). */
const RETENTION_DAYS = Number(env.AUDIT_RETENTION_DAYS);

const vars = (urls = hookUrl(RECEIVER)) => ({
  OUTBOUND_WEBHOOK_URLS: urls,
  OUTBOUND_WEBHOOK_SECRET: OUTBOUND_SECRET,
});

beforeEach(async () => {
  await hooks.clear(RECEIVER);
  await hooks.clear(OTHER);
});

const logOf = (runId: string) => env.EVENTS_LOG.getByName(runId);

/** Moves the stored times of these events (recorded, each delivery's change, each attempt) `days` back. */
async function age(runId: string, eventIds: string[], days: number): Promise<void> {
  await runInDurableObject(logOf(runId), (_instance, state) => {
    const sql = state.storage.sql;
    const back = (iso: unknown) => new Date(Date.parse(String(iso)) - days * DAY_MS).toISOString();
    for (const id of eventIds) {
      for (const e of sql.exec("SELECT created_at FROM events WHERE id = ?", id))
        sql.exec("UPDATE events SET created_at = ? WHERE id = ?", back(e.created_at), id);
      for (const d of sql.exec("SELECT dest, updated_at FROM deliveries WHERE event_id = ?", id))
        sql.exec(
          "UPDATE deliveries SET updated_at = ? WHERE event_id = ? AND dest = ?",
          back(d.updated_at),
          id,
          d.dest,
        );
      for (const a of sql.exec("SELECT dest, n, at FROM attempts WHERE event_id = ?", id))
        sql.exec(
          "UPDATE attempts SET at = ? WHERE event_id = ? AND dest = ? AND n = ?",
          back(a.at),
          id,
          a.dest,
          a.n,
        );
    }
  });
}

/** What the log's storage holds, read inside the object: its own tables and rows, and its alarm. */
async function stored(runId: string) {
  return runInDurableObject(logOf(runId), async (_instance, state) => {
    const sql = state.storage.sql;
    const tables = sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .toArray()
      .map((t) => t.name)
      .filter((name) => !name.startsWith("_cf") && !name.startsWith("sqlite"));
    const ids = (table: string) =>
      tables.includes(table)
        ? sql
            .exec<{ id: string }>(`SELECT DISTINCT event_id AS id FROM ${table} ORDER BY id`)
            .toArray()
            .map((r) => r.id)
        : [];
    return {
      tables,
      deliveries: ids("deliveries"),
      attempts: ids("attempts"),
      unqueued: ids("unqueued"),
      alarm: await state.storage.getAlarm(),
      keys: (await state.storage.list()).size,
    };
  });
}

describe("retention", () => {
  it("purges events delivered or given up more than AUDIT_RETENTION_DAYS ago; keeps a pending one and recent ones", async () => {
    const { env: e, queue } = eventEnv(vars());
    const meta = runMeta("accepted");
    const runId = meta.request.runId;
    await publishRunEvent(e, meta); // delivered long ago: purged
    await publishRunEvent(e, { ...meta, status: "failed" }); // dead long ago: purged
    await publishRunEvent(e, { ...meta, status: "failed", attempt: 2 }); // still retried: kept however old
    await publishRunEvent(e, { ...meta, status: "completed", attempt: 2 }); // delivered within the retention
    const [delivered, dead, pending, recent] = queue.sent;
    if (!delivered || !dead || !pending || !recent) throw new Error("four deliveries expected");
    await consume(e, [delivered]);
    await hooks.fail(RECEIVER, 2);
    await consume(e, [dead], 8); // the last attempt fails; the queue moves it to the dead letter
    await consume(e, [dead], 1, DEAD_LETTER_QUEUE);
    await consume(e, [pending]); // fails: the queue will try it again
    await consume(e, [recent]);
    const states = async () =>
      Object.fromEntries((await eventsOf(e, runId)).map((x) => [x.id, x.deliveries[0]?.state]));
    expect(await states()).toEqual({
      [delivered.eventId]: "delivered",
      [dead.eventId]: "dead",
      [pending.eventId]: "pending",
      [recent.eventId]: "delivered",
    });

    await age(runId, [delivered.eventId, dead.eventId, pending.eventId], RETENTION_DAYS + 1);
    await age(runId, [recent.eventId], RETENTION_DAYS - 1);
    expect(await runDurableObjectAlarm(logOf(runId))).toBe(true);

    expect(await states()).toEqual({ [pending.eventId]: "pending", [recent.eventId]: "delivered" });
    const after = await stored(runId);
    const kept = [pending.eventId, recent.eventId].sort();
    expect(after.deliveries).toEqual(kept);
    expect(after.attempts).toEqual(kept);
    expect(after.unqueued).toEqual([]);
    // The alarm comes back when the recent event passes the retention (in about a day), not before.
    expect((after.alarm ?? 0) - Date.now()).toBeGreaterThan(0.9 * DAY_MS);
    expect((after.alarm ?? 0) - Date.now()).toBeLessThan(1.1 * DAY_MS);
    // A purged event is gone for a re-send too.
    const res = await adminWith(e, `/runs/${runId}/events/${delivered.eventId}/resend`, { method: "POST" });
    expect(res.status).toBe(404);
  });

  it("deletes all of the log's storage once its last event is purged; a read creates none; a new event is recorded", async () => {
    const { env: e, queue } = eventEnv(vars());
    const meta = runMeta("completed");
    const runId = meta.request.runId;
    await publishRunEvent(e, meta);
    await consume(e, queue.sent);
    expect((await stored(runId)).tables).toEqual(["attempts", "deliveries", "events", "unqueued"]);

    await age(runId, [queue.sent[0]?.eventId ?? ""], RETENTION_DAYS + 1);
    expect(await runDurableObjectAlarm(logOf(runId))).toBe(true);
    const empty = { tables: [], deliveries: [], attempts: [], unqueued: [], alarm: null, keys: 0 };
    expect(await stored(runId)).toEqual(empty);

    expect(await eventsOf(e, runId)).toEqual([]);
    expect(await stored(runId)).toEqual(empty);

    queue.sent.length = 0;
    await publishRunEvent(e, { ...meta, attempt: 2 });
    await consume(e, queue.sent);
    const [event] = await eventsOf(e, runId);
    expect(event?.deliveries).toMatchObject([{ dest: "outbound#1", state: "delivered", attempts: 1 }]);
  });
});

describe("attempt history", () => {
  it("keeps each destination's attempts in order, the newest MAX_ATTEMPTS_KEPT, with no URL, secret or answer body", async () => {
    const { env: e, queue } = eventEnv(vars(`${hookUrl(RECEIVER)},${hookUrl(OTHER)}`));
    const meta = runMeta("failed");
    await publishRunEvent(e, meta);
    const [first, second] = queue.sent;
    if (!first || !second) throw new Error("two deliveries expected");
    const failures = MAX_ATTEMPTS_KEPT + 2;
    await hooks.fail(RECEIVER, failures);
    await hooks.fail(OTHER, 1);
    await consume(e, [second], 1);
    for (let n = 1; n <= failures + 1; n++) await consume(e, [first], n);
    await consume(e, [second], 2);

    const res = await adminWith(e, `/events?runId=${meta.request.runId}`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("hooks.example.test");
    expect(text).not.toContain(OUTBOUND_SECRET.slice("whsec_".length));
    expect(text).not.toContain("receiver failing"); // the receiver's 500 body
    const [event] = (JSON.parse(text) as { events: Awaited<ReturnType<typeof eventsOf>> }).events;
    // The existing fields stay as they were.
    expect(event?.deliveries).toMatchObject([
      { dest: "outbound#1", state: "delivered", attempts: failures + 1, lastStatus: 200, lastError: null },
      { dest: "outbound#2", state: "delivered", attempts: 2, lastStatus: 200, lastError: null },
    ]);

    const attempts = event?.attempts ?? [];
    const of = (dest: string) =>
      attempts.filter((a) => a.dest === dest).map((a) => [a.attempt, a.status, a.error]);
    const oldestKept = failures + 1 - MAX_ATTEMPTS_KEPT + 1;
    expect(of("outbound#1")).toEqual(
      Array.from({ length: MAX_ATTEMPTS_KEPT }, (_, i) => {
        const n = oldestKept + i;
        return [n, n <= failures ? 500 : 200, null];
      }),
    );
    expect(of("outbound#2")).toEqual([
      [1, 500, null],
      [2, 200, null],
    ]);
    const times = attempts.map((a) => a.at);
    expect([...times].sort()).toEqual(times);
    for (const a of attempts) {
      expect(Object.keys(a).sort()).toEqual(["at", "attempt", "dest", "durationMs", "error", "status"]);
      expect(new Date(a.at).toISOString()).toBe(a.at);
      expect(Number.isInteger(a.durationMs) && a.durationMs >= 0).toBe(true);
    }
    // Stored as shown: nothing else (no URL, no body) is kept in the log's attempts table either.
    const raw = await runInDurableObject(logOf(meta.request.runId), (_instance, state) =>
      JSON.stringify(state.storage.sql.exec("SELECT * FROM attempts").toArray()),
    );
    expect(raw).not.toContain("hooks.example.test");
    expect(raw).not.toContain("receiver failing");
    expect(JSON.parse(raw)).toHaveLength(MAX_ATTEMPTS_KEPT + 2);
  });
});
