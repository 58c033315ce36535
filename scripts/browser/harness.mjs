// The real-browser test's plumbing: starts `npm start` (the service and the simulator, demo data) in a
// state directory of its own, drives Debian's Chromium through playwright-core (nothing downloads a
// browser), and fails on any page error, console error, CSP violation or 5xx answer.
import { spawn } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { delimiter, resolve } from "node:path";
import { chromium } from "playwright-core";

export const SERVICE = "http://127.0.0.1:8787";
export const SIMULATOR = "http://127.0.0.1:8788";
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const START_TIMEOUT_MS = 180_000;
/** How long npm start gets to stop (it stops wrangler, which stops workerd) before it is killed. */
const STOP_TIMEOUT_MS = 10_000;

/** Starts `npm start` with a fresh state directory; resolves once it printed that it is running. */
export async function startService(stateDir) {
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  const child = spawn(process.execPath, ["scripts/start.mjs"], {
    stdio: ["ignore", "pipe", "pipe"],
    // start.mjs runs `wrangler`: found on PATH under `npm run`, and here too when this runs under plain node.
    env: {
      ...process.env,
      PATH: `${resolve("node_modules/.bin")}${delimiter}${process.env.PATH ?? ""}`,
      KDO_STATE_DIR: stateDir,
      FORCE_COLOR: "0",
    },
    detached: true,
  });
  let log = "";
  await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`npm start did not come up:\n${log.slice(-4000)}`)),
      START_TIMEOUT_MS,
    );
    const onData = (chunk) => {
      log += chunk;
      if (log.includes("is running.")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.setEncoding("utf8").on("data", onData);
    child.stderr.setEncoding("utf8").on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${log.slice(-4000)}`));
    });
  });
  return {
    log: () => log,
    /** SIGTERM to npm start's whole process group (wrangler, workerd); synchronous, for an exit handler. */
    stop: () => signalGroup(child.pid, "SIGTERM"),
    /** Stops the group and resolves once every process of it is gone (SIGKILL after STOP_TIMEOUT_MS). */
    stopAndWait: async () => {
      signalGroup(child.pid, "SIGTERM");
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      while (signalGroup(child.pid, 0)) {
        if (Date.now() > deadline) {
          signalGroup(child.pid, "SIGKILL");
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Sends `signal` to a process group; false when the group no longer exists (signal 0 only checks). */
function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * A browser page that records every problem: uncaught page errors, console errors (Chromium reports CSP
 * refusals there), `securitypolicyviolation` events, failed requests and 5xx answers.
 */
export async function openBrowser({ width = 1280, height = 900 } = {}) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true });
  const problems = [];
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  const watch = (page) => {
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
    });
    page.on("response", (res) => {
      if (res.status() >= 500) problems.push(`${res.status()} from ${res.url()}`);
    });
  };
  context.on("page", watch);
  const page = await context.newPage();
  return { browser, context, page, problems };
}

/** Throws when anything went wrong in the browser so far. */
export function assertNoProblems(problems, step) {
  if (problems.length > 0) throw new Error(`${step}: ${problems.join("\n")}`);
}
