import type { Context } from "hono";
import type { AppEnv } from "../env";
import { clientIp } from "../http";

/**
 * Records a rejected request (forged, stale, unauthenticated) as a security audit record: source, reason,
 * time and client IP, nothing from the request's credentials. Rate-limited per source+IP and per source
 * (Workers Rate Limiting binding) so a flood cannot fill KV; what is dropped is still counted in the log.
 */
export async function recordRejection(
  c: Context<AppEnv>,
  source: string,
  reason: string,
  eventId?: string,
): Promise<void> {
  const ip = clientIp(c);
  const limiter = c.env.SECURITY_AUDIT_LIMITER;
  const allowed =
    (await limiter.limit({ key: `${source}:${ip}` })).success &&
    (await limiter.limit({ key: `${source}:*` })).success;
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
