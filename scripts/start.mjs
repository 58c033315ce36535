#!/usr/bin/env node
// `npm start`: the KooDrive simulator on 127.0.0.1:8788 (seeded with the demo tenant) and the service on
// 127.0.0.1:8787 talking to it over HTTP, exactly as it would talk to KooDrive. Ctrl-C stops both.
import { spawn } from "node:child_process";
import { ensureDevVars, SERVICE_URL, SIM_ADMIN_TOKEN, SIMULATOR_URL } from "./dev-vars.mjs";

const vars = ensureDevVars();
// Where local state (KV, Durable Objects, Workflows) persists between starts; the browser test uses its own.
const STATE_DIR = process.env.KDO_STATE_DIR ?? ".wrangler/state";
const children = [];

/**
 * Miniflare never fires Cron Triggers (wrangler dev says so), so npm start calls the scheduled handler
 * itself: the sweeper runs every minute here instead of every 5 minutes on Cloudflare.
 */
const LOCAL_SWEEP_MS = 60_000;
const SWEEP_URL = `${SERVICE_URL}/cdn-cgi/local/scheduled?cron=${encodeURIComponent("*/5 * * * *")}`;

function run(name, args) {
  const child = spawn("wrangler", args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  const prefix = (line) => (line ? `[${name}] ${line}` : line);
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => process.stdout.write(chunk.split("\n").map(prefix).join("\n")));
  }
  child.on("exit", (code) => {
    console.log(`[${name}] exited with code ${code}`);
    shutdown(code ?? 1);
  });
  children.push(child);
  return child;
}

let stopping = false;
function shutdown(code) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  setTimeout(() => process.exit(code), 500);
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

async function waitFor(url, init, what, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, init);
      if (res.ok) return res;
      if (res.status === 503) {
        // Up, but a setting is wrong: the admin token (if it is not the broken one) gets the details.
        const detail = await fetch(url, { headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}` } });
        const { error } = await detail.json();
        throw new Error(`${what} is misconfigured (.dev.vars): ${error?.message ?? "see its log above"}`);
      }
    } catch (err) {
      if (String(err).includes("misconfigured")) throw err;
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${what} did not start within ${timeoutMs / 1000} s (${url})`);
}

const common = ["--ip", "127.0.0.1", "--show-interactive-dev-session=false"];
run("simulator", [
  "dev",
  "-c",
  "simulator/wrangler.toml",
  "--port",
  "8788",
  "--inspector-port",
  "9230",
  "--persist-to",
  `${STATE_DIR}/simulator`,
  ...common,
]);
run("service", [
  "dev",
  "--port",
  "8787",
  "--inspector-port",
  "9229",
  "--persist-to",
  `${STATE_DIR}/service`,
  ...common,
]);

try {
  const auth = { authorization: `Bearer ${SIM_ADMIN_TOKEN}` };
  await waitFor(`${SIMULATOR_URL}/__sim/stats`, { headers: auth }, "the simulator");
  const seeded = await (
    await fetch(`${SIMULATOR_URL}/__sim/seed`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ demo: true }),
    })
  ).json();
  const health = await (await waitFor(`${SERVICE_URL}/healthz`, {}, "the service")).json();
  // The identity map is how a leaver is found (a name alone resolves no one: RESOLVE_BY_NAME=off): the
  // demo tenant's people get their e-mail (first.last@example.com), as an admin would load from HR.
  const identities = (seeded.users ?? []).map((u) => ({
    email: `${u.name.toLowerCase().replace(/\s+/g, ".")}@example.com`,
    koodriveUserId: u.userId,
    name: u.name,
  }));
  const mapped = await fetch(`${SERVICE_URL}/identities`, {
    method: "PUT",
    headers: { authorization: `Bearer ${vars.ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ identities }),
  });
  if (!mapped.ok) throw new Error(`loading the demo identity map failed: HTTP ${mapped.status}`);
  setInterval(() => {
    fetch(SWEEP_URL).catch(() => {
      // the service is restarting; the next tick tries again
    });
  }, LOCAL_SWEEP_MS).unref();
  const users = identities
    .map(
      (i, n) =>
        `    ${i.koodriveUserId}  ${i.name.padEnd(16)} ${i.email.padEnd(28)} ${seeded.users[n].shareCount} share(s)`,
    )
    .join("\n");
  console.log(`
KooDrive Offboard ${health.version} is running.

  console    ${SERVICE_URL}/console   (signed in as the local identity ${vars.CONSOLE_LOCAL_IDENTITY ?? "(not set: add CONSOLE_LOCAL_IDENTITY to .dev.vars)"}, admin)
  service    ${SERVICE_URL}   (GET /healthz, POST /webhooks/hr, /webhooks/okta, /scim/v2, admin API)
  simulator  ${SIMULATOR_URL}   (KooDrive stand-in; control plane under /__sim/, token ${SIM_ADMIN_TOKEN})

  Demo tenant (KooDrive id, name, e-mail in the identity map, shares):
${users}

  Demo secrets (from .dev.vars; local only):
    ADMIN_TOKEN              ${vars.ADMIN_TOKEN}
    HR_WEBHOOK_SECRETS       ${vars.HR_WEBHOOK_SECRETS}
    OKTA_EVENT_HOOK_SECRETS  ${vars.OKTA_EVENT_HOOK_SECRETS ?? "(not set: /webhooks/okta is off)"}
    SCIM_BEARER_TOKENS       ${vars.SCIM_BEARER_TOKENS ?? "(not set: /scim/v2 is off)"}

  Sweeper: every minute (Cron Triggers do not fire locally); a run silent for ${vars.STUCK_RUN_MINUTES ?? 15} min is restarted.

  Try it:  npm run demo          (signed HR event for Dana Leaver, then the run's result)
           curl -H "Authorization: Bearer ${vars.ADMIN_TOKEN}" ${SERVICE_URL}/audit
`);
} catch (err) {
  console.error(String(err));
  shutdown(1);
}
