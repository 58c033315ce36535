import type { Counts, RunStatus } from "../offboarding/types";

/**
 * Outbound event types (issue 11, docs/events.md): one per state change of a run a receiver can act on.
 * `running`, `watching`, `dry_run` and `needs_confirmation` have none (in-between or no-op states).
 */
export const EVENT_TYPES = [
  "run.accepted",
  "run.awaiting_approval",
  "run.completed",
  "run.partial",
  "run.failed",
  "run.unresolved",
  "run.rejected",
  "run.expired",
  "run.withdrawn",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The event type a run status announces; null for the statuses that announce nothing. */
export function eventTypeOf(status: RunStatus): EventType | null {
  const type = `run.${status}`;
  return (EVENT_TYPES as readonly string[]).includes(type) ? (type as EventType) : null;
}

/** The subject of an event: who the run is about (no more than the audit trail records). */
export interface EventSubject {
  hrId: string;
  email?: string;
  name?: string;
  koodriveUserId?: string;
}

/** The JSON body of an outbound event (docs/events.md has its JSON Schema). */
export interface RunEvent {
  type: EventType;
  id: string;
  timestamp: string;
  data: {
    runId: string;
    status: RunStatus;
    source: string;
    attempt: number;
    subject: EventSubject;
    counts?: Counts;
    detail?: string;
    links: { api: string; console?: string };
  };
}

/** Where one delivery goes: `outbound` signed events, or a `slack` / `teams` channel notification. */
export const DESTINATION_KINDS = ["outbound", "slack", "teams"] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

/**
 * A queue message: which event, for which destination. The destination is a label (`outbound#1`, the
 * position in its config list), never the URL: queue messages are visible to whoever can read the queue.
 */
export interface DeliveryMessage {
  runId: string;
  eventId: string;
  dest: string;
}
