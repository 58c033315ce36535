import { type Bindings, ConfigError, checkConfig } from "../env";
import type { Counts, RunMeta } from "../offboarding/types";
import { anyDestination, destinationsFor } from "./destinations";
import { buildEvent, eventIdOf } from "./event";
import { type DeliveryMessage, eventTypeOf } from "./types";

/**
 * Publishes a run's state change (issue 11, docs/events.md): records the event in the run's EventLog and
 * enqueues one delivery per destination (outbound receivers always; Slack and Teams channels for a status
 * in NOTIFY_ON). Idempotent: the event id is derived from run, attempt and type, and only a newly recorded
 * event is enqueued, so a replayed Workflow step sends nothing twice. Never throws: delivery is best effort
 * and must never fail a run (issue 11 "Delivery failures never fail a run"); the warning names no URL.
 * `counts` (the ledger's share counts) is optional: the event carries them when given. `channels: false`
 * sends the outbound event only (the layoff guard tells the channels once per burst).
 */
export async function publishRunEvent(
  env: Bindings,
  meta: RunMeta,
  counts?: Counts,
  { channels = true }: { channels?: boolean } = {},
): Promise<void> {
  try {
    const type = eventTypeOf(meta.status);
    if (!type) return;
    const config = checkConfig(env);
    if (config instanceof ConfigError) throw config;
    if (!anyDestination(config)) return;
    const dests = destinationsFor(config, meta.status)
      .filter((d) => channels || d.label.startsWith("outbound#"))
      .map((d) => d.label);
    if (dests.length === 0) return;
    const runId = meta.request.runId;
    const id = await eventIdOf(runId, meta.attempt, type);
    const event = buildEvent(id, type, meta, config.PUBLIC_BASE_URL, counts);
    const log = env.EVENTS_LOG.getByName(runId);
    const fresh = await log.record(id, type, JSON.stringify(event), dests);
    if (fresh.length === 0) return;
    await env.DELIVERIES.sendBatch(
      fresh.map((dest) => ({ body: { runId, eventId: id, dest } satisfies DeliveryMessage })),
    );
    await log.queued(id, fresh);
  } catch (err) {
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "run event not published",
        runId: meta.request?.runId,
        status: meta.status,
        error:
          err instanceof ConfigError ? "invalid configuration" : err instanceof Error ? err.name : "unknown",
      }),
    );
  }
}
