/**
 * Teams outgoing webhooks sign the body: `Authorization: HMAC <base64 HMAC-SHA256 of the body>` keyed with
 * the base64-decoded security token [webhook-sources.md]. The signature has no time and no nonce of its
 * own, so a captured activity would stay valid forever; what is signed with it, though, is the activity's
 * `timestamp` and `id`. So: the HMAC first (constant time, `crypto.subtle.verify`), then the signed
 * `timestamp` must be within TEAMS_TOLERANCE_MS of our clock either way, and the route remembers the
 * `id` (ReplayGuard) to answer a replay inside that window as a duplicate (issue 8, finding 3). Pure: the
 * clock is injected.
 * @see https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-outgoing-webhook
 */
import type { Verdict } from "../../auth";
import { base64ToBytes } from "../../bytes";

/**
 * How far the activity's signed `timestamp` may be from our clock, either way: five minutes, the window
 * Slack and the Standard Webhooks libraries use (webhook-sources.md). Teams posts the activity as the
 * message is sent, within its 5-second reply deadline, so a genuine activity is seconds old.
 */
export const TEAMS_TOLERANCE_MS = 5 * 60_000;
/** An activity id longer than this is not Teams' (they are short; the schema caps `id` at 200 too). */
export const MAX_ACTIVITY_ID_LENGTH = 200;
/** HMAC-SHA256 is 32 bytes. */
const MAC_BYTES = 32;

export type TeamsVerifyFailure =
  | "missing_signature"
  | "bad_signature"
  | "unreadable_activity"
  | "missing_activity_id"
  | "missing_timestamp"
  | "stale_timestamp";

/** What a verified activity establishes: its id (for replay detection) and when Teams says it was sent. */
export interface TeamsVerified {
  activityId: string;
  /** The activity's `conversation.id` ("" when absent): activity ids are unique within a conversation. */
  conversationId: string;
  /** The activity's signed `timestamp`, epoch milliseconds. */
  sentAt: number;
}

/** ISO 8601 with a zone, as Bot Framework activities carry it (`2026-11-25T09:00:00.1234567Z`). */
const ISO = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Epoch ms of an ISO timestamp with a zone; null for anything else (sub-millisecond digits are dropped). */
export function parseActivityTime(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const m = ISO.exec(value);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}.${(m[2] ?? "").padEnd(3, "0").slice(0, 3)}${m[3]}`);
  return Number.isFinite(ms) ? ms : null;
}

async function signedByAny(mac: Uint8Array, body: Uint8Array, tokens: readonly string[]): Promise<boolean> {
  for (const token of tokens) {
    const raw = base64ToBytes(token);
    if (!raw || raw.length === 0) continue;
    const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
      "verify",
    ]);
    if (await crypto.subtle.verify("HMAC", key, mac, body)) return true;
  }
  return false;
}

/** The `id` and `timestamp` of a signed activity, read only after its HMAC is verified. */
function signedFacts(
  rawBody: Uint8Array,
): { id?: unknown; timestamp?: unknown; conversation?: { id?: unknown } } | null {
  try {
    const value: unknown = JSON.parse(
      new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(rawBody),
    );
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** Verifies a Teams activity: HMAC with any configured token (two while switching), then its freshness. */
export async function verifyTeamsActivity(
  rawBody: Uint8Array,
  headers: Headers,
  tokens: readonly string[],
  now: number,
): Promise<Verdict<TeamsVerified>> {
  const header = headers.get("authorization");
  if (!header) return { ok: false, reason: "missing_signature" };
  const m = /^HMAC ([A-Za-z0-9+/]+={0,2})$/.exec(header);
  const mac = m?.[1] ? base64ToBytes(m[1]) : null;
  if (mac?.length !== MAC_BYTES || !(await signedByAny(mac, rawBody, tokens))) {
    return { ok: false, reason: "bad_signature" };
  }
  const activity = signedFacts(rawBody);
  if (!activity) return { ok: false, reason: "unreadable_activity" };
  const id = activity.id;
  if (typeof id !== "string" || id === "" || id.length > MAX_ACTIVITY_ID_LENGTH) {
    return { ok: false, reason: "missing_activity_id" };
  }
  const sentAt = parseActivityTime(activity.timestamp);
  if (sentAt === null) return { ok: false, reason: "missing_timestamp", eventId: id };
  if (Math.abs(now - sentAt) > TEAMS_TOLERANCE_MS)
    return { ok: false, reason: "stale_timestamp", eventId: id };
  const conversation = activity.conversation?.id;
  const conversationId =
    typeof conversation === "string" ? conversation.slice(0, MAX_ACTIVITY_ID_LENGTH * 2) : "";
  return { ok: true, activityId: id, conversationId, sentAt };
}
