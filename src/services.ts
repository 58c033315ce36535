import { AuditStore } from "./audit/store";
import type { Config } from "./env";
import { KooDriveClient } from "./koodrive/client";
import { TRACE_ID_LENGTH } from "./koodrive/signer";

/** The KooDrive client for this deployment; `correlation` (e.g. a run id) becomes a stable X-Traceid. */
export function koodriveClient(config: Config, correlation?: string): KooDriveClient {
  return new KooDriveClient({
    baseUrl: config.KOODRIVE_BASE_URL,
    appId: config.KOODRIVE_APP_ID,
    appSecret: config.KOODRIVE_APP_SECRET,
    baseDelayMs: config.KOODRIVE_RETRY_BASE_MS,
    ...(correlation ? { traceId: traceIdFor(correlation) } : {}),
  });
}

export function auditStore(kv: KVNamespace, config: Config): AuditStore {
  return new AuditStore(kv, config.AUDIT_RETENTION_DAYS);
}

/** A 58-character X-Traceid that starts with the correlation id (readable in KooDrive's logs), zero padded. */
export function traceIdFor(correlation: string): string {
  return correlation
    .replace(/[^A-Za-z0-9-]/g, "")
    .slice(0, TRACE_ID_LENGTH)
    .padEnd(TRACE_ID_LENGTH, "0");
}
