import { AuditStore } from "./audit/store";
import type { Config } from "./env";
import { type ClientOptions, KooDriveClient } from "./koodrive/client";
import type { RateGovernor } from "./koodrive/governor/durable";
import { GovernedPermits } from "./koodrive/governor/permits";
import { TRACE_ID_LENGTH } from "./koodrive/signer";

/** The KooDrive client for this deployment; `correlation` (e.g. a run id) becomes a stable X-Traceid. */
export function koodriveClient(
  config: Config,
  correlation?: string,
  extra: Pick<ClientOptions, "permits" | "rateLimitWaitMs"> = {},
): KooDriveClient {
  return new KooDriveClient({
    baseUrl: config.KOODRIVE_BASE_URL,
    appId: config.KOODRIVE_APP_ID,
    appSecret: config.KOODRIVE_APP_SECRET,
    baseDelayMs: config.KOODRIVE_RETRY_BASE_MS,
    ...(correlation ? { traceId: traceIdFor(correlation) } : {}),
    ...extra,
  });
}

/**
 * How long one call of a run may spend waiting out 429s (they are not among its attempts): well inside a
 * step's 10-minute timeout (workflow.ts STEP), so a busy tenant slows a run and never fails it by itself.
 */
export const RUN_RATE_LIMIT_WAIT_MS = 5 * 60_000;

/** The rate governor of this deployment's KooDrive app (one per app id). */
export function governorOf(ns: DurableObjectNamespace<RateGovernor>, config: Config) {
  return ns.getByName(config.KOODRIVE_APP_ID);
}

/**
 * The KooDrive client of one run: every call takes a permit from the rate governor, keyed by the run id
 * for fairness (unless KOODRIVE_MAX_RPS is 0), and 429s are waited out instead of counted as attempts.
 * `onGovernorDown` hears, once per client, that the governor failed and the run went on without it.
 * `background`: work that can wait (the run's evidence read), served only when no run waits.
 */
export function runClient(
  ns: DurableObjectNamespace<RateGovernor>,
  config: Config,
  runId: string,
  onGovernorDown: (err: unknown) => void,
  { background = false }: { background?: boolean } = {},
): KooDriveClient {
  const permits =
    config.KOODRIVE_MAX_RPS > 0
      ? new GovernedPermits(
          () => governorOf(ns, config),
          runId,
          config.KOODRIVE_MAX_RPS,
          onGovernorDown,
          undefined,
          background,
        )
      : undefined;
  return koodriveClient(config, runId, { permits, rateLimitWaitMs: RUN_RATE_LIMIT_WAIT_MS });
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
