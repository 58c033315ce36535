import { buildApp } from "./app";

export { HoldsStore } from "./offboarding/holds";
export { RunLedger } from "./offboarding/ledger";
export { OffboardingWorkflow } from "./offboarding/workflow";

const app = buildApp();

/** Worker entry: the Hono app answers HTTP; runs are Workflows (OffboardingWorkflow). */
export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
