import { sha256Hex } from "../bytes";
import type { Counts, RunMeta } from "../offboarding/types";
import type { EventType, RunEvent } from "./types";

/** The longest `detail` an event carries (a run's detail is a sentence; a channel message shows it whole). */
export const MAX_EVENT_DETAIL = 1000;

/**
 * The event's id: stable for one run, attempt and type, so a replayed Workflow step publishes the same
 * event (recorded once) and a receiver can dedupe on `webhook-id` (docs/events.md "Ids").
 */
export async function eventIdOf(runId: string, attempt: number, type: EventType): Promise<string> {
  return `evt_${(await sha256Hex(`${runId}|${attempt}|${type}`)).slice(0, 32)}`;
}

/** Links to the run: its admin API URL and console page (absolute with PUBLIC_BASE_URL, else the API path). */
export function linksOf(runId: string, publicBaseUrl: string): RunEvent["data"]["links"] {
  const id = encodeURIComponent(runId);
  return publicBaseUrl
    ? { api: `${publicBaseUrl}/runs/${id}`, console: `${publicBaseUrl}/console/runs/${id}` }
    : { api: `/runs/${id}` };
}

/** The event a run's state change publishes (the body every outbound receiver gets, byte for byte). */
export function buildEvent(
  id: string,
  type: EventType,
  meta: RunMeta,
  publicBaseUrl: string,
  counts?: Counts,
  now = new Date(),
): RunEvent {
  const { request } = meta;
  const subject: RunEvent["data"]["subject"] = { hrId: request.subject.hrId };
  if (request.subject.email) subject.email = request.subject.email;
  if (request.subject.name) subject.name = request.subject.name;
  const koodriveUserId = meta.koodriveUserId ?? request.subject.koodriveUserId;
  if (koodriveUserId) subject.koodriveUserId = koodriveUserId;
  const data: RunEvent["data"] = {
    runId: request.runId,
    status: meta.status,
    source: request.source,
    attempt: meta.attempt,
    subject,
    links: linksOf(request.runId, publicBaseUrl),
  };
  if (counts) data.counts = counts;
  if (meta.detail) data.detail = meta.detail.slice(0, MAX_EVENT_DETAIL);
  return { type, id, timestamp: now.toISOString(), data };
}
