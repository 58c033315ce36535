import { type Bindings, type Config, loadConfig } from "../env";
import { slackBody, teamsBody } from "./channels";
import { type Destination, destinationOf } from "./destinations";
import { signedHeaders } from "./sign";
import type { DeliveryMessage, RunEvent } from "./types";

/** The dead-letter queue's name (wrangler.toml); every other batch is the deliveries queue. */
export const DEAD_LETTER_QUEUE = "koodrive-offboard-deliveries-dlq";

/** How long one POST may take before it counts as a failed attempt (then retried with backoff). */
export const DELIVERY_TIMEOUT_MS = 10_000;
/**
 * The delay after the 1st, 2nd, ... failed attempt: the schedule of Svix, the reference Standard Webhooks
 * sender (docs.svix.com "Retry Schedule": immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), which
 * receivers built for Standard Webhooks expect: 8 attempts over about 27.6 hours (wrangler.toml
 * `max_retries = 7`), so a receiver down overnight still gets its events, where 10 s doubling to 10 minutes
 * gave up after 35 minutes. Each delay is under Queues' `delaySeconds` limit (12 h, 43,200 s) and the whole schedule
 * under the queue's message retention (4 days by default) [Cloudflare Queues "Limits"]. docs/events.md
 * "Delivery, retries, dead letters".
 */
export const RETRY_SCHEDULE_SECONDS = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000] as const;
/** The schedule's last delay, for an attempt past its end (Queues moves the message to the dead letter first). */
const RETRY_MAX_SECONDS = 36_000;
/** While the configuration is invalid, a batch waits this long a round (an admin is fixing it; 503s say so). */
export const CONFIG_HOLD_SECONDS = 600;

/** The delay before the next attempt after the `attempts`-th failed one (1-based, as Queues counts). */
export const retryDelaySeconds = (attempts: number): number =>
  RETRY_SCHEDULE_SECONDS[Math.min(Math.max(1, attempts), RETRY_SCHEDULE_SECONDS.length) - 1] ??
  RETRY_MAX_SECONDS;

/** The request for one destination: the signed event, or the channel's message built from it. */
export async function requestFor(
  config: Config,
  dest: Destination,
  payload: string,
  now = new Date(),
): Promise<{ body: string; headers: Record<string, string> }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (dest.kind === "outbound") {
    const event = JSON.parse(payload) as RunEvent;
    const signed = await signedHeaders(
      config.OUTBOUND_WEBHOOK_SECRET,
      event.id,
      Math.floor(now.getTime() / 1000),
      payload,
    );
    return { body: payload, headers: { ...headers, ...signed } };
  }
  const event = JSON.parse(payload) as RunEvent;
  return { body: JSON.stringify(dest.kind === "slack" ? slackBody(event) : teamsBody(event)), headers };
}

/** An error class is a name (`TypeError`, `TimeoutError`), nothing else: anything else is recorded as `error`. */
const ERROR_CLASS = /^[A-Za-z][A-Za-z0-9]{0,39}$/;

/**
 * What an attempt's failure is recorded as: the HTTP status, or the error's class (a timeout, a refused
 * connection). Never the message: fetch errors can quote the URL, a credential.
 */
const errorClass = (err: unknown) =>
  err instanceof Error
    ? err.name === "TimeoutError"
      ? "timeout"
      : ERROR_CLASS.test(err.name)
        ? err.name
        : "error"
    : "error";

type Outcome =
  | { ok: true; status: number; durationMs: number }
  | { ok: false; status?: number; error: string; durationMs: number };

/** One POST, no redirect followed (a receiver must not send our signed event elsewhere), and how long it took. */
async function post(
  url: string,
  request: { body: string; headers: Record<string, string> },
): Promise<Outcome> {
  const started = Date.now();
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: request.headers,
      body: request.body,
      redirect: "manual",
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    const durationMs = Date.now() - started;
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, durationMs };
    return { ok: false, status: res.status, error: `HTTP ${res.status}`, durationMs };
  } catch (err) {
    return { ok: false, error: errorClass(err), durationMs: Date.now() - started };
  }
}

const warn = (msg: string, m: DeliveryMessage, extra: Record<string, unknown> = {}) =>
  console.warn(
    JSON.stringify({ level: "warn", msg, runId: m.runId, eventId: m.eventId, dest: m.dest, ...extra }),
  );

/**
 * The deliveries queue's consumer: one POST per message. A 2xx is delivered (ack); anything else is
 * recorded and retried with backoff; after the queue's max_retries the message goes to the dead-letter
 * queue (wrangler.toml), whose consumer marks it dead.
 */
export async function deliverBatch(batch: MessageBatch<DeliveryMessage>, env: Bindings): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch {
    warn("deliveries held: invalid configuration", { runId: "", eventId: "", dest: "" });
    batch.retryAll({ delaySeconds: CONFIG_HOLD_SECONDS });
    return;
  }
  await Promise.all(batch.messages.map((msg) => deliverOne(msg, env, config)));
}

async function deliverOne(msg: Message<DeliveryMessage>, env: Bindings, config: Config): Promise<void> {
  const m = msg.body;
  try {
    const log = env.EVENTS_LOG.getByName(m.runId);
    const entry = await log.load(m.eventId, m.dest);
    if (entry?.state !== "pending") {
      msg.ack();
      return;
    }
    const dest = destinationOf(config, m.dest);
    if (!dest) {
      await log.markDead(m.eventId, m.dest, "destination no longer configured");
      msg.ack();
      return;
    }
    const outcome = await post(dest.url, await requestFor(config, dest, entry.payload));
    await log.attempt(m.eventId, m.dest, outcome);
    if (outcome.ok) {
      msg.ack();
      return;
    }
    warn("delivery failed, will retry", m, { attempts: msg.attempts, error: outcome.error });
  } catch (err) {
    warn("delivery failed, will retry", m, { attempts: msg.attempts, error: errorClass(err) });
  }
  msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
}

/** The dead-letter queue's consumer: the delivery is given up (the admin API can re-send it). */
export async function deadLetterBatch(batch: MessageBatch<DeliveryMessage>, env: Bindings): Promise<void> {
  await Promise.all(
    batch.messages.map(async (msg) => {
      const m = msg.body;
      try {
        await env.EVENTS_LOG.getByName(m.runId).markDead(m.eventId, m.dest);
        warn("delivery dead-lettered", m);
        msg.ack();
      } catch (err) {
        warn("dead letter not recorded, will retry", m, { error: errorClass(err) });
        msg.retry();
      }
    }),
  );
}
