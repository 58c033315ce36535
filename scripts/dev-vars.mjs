// Demo configuration for local runs. These values protect nothing real: they match the simulator's
// demo tenant (simulator/wrangler.toml). Production secrets are set with `wrangler secret put`.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export const SERVICE_URL = "http://127.0.0.1:8787";
export const SIMULATOR_URL = "http://127.0.0.1:8788";

export const DEMO_VARS = {
  KOODRIVE_BASE_URL: SIMULATOR_URL,
  KOODRIVE_APP_ID: "demo-app-id-0000000000000000000000000000000000000000000000000000",
  KOODRIVE_APP_SECRET: "demo-app-secret-change-me",
  KOODRIVE_DIRECTORY_USER_ID: "1505084218764547200",
  HR_WEBHOOK_SECRETS: "whsec_ZGVtby1oci13ZWJob29rLXNlY3JldC1mb3ItbG9jYWwtdXNl",
  ADMIN_TOKEN: "demo-admin-token-change-me",
  OKTA_EVENT_HOOK_SECRETS: "demo-okta-hook-secret-change-me",
  SCIM_BEARER_TOKENS: "demo-scim-token-change-me",
};
export const SIM_ADMIN_TOKEN = "demo-sim-admin-token";

/** Parses a .dev.vars file (KEY=value lines, optional quotes). */
export function readDevVars(path = ".dev.vars") {
  if (!existsSync(path)) return {};
  const out = {};
  for (const line of readFileSync(path, "utf8").split(/\r?\n/)) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*)\s*$/.exec(line);
    if (m) out[m[1]] = m[2].replace(/^"(.*)"$/, "$1");
  }
  return out;
}

/** Writes .dev.vars with the demo values when it does not exist; returns the values in effect. */
export function ensureDevVars(path = ".dev.vars") {
  if (!existsSync(path)) {
    const body = Object.entries(DEMO_VARS)
      .map(([k, v]) => `${k}="${v}"`)
      .join("\n");
    writeFileSync(
      path,
      `# Local demo configuration written by npm start. Edit freely; never commit real secrets.\n${body}\n`,
    );
  }
  return { ...DEMO_VARS, ...readDevVars(path) };
}
