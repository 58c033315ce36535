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
  // A var, not a secret: .dev.vars overrides wrangler.toml's 15 so that locally a run whose `wrangler dev`
  // was killed is picked up by the sweeper within about two minutes (docs/operations.md).
  STUCK_RUN_MINUTES: "1",
  // The console's identity without Cloudflare Access: role admin, recorded as `local:<e-mail>`. Honoured only
  // on 127.0.0.1 / localhost / ::1 and only while ACCESS_TEAM_DOMAIN is unset (docs/security.md).
  CONSOLE_LOCAL_IDENTITY: "local-admin@example.com",
  // Locally every action may be asked for (`npm run demo -- --actions ...`); production's default is
  // revoke_shares alone. The watch checks again after 2 and 10 minutes (production: 1h,24h,7d).
  OFFBOARDING_ACTIONS: "revoke_shares,handover,block_login,watch",
  WATCH_AFTER: "2m,10m",
  // Runs started through the admin API (source `api`) wait for a second operator's approval, so
  // `npm run demo -- --approval` shows the gate; HR, chat and console runs go straight on.
  APPROVAL_REQUIRED: "api",
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

const HEADER = "# Local demo configuration written by npm start. Edit freely; never commit real secrets.";

/**
 * Writes .dev.vars with the demo values when it does not exist. A .dev.vars that npm start wrote earlier
 * gets the demo values of settings added since (e.g. a new source's secret) appended; values already there
 * are never changed, and a file written by hand is left alone. Returns the values in effect.
 */
export function ensureDevVars(path = ".dev.vars") {
  const line = ([k, v]) => `${k}="${v}"`;
  if (!existsSync(path)) {
    writeFileSync(path, `${HEADER}\n${Object.entries(DEMO_VARS).map(line).join("\n")}\n`);
  } else {
    const text = readFileSync(path, "utf8");
    const current = readDevVars(path);
    const missing = Object.entries(DEMO_VARS).filter(([k]) => !(k in current));
    if (text.startsWith(HEADER) && missing.length > 0) {
      writeFileSync(path, `${text.endsWith("\n") ? text : `${text}\n`}${missing.map(line).join("\n")}\n`);
      console.log(`.dev.vars: added demo values for ${missing.map(([k]) => k).join(", ")}`);
    }
  }
  return { ...DEMO_VARS, ...readDevVars(path) };
}
