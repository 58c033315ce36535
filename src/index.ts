import { buildApp } from "./app";
import { type Bindings, loadConfig } from "./env";
import { sweepRuns } from "./offboarding/sweep";
import { auditStore } from "./services";

export { PeopleSeen } from "./admin/suggestions/store";

export { TokenStore } from "./admin/tokens/store";
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
} satisfies ExportedHandler<Bindings>;
