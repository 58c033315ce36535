#!/usr/bin/env node
// `npm run test:browser`: the console in a real browser (issue 9 "Done when"). Starts `npm start` in a state
// directory of its own, seeds people to suggest, drives Debian's Chromium through every console page (offboard
// Dana Leaver, export, holds, identities upload, tokens), fails on any page error, console error, CSP
// violation or 5xx, and writes the screenshots in docs/console/. Cleans up on success, failure and Ctrl-C.
import { existsSync, statSync, writeFileSync } from "node:fs";
import * as flows from "./browser/flows.mjs";
import { openBrowser, SERVICE, SIMULATOR, startService } from "./browser/harness.mjs";
import { seedUsers, sendHrEvents, waitForRuns, waitForSuggestions } from "./browser/seed.mjs";
import { ensureDevVars, readDevVars } from "./dev-vars.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const STATE_DIR = ".wrangler/browser-test";
/** The phone width the console must stay readable at (issue 9: "readable at 1280 px and at phone width"). */
const PHONE = { width: 375, height: 812 };

/** In order: later steps use what earlier ones made (the run, its id). `BROWSER_STEPS=a,b` runs a subset. */
const STEPS = [
  ["overview and keyboard", flows.overview],
  ["offboard Dana Leaver", flows.offboard],
  ["CSV export", flows.exportCsv],
  ["evidence", flows.evidence],
  ["runs list", flows.runs],
  ["holds", flows.holds],
  ["identities", flows.identities],
  ["API tokens", flows.tokens],
  ["other pages", flows.otherPages],
];

let service;
const browsers = [];
let cleaning;
let interrupted = false;

/**
 * Stops the browser(s) and `npm start` (its whole process group) and waits until they are gone, so that the
 * ports are free for a next run; safe to call more than once.
 */
function cleanup() {
  cleaning ??= (async () => {
    await Promise.allSettled(browsers.map((b) => b.close()));
    await service?.stopAndWait();
  })();
  return cleaning;
}

// Last resort, whatever ends this process (an error in the error path included): npm start's process group
// never outlives the test. Synchronous, as an `exit` handler must be; the browser dies with its pipe.
process.on("exit", () => service?.stop());
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping the browser and npm start`);
    cleanup().finally(() => process.exit(130));
  });
}

async function answers(url) {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

async function main() {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  // Never two instances on the fixed ports: another `npm start` would answer instead of ours.
  for (const url of [`${SERVICE}/healthz`, `${SIMULATOR}/__sim/stats`])
    if (await answers(url))
      throw new Error(`${new URL(url).host} is in use (is \`npm start\` running?): stop it first`);

  const vars = ensureDevVars();
  // The console needs the local identity (a .dev.vars written by hand may lack it), and Access off.
  const local = readDevVars();
  if (!local.CONSOLE_LOCAL_IDENTITY || local.ACCESS_TEAM_DOMAIN)
    throw new Error(
      '.dev.vars must set CONSOLE_LOCAL_IDENTITY (e.g. "local-admin@example.com") and not ACCESS_TEAM_DOMAIN: the test signs in as the local identity',
    );
  const only = process.env.BROWSER_STEPS?.split(",").map((s) => s.trim());
  const started = Date.now();
  console.log(`starting npm start in ${STATE_DIR} ...`);
  service = await startService(STATE_DIR);
  console.log(`up in ${((Date.now() - started) / 1000).toFixed(1)} s; seeding people to suggest and HR runs`);
  const seeded = await seedUsers();
  const hrRuns = await sendHrEvents(vars.HR_WEBHOOK_SECRETS.split(/\s+/)[0]);
  await waitForSuggestions(vars.ADMIN_TOKEN);
  await waitForRuns(vars.ADMIN_TOKEN, hrRuns);

  const desktop = await openBrowser();
  browsers.push(desktop.browser);
  const ctx = { ...desktop, vars, seeded, shots: [] };
  for (const [name, step] of STEPS) {
    if (only && !only.some((o) => name.includes(o))) continue;
    const t = Date.now();
    await step(ctx);
    console.log(`ok  ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  }
  if (ctx.runId) {
    const phone = await openBrowser(PHONE);
    browsers.push(phone.browser);
    await flows.phone({ ...ctx, ...phone });
    console.log("ok  phone width");
  }
  const bytes = ctx.shots.reduce((sum, p) => sum + statSync(p).size, 0);
  console.log(
    `\n${ctx.shots.length} screenshots, ${(bytes / 1024).toFixed(0)} KiB:\n  ${ctx.shots.join("\n  ")}`,
  );
  console.log(`browser test passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** The whole `npm start` output, kept beside the test's state for a look after a failure. */
const LOG_FILE = `${STATE_DIR}/npm-start.log`;

try {
  await main();
  await cleanup();
  process.exit(0);
} catch (err) {
  if (!interrupted) {
    console.error(`\nbrowser test FAILED: ${err?.stack ?? err}`);
    if (service) {
      writeFileSync(LOG_FILE, service.log());
      console.error(`\nlast lines of npm start (all of it in ${LOG_FILE}):\n${service.log().slice(-3000)}`);
    }
  }
  await cleanup();
  process.exit(interrupted ? 130 : 1);
}
