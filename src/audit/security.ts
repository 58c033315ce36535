import type { Context } from "hono";
import type { AppEnv, Bindings } from "../env";
import { clientIp } from "../http";
import type { AuditStore } from "./store";

/** Whether every key is still within its limit (each call counts against its key, as the binding does). */
async function withinLimits(limiter: RateLimit, keys: readonly string[]): Promise<boolean> {
  for (const key of keys) if (!(await limiter.limit({ key })).success) return false;
  return true;
}

/**
 * Records a rejected request (forged, stale, unauthenticated) as a security audit record: source, reason,
 * time and client IP, nothing from the request's credentials. Rate-limited per source+IP and per source
 * (Workers Rate Limiting binding) so a flood cannot fill KV; what is dropped is still counted in the log.
 */
export async function recordRejection<E extends AppEnv>(
  c: Context<E>,
  source: string,
  reason: string,
  eventId?: string,
): Promise<void> {
  const ip = clientIp(c);
  const allowed = await withinLimits(c.env.SECURITY_AUDIT_LIMITER, [`${source}:${ip}`, `${source}:*`]);
  console.warn(
    JSON.stringify({
      level: "warn",
      msg: "request rejected",
      source,
      reason,
      ip,
      requestId: c.var.requestId,
      audited: allowed,
    }),
  );
  if (!allowed) return;
  await c.var.audit.write({
    type: "request.rejected",
    actor: `source:${source}`,
    source,
    reason,
    clientIp: ip,
    requestId: c.var.requestId,
    ...(eventId ? { eventId: eventId.slice(0, 200) } : {}),
  });
}

/** A chat user who was refused a command, as the chat source verified them. */
export interface ChatRefusal {
  source: string;
  /** The platform's user id (Slack `team:user`, Teams object id): the limiter's key. */
  user: string;
  /** Recorded as the actor (`slack:<team>:<user> (<name>)`). */
  actor: string;
  requestId: string;
  reason: string;
}

/**
 * Records a chat user's refused command (not an operator). The request was signed by the chat platform, so
 * it has its own budget, per source and user (`CHAT_REFUSAL_LIMITER`), apart from the one that records
 * forged requests: a colleague trying again is on record, but a hundred tries (or replays) are not a
 * hundred records (issue 8, finding 3). What is dropped is counted in the log.
 */
export async function recordChatRefusal(
  env: Bindings,
  audit: AuditStore,
  refusal: ChatRefusal,
): Promise<void> {
  const allowed = await withinLimits(env.CHAT_REFUSAL_LIMITER, [`${refusal.source}:${refusal.user}`]);
  console.warn(
    JSON.stringify({
      level: "warn",
      msg: "chat command refused",
      source: refusal.source,
      reason: refusal.reason,
      requestId: refusal.requestId,
      audited: allowed,
    }),
  );
  if (!allowed) return;
  await audit.write({
    type: "request.rejected",
    actor: refusal.actor,
    source: refusal.source,
    requestId: refusal.requestId,
    reason: refusal.reason,
  });
}
