/**
 * KooDrive simulator Worker: every request goes to one Durable Object that holds the whole tenant.
 * @see ../../../shared/koodrive-api.md
 */
import { type SimEnv, Tenant } from "./tenant";

export type { SimEnv };
export { Tenant };

/** Name of the single tenant instance. */
const TENANT_NAME = "default";

export default {
  async fetch(request: Request, env: SimEnv): Promise<Response> {
    return env.TENANT.getByName(TENANT_NAME).fetch(request);
  },
} satisfies ExportedHandler<SimEnv>;
