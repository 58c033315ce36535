/**
 * The payload as docs/events.md documents it: emitted events are checked against the JSON Schema written in
 * the doc (zod's `fromJSONSchema`), so the doc cannot drift from what is sent.
 */

import { describe, expect, it } from "vitest";
import * as z from "zod";
import eventsDoc from "../docs/events.md?raw";
import { buildEvent, eventIdOf } from "../src/events/event";
import { EVENT_TYPES, eventTypeOf } from "../src/events/types";
import { RUN_STATUSES } from "../src/offboarding/types";
import { runMeta } from "./helpers/events";

/** The ```json block after the "JSON Schema" heading of docs/events.md. */
function documentedSchema(): z.ZodType {
  const after = eventsDoc.slice(eventsDoc.indexOf("### JSON Schema"));
  const block = /```json\n([\s\S]*?)\n```/.exec(after)?.[1];
  if (!block) throw new Error("docs/events.md has no JSON Schema block");
  return z.fromJSONSchema(JSON.parse(block));
}

const COUNTS = {
  planned: 0,
  in_flight: 0,
  cancelled: 34,
  already_gone: 0,
  failed: 2,
  still_active: 0,
  skipped_hold: 0,
  skipped_scope: 0,
  dry_run: 0,
  total: 36,
};

describe("docs/events.md", () => {
  it("every event the service emits matches the documented JSON Schema, with and without counts and links", async () => {
    const schema = documentedSchema();
    const statuses = RUN_STATUSES.filter((s) => eventTypeOf(s) !== null);
    expect(statuses.map((s) => eventTypeOf(s)).sort()).toEqual([...EVENT_TYPES].sort());
    for (const status of statuses)
      for (const [counts, base] of [
        [COUNTS, "https://offboard.example.com"],
        [undefined, ""],
      ] as const) {
        const meta = runMeta(status);
        const type = eventTypeOf(status);
        if (!type) continue;
        const event = buildEvent(await eventIdOf(meta.request.runId, 1, type), type, meta, base, counts);
        const parsed = schema.safeParse(JSON.parse(JSON.stringify(event)));
        expect(parsed.success, `${status}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true);
      }
  });

  it("the documented schema refuses payloads that break it (the check can fail)", async () => {
    const schema = documentedSchema();
    const meta = runMeta("failed");
    const event = JSON.parse(
      JSON.stringify(
        buildEvent(await eventIdOf(meta.request.runId, 1, "run.failed"), "run.failed", meta, "", COUNTS),
      ),
    );
    expect(schema.safeParse(event).success).toBe(true);
    for (const broken of [
      { ...event, type: "run.running" },
      { ...event, id: "msg_1" },
      { ...event, data: { ...event.data, runId: undefined } },
      { ...event, data: { ...event.data, subject: {} } },
    ])
      expect(schema.safeParse(broken).success).toBe(false);
  });
});
