import { buildApp } from "./app";
import { type Bindings, loadConfig } from "./env";
import { DEAD_LETTER_QUEUE, deadLetterBatch, deliverBatch } from "./events/deliver";
import type { DeliveryMessage } from "./events/types";
import { sweepRuns } from "./offboarding/sweep";
import { auditStore } from "./services";

export { PeopleSeen } from "./admin/suggestions/store";
export { TokenStore } from "./admin/tokens/store";
export { EventLog } from "./events/log";
export { RateGovernor } from "./koodrive/governor/durable";
export { HoldsStore } from "./offboarding/holds";
export { LeaverLock } from "./offboarding/leavers";
export { RunLedger } from "./offboarding/ledger";
export { RunIndex } from "./offboarding/run-index";
export { OffboardingWorkflow } from "./offboarding/workflow";
export { ReplayGuard } from "./sources/replay";
export { ScimDirectory } from "./sources/scim/directory";

const app = buildApp();

/**
 * Worker entry: the Hono app answers HTTP; runs are Workflows (OffboardingWorkflow); the Cron Trigger
 * sweeps for runs that stopped making progress.
 */
export default {
  fetch: app.fetch,
  async scheduled(_controller, env, ctx) {
    const config = loadConfig(env);
    ctx.waitUntil(
      sweepRuns(env, config, auditStore(env.AUDIT, config)).then((report) =>
        console.log(JSON.stringify({ level: "info", msg: "sweep", ...report })),
      ),
    );
  },
  /** The deliveries queue and its dead-letter queue (wrangler.toml; src/events/deliver.ts). */
  async queue(batch, env) {
    const deliveries = batch as MessageBatch<DeliveryMessage>;
    if (batch.queue === DEAD_LETTER_QUEUE) await deadLetterBatch(deliveries, env);
    else await deliverBatch(deliveries, env);
  },
} satisfies ExportedHandler<Bindings>;
